"""Hold reasons of the document steps no other module reaches, against both sandboxes: an invoice billing
another supplier's PO, a PO line that does not exist, a PO number QuickBooks already has for another vendor,
an invoice number the supplier already used, a PO or bill deleted in QuickBooks, and one PO number on two
JAGGAER POs. Each test produces the situation, runs the sync, reads the audit row and the hold, fixes the
cause and checks the record is written exactly once."""

from decimal import Decimal

import pytest

from audit.models import Action, RecordEvent
from sync.models import BillLink, PurchaseOrderLink, VendorLink
from sync.transforms.documents import short_doc_number
from tests.sync.helpers import SUPPLIERS, qbo_writes
from tests.sync.test_purchase_orders import event, hold_of, qbo_one

pytestmark = pytest.mark.django_db

SEGMENTS = {"Account": "5100", "DepartmentCode": "PLANT-2"}     # mapped in the small dataset (PO-88001)
FIRST, SECOND = "C-10001", "C-10008"                             # two suppliers that sync to two vendors


def supplier(company_id: str) -> dict:
    return {"companyId": company_id, "companyName": SUPPLIERS[company_id]["companyName"]}


def po_record(po_id: str, number: str, company_id: str, amounts=("100.00",), status="Issued") -> dict:
    lines = [{"lineNumber": n, "description": f"Part {n}", "quantity": "1", "unitPrice": a, "amount": a,
              "accountingSegments": dict(SEGMENTS)} for n, a in enumerate(amounts, 1)]
    return {"poId": po_id, "poNumber": number, "status": status, "orderDate": "2026-10-01",
            "supplier": supplier(company_id), "currency": "USD",
            "total": {"currency": "USD", "value": str(sum(Decimal(a) for a in amounts))},
            "accountingSegments": dict(SEGMENTS), "lineList": lines}


def invoice_record(invoice_id: str, number: str, company_id: str, lines) -> dict:
    """`lines`: (amount, PO number or None, PO line or None) each."""
    body = [{"lineNumber": n, "description": f"Billed part {n}", "quantity": "1", "unitPrice": amount,
             "amount": amount, "poNumber": po, "poLineNumber": po_line, "accountingSegments": dict(SEGMENTS)}
            for n, (amount, po, po_line) in enumerate(lines, 1)]
    return {"invoiceId": invoice_id, "invoiceNumber": number, "supplierInvoiceNumber": f"S-{number}",
            "invoiceType": "Invoice", "workflowStatus": "Approved", "invoiceDate": "2026-10-05",
            "dueDate": "2026-11-04", "supplier": supplier(company_id), "currency": "USD",
            "total": {"currency": "USD", "value": str(sum(Decimal(a) for a, _, _ in lines))},
            "lineList": body}


def vendor_of(tenant, company_id: str) -> str:
    link = VendorLink.objects.get(tenant=tenant, jaggaer_company_id=company_id)
    assert link.qbo_vendor_id and not link.attention
    return link.qbo_vendor_id


def pos_numbered(server, doc: str) -> list[dict]:
    return server.app.find("PurchaseOrder", DocNumber=doc)


def bills_numbered(server, doc: str, vendor_id: str | None = None) -> list[dict]:
    return [b for b in server.app.find("Bill", DocNumber=doc)
            if vendor_id is None or b["VendorRef"]["value"] == vendor_id]


def assert_held(run, tenant, source_id, entity, reason, *, waits_on, says=()):
    """The run's audit row and the hold row both name the reason; the detail says what a person needs."""
    row = event(run, source_id, entity)
    assert (row.outcome, row.reason) == ("held", reason), (row.outcome, row.reason, row.message)
    hold = hold_of(tenant, source_id, entity)
    assert hold is not None and hold.reason == reason and hold.waits_on == waits_on
    assert row.message == hold.detail
    for text in says:
        assert text in hold.detail, (text, hold.detail)
    return hold


# ---------------------------------------------------------------------------- invoices against their POs

def test_an_invoice_billing_another_suppliers_po_is_held_until_its_supplier_is_corrected(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("purchase_orders", po_record("PO-99101", "4599101001", FIRST, ("100.00", "250.00")))
    jaggaer.upsert("invoices", invoice_record("INV-99101", "INV-2026-099101", SECOND,
                                              [("100.00", "4599101001", 1)]))
    run = run_sync()
    first, second = vendor_of(tenant, FIRST), vendor_of(tenant, SECOND)
    assert first != second
    assert event(run, "PO-99101").outcome == "created"
    assert_held(run, tenant, "INV-99101", "invoices", "po_vendor_mismatch", waits_on=["4599101001"],
                says=("PO 4599101001", f"({first})", f"({second})"))
    assert not bills_numbered(qbo_sandbox, "INV-2026-099101")
    assert not BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id="INV-99101").exists()

    # the same again: still held, still nothing written
    run = run_sync()
    assert hold_of(tenant, "INV-99101", "invoices").reason == "po_vendor_mismatch"
    assert not bills_numbered(qbo_sandbox, "INV-2026-099101")

    jaggaer.patch("invoices", "INV-99101", {"supplier": supplier(FIRST)})
    run = run_sync()
    assert event(run, "INV-99101", "invoices").outcome == "created"
    assert hold_of(tenant, "INV-99101", "invoices") is None
    po = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99101")
    [bill] = bills_numbered(qbo_sandbox, "INV-2026-099101")
    assert bill["VendorRef"]["value"] == first
    assert bill["Line"][0]["LinkedTxn"] == [{"TxnId": po.qbo_po_id, "TxnType": "PurchaseOrder",
                                             "TxnLineId": po.lines["1"]}]
    qbo_sandbox.log.clear()
    run_sync()
    assert qbo_writes(qbo_sandbox) == 0


def test_an_invoice_billing_a_po_line_that_does_not_exist_is_released_once_the_po_has_it(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("purchase_orders", po_record("PO-99102", "4599102001", FIRST, ("100.00", "250.00")))
    jaggaer.upsert("invoices", invoice_record("INV-99102", "INV-2026-099102", FIRST,
                                              [("250.00", "4599102001", 2), ("75.00", "4599102001", 3)]))
    run = run_sync()
    assert event(run, "PO-99102").outcome == "created"
    assert_held(run, tenant, "INV-99102", "invoices", "po_line_not_found", waits_on=["4599102001"],
                says=("PO 4599102001 has no line 3", "line 2 of the invoice"))
    assert not bills_numbered(qbo_sandbox, "INV-2026-099102")

    # the buyer adds the missing line to the PO: the PO is updated and the invoice written in the same run
    po = jaggaer.get("purchase_orders", "PO-99102")
    jaggaer.set_po_lines("PO-99102", po["lineList"] + [{"description": "Part 3", "quantity": "1",
                                                        "unitPrice": "75.00", "amount": "75.00"}])
    run = run_sync()
    assert event(run, "PO-99102").outcome == "updated"
    assert event(run, "INV-99102", "invoices").outcome == "created"
    assert hold_of(tenant, "INV-99102", "invoices") is None
    link = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99102")
    assert set(link.lines) == {"1", "2", "3"}
    [bill] = bills_numbered(qbo_sandbox, "INV-2026-099102")
    assert [ln["LinkedTxn"][0]["TxnLineId"] for ln in bill["Line"]] == [link.lines["2"], link.lines["3"]]
    assert len(qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)["Line"]) == 3


# ---------------------------------------------------------------------------- numbers already taken

def test_a_po_number_quickbooks_has_for_another_vendor_is_held_until_that_po_is_gone(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    first, second = vendor_of(tenant, FIRST), vendor_of(tenant, SECOND)
    model = qbo_one(qbo_sandbox, "PurchaseOrder", PurchaseOrderLink.objects.get(
        tenant=tenant, jaggaer_po_id="PO-88001").qbo_po_id)
    # someone typed a PO for another vendor straight into QuickBooks, with the number JAGGAER is about to use
    foreign = qbo_sandbox.app.create("PurchaseOrder", {
        "VendorRef": {"value": second}, "APAccountRef": model["APAccountRef"], "DocNumber": "4599103001",
        "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": 40,
                  "AccountBasedExpenseLineDetail": model["Line"][0]["AccountBasedExpenseLineDetail"]}]})
    jaggaer_sandbox.app.upsert("purchase_orders", po_record("PO-99103", "4599103001", FIRST))
    run = run_sync()
    assert_held(run, tenant, "PO-99103", "purchase_orders", "po_number_taken", waits_on=[str(foreign["Id"])],
                says=(f"purchase order {foreign['Id']}", "number 4599103001", "another vendor"))
    [only] = pos_numbered(qbo_sandbox, "4599103001")
    assert only["Id"] == foreign["Id"] and only["VendorRef"]["value"] == second
    assert only["SyncToken"] == foreign["SyncToken"]           # the other vendor's PO is left alone
    assert not PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99103").written

    qbo_sandbox.app.delete_entity("PurchaseOrder", foreign["Id"])
    run = run_sync()
    assert event(run, "PO-99103").outcome == "created"
    assert hold_of(tenant, "PO-99103") is None
    [po] = pos_numbered(qbo_sandbox, "4599103001")
    assert po["VendorRef"]["value"] == first and po["Id"] != foreign["Id"]
    assert PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99103").qbo_po_id == po["Id"]


def test_an_invoice_number_the_supplier_already_used_is_held_until_it_is_renumbered(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("invoices", invoice_record("INV-99104", "INV-2026-099104", FIRST, [("120.00", None, None)]))
    run_sync()
    vendor = vendor_of(tenant, FIRST)
    [original] = bills_numbered(qbo_sandbox, "INV-2026-099104", vendor)

    # a second JAGGAER invoice of the same supplier with the same number
    jaggaer.upsert("invoices", invoice_record("INV-99105", "INV-2026-099104", FIRST, [("80.00", None, None)]))
    run = run_sync()
    assert_held(run, tenant, "INV-99105", "invoices", "duplicate_invoice_number", waits_on=["INV-99104"],
                says=("Invoice number INV-2026-099104", f"bill {original['Id']}", "JAGGAER invoice INV-99104"))
    [still] = bills_numbered(qbo_sandbox, "INV-2026-099104", vendor)
    assert still == original            # neither a second bill nor an overwrite of the first one
    assert not BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id="INV-99105").exists()

    jaggaer.patch("invoices", "INV-99105", {"invoiceNumber": "INV-2026-099105"})
    run = run_sync()
    assert event(run, "INV-99105", "invoices").outcome == "created"
    assert hold_of(tenant, "INV-99105", "invoices") is None
    [bill] = bills_numbered(qbo_sandbox, "INV-2026-099105", vendor)
    assert Decimal(str(bill["TotalAmt"])) == Decimal("80.00")
    assert bills_numbered(qbo_sandbox, "INV-2026-099104", vendor) == [original]


def test_two_invoices_of_one_supplier_with_one_number_in_the_same_run_are_one_bill_and_one_hold(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("invoices", invoice_record("INV-99106", "INV-2026-099106", FIRST, [("120.00", None, None)]))
    jaggaer.upsert("invoices", invoice_record("INV-99107", "INV-2026-099106", FIRST, [("80.00", None, None)]))
    run = run_sync()
    vendor = vendor_of(tenant, FIRST)
    assert event(run, "INV-99106", "invoices").outcome == "created"
    [bill] = bills_numbered(qbo_sandbox, "INV-2026-099106", vendor)
    assert BillLink.objects.get(tenant=tenant, jaggaer_invoice_id="INV-99106").qbo_id == bill["Id"]
    assert_held(run, tenant, "INV-99107", "invoices", "duplicate_invoice_number", waits_on=["INV-99106"],
                says=("Invoice number INV-2026-099106", "JAGGAER invoice INV-99106"))

    jaggaer.patch("invoices", "INV-99107", {"invoiceNumber": "INV-2026-099107"})
    run = run_sync()
    assert event(run, "INV-99107", "invoices").outcome == "created"
    assert len(bills_numbered(qbo_sandbox, "INV-2026-099107", vendor)) == 1
    assert bills_numbered(qbo_sandbox, "INV-2026-099106", vendor) == [bill]


def notes_naming(server, number: str) -> list[str]:
    """Ids of the QBO POs whose memo names the JAGGAER number (any case)."""
    return [p["Id"] for p in server.app.state("PurchaseOrder") if number.casefold() in p.get("PrivateNote",
                                                                                               "").casefold()]


@pytest.mark.parametrize(("number", "twin"), [("4599108001", "4599108001"),
                                              ("PO-2026-PLANT9-RETROFIT-0001", "PO-2026-PLANT9-RETROFIT-0001"),
                                              ("AB-4599108", "ab-4599108")],
                         ids=["short", "over_21_chars", "other_case"])
@pytest.mark.parametrize("same_run", [False, True], ids=["later_run", "same_run"])
def test_one_po_number_on_two_jaggaer_pos_is_written_once_and_the_twin_held_until_renumbered(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant, number, twin, same_run):
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("purchase_orders", po_record("PO-99108", number, FIRST, ("100.00",)))
    if not same_run:
        run_sync()
    jaggaer.upsert("purchase_orders", po_record("PO-99109", twin, SECOND, ("300.00",)))
    # an invoice of the first supplier naming the number bills the PO that was written
    jaggaer.upsert("invoices", invoice_record("INV-99108", "INV-2026-099108", FIRST, [("100.00", number, 1)]))
    run = run_sync()
    if same_run:
        assert event(run, "PO-99108").outcome == "created"
    assert_held(run, tenant, "PO-99109", "purchase_orders", "po_number_duplicate", waits_on=["PO-99108"],
                says=(f"PO number {twin}", "JAGGAER PO PO-99108"))
    written = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99108")
    assert qbo_one(qbo_sandbox, "PurchaseOrder", written.qbo_po_id)["DocNumber"] == short_doc_number(number)
    assert notes_naming(qbo_sandbox, number) == [written.qbo_po_id]
    assert not PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99109").written
    [bill] = bills_numbered(qbo_sandbox, "INV-2026-099108")
    assert bill["Line"][0]["LinkedTxn"][0]["TxnId"] == written.qbo_po_id

    run = run_sync()                     # held again on the retry, nothing written
    assert hold_of(tenant, "PO-99109").reason == "po_number_duplicate"
    assert notes_naming(qbo_sandbox, number) == [written.qbo_po_id]

    jaggaer.patch("purchase_orders", "PO-99109", {"poNumber": f"{twin}-B"})
    run = run_sync()
    assert event(run, "PO-99109").outcome == "created"
    assert hold_of(tenant, "PO-99109") is None
    renumbered = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99109")
    assert renumbered.qbo_po_id != written.qbo_po_id
    assert qbo_one(qbo_sandbox, "PurchaseOrder", renumbered.qbo_po_id)["DocNumber"] == short_doc_number(f"{twin}-B")
    assert sorted(notes_naming(qbo_sandbox, number)) == sorted([written.qbo_po_id, renumbered.qbo_po_id])


# ---------------------------------------------------------------------------- deleted in QuickBooks

def test_a_po_deleted_in_quickbooks_is_held_on_its_next_change_and_written_again_once_unlinked(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("purchase_orders", po_record("PO-99110", "4599110001", FIRST, ("100.00", "250.00")))
    run_sync()
    gone = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99110").qbo_po_id
    qbo_sandbox.app.delete_entity("PurchaseOrder", gone)
    po = jaggaer.get("purchase_orders", "PO-99110")
    jaggaer.set_po_lines("PO-99110", po["lineList"][:1])
    run = run_sync()
    assert_held(run, tenant, "PO-99110", "purchase_orders", "po_missing_in_qbo", waits_on=[gone],
                says=(f"purchase order {gone}", "no longer exists", "forget its link",
                      "links/purchase_orders/PO-99110"))
    assert not pos_numbered(qbo_sandbox, "4599110001")
    run = run_sync()                     # held again, nothing written behind the person's back
    assert hold_of(tenant, "PO-99110").reason == "po_missing_in_qbo"
    assert not pos_numbered(qbo_sandbox, "4599110001")

    # the person does what the hold says: forgets the link, through the API
    answer = _api(tenant).delete(f"/api/v1/tenants/{tenant.id}/links/purchase_orders/PO-99110")
    assert answer.status_code == 204
    assert not PurchaseOrderLink.objects.filter(tenant=tenant, jaggaer_po_id="PO-99110").exists()
    assert Action.objects.get(tenant=tenant, action="link.forget").target_id == "PO-99110"
    run = run_sync()
    assert event(run, "PO-99110").outcome == "created"
    assert hold_of(tenant, "PO-99110") is None
    [again] = pos_numbered(qbo_sandbox, "4599110001")
    assert again["Id"] != gone and len(again["Line"]) == 1
    assert PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99110").qbo_po_id == again["Id"]
    qbo_sandbox.log.clear()
    run_sync()
    assert qbo_writes(qbo_sandbox) == 0


def test_a_bill_deleted_in_quickbooks_is_held_on_its_next_change_and_written_again_once_unlinked(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("invoices", invoice_record("INV-99111", "INV-2026-099111", FIRST,
                                              [("120.00", None, None), ("30.00", None, None)]))
    run_sync()
    vendor = vendor_of(tenant, FIRST)
    gone = BillLink.objects.get(tenant=tenant, jaggaer_invoice_id="INV-99111").qbo_id
    qbo_sandbox.app.delete_entity("Bill", gone)
    invoice = jaggaer.get("invoices", "INV-99111")
    jaggaer.patch("invoices", "INV-99111", {"lineList": invoice["lineList"][:1],
                                            "total": {"currency": "USD", "value": "120.00"}})
    run = run_sync()
    assert_held(run, tenant, "INV-99111", "invoices", "bill_missing_in_qbo", waits_on=[gone],
                says=(f"bill {gone}", "no longer exists", "forget its link", "links/invoices/INV-99111"))
    assert not bills_numbered(qbo_sandbox, "INV-2026-099111")

    assert _api(tenant).delete(f"/api/v1/tenants/{tenant.id}/links/invoices/INV-99111").status_code == 204
    run = run_sync()
    assert event(run, "INV-99111", "invoices").outcome == "created"
    assert hold_of(tenant, "INV-99111", "invoices") is None
    [bill] = bills_numbered(qbo_sandbox, "INV-2026-099111", vendor)
    assert bill["Id"] != gone and Decimal(str(bill["TotalAmt"])) == Decimal("120.00")
    assert BillLink.objects.get(tenant=tenant, jaggaer_invoice_id="INV-99111").qbo_id == bill["Id"]


def _api(tenant):
    from rest_framework.test import APIClient

    from tenants.models import PartnerAPIKey

    _, key = PartnerAPIKey.objects.create_key(partner=tenant.partner, name="edge cases")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_forgetting_an_unknown_link_or_kind_is_a_clear_4xx(tenant):
    client = _api(tenant)
    missing = client.delete(f"/api/v1/tenants/{tenant.id}/links/invoices/NOPE")
    assert missing.status_code == 404 and "No invoice link" in missing.json()["error"]["message"]
    earlier = client.delete(f"/api/v1/tenants/{tenant.id}/links/invoice/NOPE")     # the singular path still works
    assert earlier.status_code == 404 and "No invoice link" in earlier.json()["error"]["message"]
    wrong = client.delete(f"/api/v1/tenants/{tenant.id}/links/widget/X")
    assert wrong.status_code == 400 and "entity" in wrong.json()["error"]["fields"]


def test_a_po_deleted_in_quickbooks_is_found_by_the_daily_cdc_and_holds_the_invoices_that_bill_it(
        run_sync, qbo_app, jaggaer_sandbox, tenant, django_capture_on_commit_callbacks):
    """Nothing changed in JAGGAER, so only QuickBooks' change feed can tell: CDC marks the link."""
    from sync.qbo_changes.services import qbo_changes_reconcile
    from tests.connections.support import configured_jaggaer, connected_qbo

    connected_qbo(tenant, qbo_app)
    jaggaer = jaggaer_sandbox.app
    jaggaer.upsert("purchase_orders", po_record("PO-99120", "4599120001", FIRST, ("100.00",)))
    run_sync()
    gone = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99120").qbo_po_id
    qbo_app.app.delete_entity("PurchaseOrder", gone)

    assert qbo_changes_reconcile()["documents_deleted"] == 1
    assert PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99120").qbo_status == "Deleted"
    flagged = RecordEvent.objects.get(tenant=tenant, source_id="PO-99120", reason="po_missing_in_qbo")
    assert flagged.qbo_id == gone and "replay the PO" in flagged.message

    jaggaer.upsert("invoices", invoice_record("INV-99121", "INV-2026-099121", FIRST, [("100.00", "4599120001", 1)]))
    qbo_app.log.clear()
    run = run_sync()
    assert_held(run, tenant, "INV-99121", "invoices", "po_missing_in_qbo", waits_on=["4599120001"],
                says=("was deleted in QuickBooks", "links/purchase_orders/PO-99120"))
    assert qbo_writes(qbo_app) == 0            # nothing sent for QBO to refuse
    assert qbo_changes_reconcile()["documents_deleted"] == 0   # told once

    # what the messages tell support to do: forget the PO's link, replay the PO; the next run bills it
    configured_jaggaer(tenant, jaggaer_sandbox)
    client = _api(tenant)
    assert client.delete(f"/api/v1/tenants/{tenant.id}/links/purchase_orders/PO-99120").status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        replayed = client.post(f"/api/v1/tenants/{tenant.id}/records/purchase_orders/PO-99120/replay")
    assert replayed.status_code in (200, 202), replayed.json()
    [again] = pos_numbered(qbo_app, "4599120001")
    assert again["Id"] != gone
    run = run_sync()
    assert event(run, "INV-99121", "invoices").outcome == "created"
    [bill] = bills_numbered(qbo_app, "INV-2026-099121")
    assert bill["Line"][0]["LinkedTxn"][0]["TxnId"] == again["Id"]

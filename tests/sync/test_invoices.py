"""JAGGAER invoices -> QBO Bills and VendorCredits against both sandboxes: matching to PO lines, statuses,
credit memos, amounts, every hold reason and its release."""

from collections import Counter
from decimal import Decimal

import pytest

from sync.mappings.services import mapping_set
from sync.models import BillLink, Hold, PurchaseOrderLink, QboCatalogItem, SyncRun, VendorLink
from tests.sync.helpers import CASES, DATASET, case_ids
from tests.sync.test_purchase_orders import event, hold_of, qbo_one

pytestmark = pytest.mark.django_db

INVOICES = {i["invoiceId"]: i for i in DATASET.jaggaer["invoices"]}
CENT = Decimal("0.01")


def bill_link(tenant, invoice_id) -> BillLink:
    return BillLink.objects.get(tenant=tenant, jaggaer_invoice_id=invoice_id)


def bill_of(server, tenant, invoice_id) -> dict:
    link = bill_link(tenant, invoice_id)
    return qbo_one(server, link.qbo_entity, link.qbo_id)


def test_bills_are_linked_line_by_line_to_their_po_lines_in_qbo(run_sync, qbo_sandbox, tenant):
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    po_links = {link.po_number: link for link in PurchaseOrderLink.objects.for_tenant(tenant)}
    checked = 0
    for link in BillLink.objects.for_tenant(tenant).filter(qbo_entity="Bill").exclude(po_ids=[]):
        source = INVOICES[link.jaggaer_invoice_id]
        bill = qbo_one(qbo_sandbox, "Bill", link.qbo_id)
        assert len(bill["Line"]) == len(source["lineList"])
        for line, qbo_line in zip(source["lineList"], bill["Line"], strict=True):
            po = po_links[line["poNumber"]]
            assert qbo_line["LinkedTxn"] == [{"TxnId": po.qbo_po_id, "TxnType": "PurchaseOrder",
                                              "TxnLineId": po.lines[str(line["poLineNumber"])]}]
            qbo_po = qbo_one(qbo_sandbox, "PurchaseOrder", po.qbo_po_id)
            assert {"TxnId": link.qbo_id, "TxnType": "Bill"} in qbo_po["LinkedTxn"]
            checked += 1
    assert checked > 60
    # a full invoice closes its PO in QuickBooks
    full = next(i for i in CASES["full_invoices"]["invoices"] if BillLink.objects.filter(jaggaer_invoice_id=i)
                .exclude(po_ids=[]).exists() and len(bill_link(tenant, i).po_ids) == 1)
    assert qbo_one(qbo_sandbox, "PurchaseOrder", bill_link(tenant, full).po_ids[0])["POStatus"] == "Closed"


def test_non_po_invoices_become_bills_without_links(run_sync, qbo_sandbox, tenant):
    run_sync()
    written = [i for i in CASES["non_po_invoices"]["invoices"]
               if BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id=i, qbo_entity="Bill").exists()]
    assert len(written) > 10
    for invoice_id in written:
        assert all("LinkedTxn" not in ln for ln in bill_of(qbo_sandbox, tenant, invoice_id)["Line"])


def test_only_approved_and_paid_invoices_are_posted(run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run = run_sync()
    by_status = Counter()
    for invoice_id, source in INVOICES.items():
        row = event(run, invoice_id, "invoices")
        by_status[(source["workflowStatus"], row.outcome)] += 1
        if source["workflowStatus"] == "InProcess" and "invoiceNumber" in source:
            assert (row.outcome, row.reason) == ("skipped", "invoice_not_approved")
        if source["workflowStatus"] == "Rejected":
            assert (row.outcome, row.reason) == ("skipped", "invoice_rejected")
        if row.outcome in ("created", "updated"):
            assert source["workflowStatus"] in ("Approved", "Paid")
    assert by_status[("Paid", "created")] > 20 and by_status[("Approved", "created")] > 40
    written_pos = set(PurchaseOrderLink.objects.for_tenant(tenant).exclude(qbo_po_id="")
                      .values_list("po_number", flat=True))
    waiting = next(i for i, s in INVOICES.items() if s["workflowStatus"] == "InProcess"
                   and s["invoiceType"] == "Invoice" and s["currency"] == "USD"
                   and len({ln["accountingSegments"]["DepartmentCode"] for ln in s["lineList"]}) == 1
                   and all(ln.get("poNumber") in (None, *written_pos) for ln in s["lineList"]))
    assert not BillLink.objects.filter(jaggaer_invoice_id=waiting).exists()
    jaggaer_sandbox.app.approve_invoice(waiting)
    run = run_sync()
    assert hold_of(tenant, waiting, "invoices") is None
    assert event(run, waiting, "invoices").outcome == "created"
    assert bill_of(qbo_sandbox, tenant, waiting)["DocNumber"] == INVOICES[waiting]["invoiceNumber"]


def test_credit_memos_become_vendor_credits_with_positive_amounts(run_sync, qbo_sandbox, tenant):
    run_sync()
    written = 0
    for invoice_id in case_ids("credit_memos", "invoices"):
        source = INVOICES[invoice_id]
        if not BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id=invoice_id).exists():
            assert source["workflowStatus"] not in ("Approved", "Paid") or hold_of(tenant, invoice_id, "invoices")
            continue
        link = bill_link(tenant, invoice_id)
        credit = qbo_one(qbo_sandbox, "VendorCredit", link.qbo_id)
        assert link.qbo_entity == "VendorCredit" and link.po_ids == []
        assert Decimal(str(credit["TotalAmt"])) == -Decimal(source["total"]["value"]).quantize(CENT) > 0
        assert all(Decimal(str(ln["Amount"])) > 0 for ln in credit["Line"])
        assert credit["DocNumber"] == source["invoiceNumber"]
        written += 1
    assert written >= 3
    assert not qbo_sandbox.app.find("Bill", DocNumber=INVOICES[case_ids("credit_memos", "invoices")[0]]
                                    ["invoiceNumber"])


def test_the_same_invoice_number_from_two_suppliers_is_two_bills(run_sync, qbo_sandbox, tenant):
    run_sync()
    first, second = case_ids("invoice_number_reused", "invoices")
    a, b = bill_of(qbo_sandbox, tenant, first), bill_of(qbo_sandbox, tenant, second)
    assert a["Id"] != b["Id"] and a["DocNumber"] == b["DocNumber"] == INVOICES[first]["invoiceNumber"]
    vendors = dict(VendorLink.objects.for_tenant(tenant).values_list("jaggaer_company_id", "qbo_vendor_id"))
    assert a["VendorRef"]["value"] == vendors[INVOICES[first]["supplier"]["companyId"]]
    assert b["VendorRef"]["value"] == vendors[INVOICES[second]["supplier"]["companyId"]]


def test_dates_supplier_invoice_number_department_and_amounts_are_carried(run_sync, qbo_sandbox, tenant):
    run_sync()
    departments = {d["Id"]: d["Name"] for d in qbo_sandbox.app.state("Department")}
    names = {d["code"]: d["name"] for d in DATASET.jaggaer["departments"]}
    invoice_id = next(i for i in CASES["full_invoices"]["invoices"]
                      if BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id=i).exists()
                      and len({ln["accountingSegments"]["DepartmentCode"] for ln in INVOICES[i]["lineList"]}) == 1)
    source, bill = INVOICES[invoice_id], bill_of(qbo_sandbox, tenant, invoice_id)
    assert (bill["TxnDate"], bill["DueDate"]) == (source["invoiceDate"], source["dueDate"])
    assert bill["DocNumber"] == source["invoiceNumber"]
    assert f"Supplier invoice {source['supplierInvoiceNumber']}" in bill["PrivateNote"]
    assert departments[bill["DepartmentRef"]["value"]] == names[source["lineList"][0]["accountingSegments"]
                                                                ["DepartmentCode"]]
    assert Decimal(str(bill["TotalAmt"])) == Decimal(source["total"]["value"])
    # more than two decimals: rounded half-up per line, within a cent of the total
    odd = next(i for i in case_ids("amounts_over_two_decimals", "invoices")
               if INVOICES[i]["total"]["value"] == "8.33325")
    assert [ln["Amount"] for ln in bill_of(qbo_sandbox, tenant, odd)["Line"]] == [8.33]


def test_a_bill_changed_before_it_is_paid_is_updated_and_after_it_is_paid_is_held(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    invoice_id = next(i for i in CASES["non_po_invoices"]["invoices"]
                      if INVOICES[i]["workflowStatus"] == "Approved" and INVOICES[i]["invoiceType"] == "Invoice"
                      and i not in case_ids("amounts_over_two_decimals", "invoices")
                      and BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id=i).exists())
    link = bill_link(tenant, invoice_id)
    lines = [dict(ln) for ln in INVOICES[invoice_id]["lineList"]]
    lines[0]["amount"] = str(Decimal(lines[0]["amount"]) + 10)
    lines[0].update(quantity="1", unitPrice=lines[0]["amount"])     # quantity x unit price stays the amount
    total = sum(Decimal(ln["amount"]) for ln in lines)
    jaggaer_sandbox.app.patch("invoices", invoice_id, {"lineList": lines, "total": {"currency": "USD",
                                                                                   "value": str(total)}})
    run = run_sync()
    assert event(run, invoice_id, "invoices").outcome == "updated"
    bill = qbo_one(qbo_sandbox, "Bill", link.qbo_id)
    assert Decimal(str(bill["TotalAmt"])) == total and len(qbo_sandbox.app.find("Bill", Id=link.qbo_id)) == 1
    assert [ln["Id"] for ln in bill["Line"]] == list(bill_link(tenant, invoice_id).lines.values())

    # a status change alone (Approved -> Paid) writes nothing
    jaggaer_sandbox.app.set_invoice_status(invoice_id, "Paid")
    run = run_sync()
    assert event(run, invoice_id, "invoices").outcome == "unchanged"

    qbo_sandbox.app.mark_bill_paid(link.qbo_id)
    lines[0]["amount"] = lines[0]["unitPrice"] = str(Decimal(lines[0]["amount"]) + 5)
    total += 5
    jaggaer_sandbox.app.patch("invoices", invoice_id, {"lineList": lines, "total": {"currency": "USD",
                                                                                   "value": str(total)}})
    run = run_sync()
    hold = hold_of(tenant, invoice_id, "invoices")
    assert hold.reason == "bill_paid" and link.qbo_id in hold.waits_on
    assert Decimal(str(qbo_one(qbo_sandbox, "Bill", link.qbo_id)["TotalAmt"])) == total - 5

    qbo_sandbox.app.mark_bill_paid(link.qbo_id, amount=0)     # the payment is voided in QuickBooks
    run = run_sync()
    assert hold_of(tenant, invoice_id, "invoices") is None
    assert event(run, invoice_id, "invoices").outcome == "updated"
    assert Decimal(str(qbo_one(qbo_sandbox, "Bill", link.qbo_id)["TotalAmt"])) == total


# ---------------------------------------------------------------------------- holds and their release

def test_an_invoice_for_an_unknown_po_is_released_in_the_run_the_po_arrives(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    invoice_id = case_ids("invoice_po_unknown", "invoices")[0]
    number = CASES["invoice_po_unknown"]["poNumber"][0]
    run_sync()
    hold = hold_of(tenant, invoice_id, "invoices")
    assert hold.reason == "po_not_found" and hold.waits_on == [number]

    source = INVOICES[invoice_id]
    jaggaer_sandbox.app.upsert("purchase_orders", {
        "poId": "PO-99001", "poNumber": number, "status": "Issued", "orderDate": "2026-09-01",
        "supplier": source["supplier"], "currency": "USD", "total": source["total"],
        "accountingSegments": source["lineList"][0]["accountingSegments"],
        "lineList": [{k: v for k, v in ln.items() if k not in ("poNumber", "poLineNumber")}
                     for ln in source["lineList"]]})
    run = run_sync()
    assert event(run, "PO-99001").outcome == "created"
    assert event(run, invoice_id, "invoices").outcome == "created"
    assert hold_of(tenant, invoice_id, "invoices") is None
    bill = bill_of(qbo_sandbox, tenant, invoice_id)
    po_id = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99001").qbo_po_id
    assert all(ln["LinkedTxn"][0]["TxnId"] == po_id for ln in bill["Line"])


def test_an_invoice_for_a_cancelled_po_is_released_when_the_po_is_reinstated(run_sync, jaggaer_sandbox, tenant):
    invoice_id = case_ids("invoice_po_cancelled", "invoices")[0]
    po_id = CASES["invoice_po_cancelled"]["purchase_orders"][0]
    run_sync()
    assert hold_of(tenant, invoice_id, "invoices").reason == "po_cancelled"
    jaggaer_sandbox.app.set_po_status(po_id, "Issued")
    run = run_sync()
    assert event(run, po_id).outcome == "created"
    assert event(run, invoice_id, "invoices").outcome == "created"


def test_invoices_on_long_po_numbers_find_their_po_through_the_short_form(run_sync, qbo_sandbox, tenant):
    run_sync()
    for invoice_id, po_id in zip(case_ids("po_number_over_21_chars", "invoices"),
                                 case_ids("po_number_over_21_chars", "purchase_orders"), strict=True):
        po = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id=po_id)
        bill = bill_of(qbo_sandbox, tenant, invoice_id)
        assert {ln["LinkedTxn"][0]["TxnId"] for ln in bill["Line"]} == {po.qbo_po_id}
        assert INVOICES[invoice_id]["lineList"][0]["poNumber"] in bill["PrivateNote"]


def test_a_total_mismatch_is_held_with_both_figures_and_released_when_fixed(run_sync, jaggaer_sandbox, tenant):
    invoice_id = case_ids("invoice_total_mismatch", "invoices")[0]
    run_sync()
    hold = hold_of(tenant, invoice_id, "invoices")
    assert hold.reason == "total_mismatch"
    assert CASES["invoice_total_mismatch"]["lines_sum"][0] in hold.detail
    assert CASES["invoice_total_mismatch"]["total"][0] in hold.detail
    jaggaer_sandbox.app.patch("invoices", invoice_id, {"total": {"currency": "USD", "value":
                                                                 CASES["invoice_total_mismatch"]["lines_sum"][0]}})
    run = run_sync()
    assert hold_of(tenant, invoice_id, "invoices") is None
    assert event(run, invoice_id, "invoices").outcome == "created"


def test_unmapped_gl_codes_and_departments_hold_invoices_until_mapped(run_sync, tenant):
    gl_invoice = case_ids("invoice_gl_without_qbo", "invoices")[0]
    gl_code = CASES["invoice_gl_without_qbo"]["gl"][0]
    plant = CASES["invoice_department_without_qbo"]["departments"][0]
    run_sync()
    hold = hold_of(tenant, gl_invoice, "invoices")
    assert hold.reason == "gl_unmapped" and hold.waits_on == [gl_code]
    department_holds = [hold_of(tenant, i, "invoices") for i in case_ids("invoice_department_without_qbo",
                                                                         "invoices")]
    assert {h.reason for h in department_holds} == {"department_unmapped"}
    assert all(h.waits_on == [plant] for h in department_holds)

    expense = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", number="6200")
    corporate = QboCatalogItem.objects.get(tenant=tenant, kind="department", name="Corporate")
    mapping_set(tenant=tenant, kind="gl_account", code=gl_code, qbo_id=expense.qbo_id)
    mapping_set(tenant=tenant, kind="department", code=plant, qbo_id=corporate.qbo_id)
    run = run_sync()
    for invoice_id in [gl_invoice, *case_ids("invoice_department_without_qbo", "invoices")]:
        assert hold_of(tenant, invoice_id, "invoices") is None
        assert event(run, invoice_id, "invoices").outcome == "created"


def test_foreign_currency_invoices_are_held_until_multicurrency_is_on(run_sync, qbo_sandbox, tenant):
    foreign = [i for i in case_ids("non_usd", "invoices") if INVOICES[i]["workflowStatus"] in ("Approved", "Paid")]
    run_sync()
    held = [i for i in foreign if (h := hold_of(tenant, i, "invoices")) and h.reason == "currency_unsupported"]
    assert held
    qbo_sandbox.app.set_multicurrency(True)
    run = run_sync()
    released = [i for i in held if hold_of(tenant, i, "invoices") is None]
    assert released
    for invoice_id in released:
        assert event(run, invoice_id, "invoices").outcome == "created"
        assert bill_of(qbo_sandbox, tenant, invoice_id)["CurrencyRef"]["value"] == INVOICES[invoice_id]["currency"]


def test_every_invoice_gets_one_audit_row_and_malformed_ones_are_held_naming_the_field(run_sync, tenant):
    run = run_sync()
    from audit.models import RecordEvent
    rows = RecordEvent.objects.filter(run_id=run.pk, entity="invoices")
    assert sorted(rows.values_list("source_id", flat=True)) == sorted(INVOICES)
    for record in CASES["missing_required_fields"]["records"] + CASES["malformed_dates"]["records"]:
        if record["entity"] == "invoices":
            row = rows.get(source_id=record["id"])
            assert (row.outcome, row.reason) == ("held", "invalid_record")
            assert record["field"] in row.message
            assert hold_of(tenant, record["id"], "invoices").reason == "invalid_record"
    assert Hold.objects.for_tenant(tenant).filter(entity="invoices", reason="retry").count() == 0

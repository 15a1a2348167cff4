"""Every malformed kind of the generated data, end to end against both sandboxes: held with its reason before any
QuickBooks write (the audit row and the hold say the field, the value and what is expected), written exactly once
after JAGGAER corrects it; touch-only and no-change reruns write nothing for suppliers, POs and invoices."""

import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.datagen import MALFORMED_CASES
from sync.models import BillLink, Hold, PurchaseOrderLink, SyncRun, VendorLink
from sync.transforms.validation import REASONS
from tests.sync.helpers import CASES, DATASET, qbo_writes
from tests.sync.test_purchase_orders import event, hold_of, qbo_one
from tests.sync.validation_strategies import malformed_decimals

pytestmark = pytest.mark.django_db

RECORDS = {entity: {r[key]: r for r in DATASET.jaggaer[entity]}
           for entity, key in (("suppliers", "companyId"), ("purchase_orders", "poId"), ("invoices", "invoiceId"))}


def written_id(tenant, entity: str, source_id: str) -> tuple[str, str] | None:
    """(QBO entity, id) written for a JAGGAER record, or None."""
    if entity == "suppliers":
        link = VendorLink.objects.filter(tenant=tenant, jaggaer_company_id=source_id).first()
        return ("Vendor", link.qbo_vendor_id) if link else None
    if entity == "purchase_orders":
        link = PurchaseOrderLink.objects.filter(tenant=tenant, jaggaer_po_id=source_id).exclude(qbo_po_id="").first()
        return ("PurchaseOrder", link.qbo_po_id) if link else None
    link = BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id=source_id).first()
    return (link.qbo_entity, link.qbo_id) if link else None


def qbo_documents_numbered(server, number: str) -> list[dict]:
    return [obj for entity in ("Bill", "VendorCredit", "PurchaseOrder") for obj in server.app.find(entity)
            if obj.get("DocNumber") == number]


def number_of(entity: str, record: dict) -> str:
    return record["poNumber"] if entity == "purchase_orders" else record["invoiceNumber"]


@pytest.mark.parametrize("name", MALFORMED_CASES)
def test_each_malformed_kind_is_held_with_its_reason_and_written_once_after_jaggaer_corrects_it(
        name, run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    case = CASES[name]
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    for rec in case["records"]:
        row = event(run, rec["id"], rec["entity"])
        assert (row.outcome, row.reason) == ("held", case["reason"]), (row.outcome, row.reason, row.message)
        hold = hold_of(tenant, rec["id"], rec["entity"])
        assert hold is not None and hold.reason == case["reason"] and hold.detail == row.message
        assert "JAGGAER" in row.message                               # says where to fix it
        if case["reason"] == "invalid_record":
            [problem] = [p for p in row.data["problems"] if p["field"] == rec["field"]]
            assert problem["value"] == repr(rec["value"]) and problem["expected"]
            assert rec["field"] in row.message and repr(rec["value"]) in row.message
        elif case["reason"] != "po_overbilled":
            assert str(rec["value"]) in row.message
        # nothing of it reached QuickBooks
        assert written_id(tenant, rec["entity"], rec["id"]) is None
        assert not qbo_documents_numbered(qbo_sandbox, number_of(rec["entity"], RECORDS[rec["entity"]][rec["id"]]))

    # the same again: still held, nothing written
    qbo_sandbox.log.clear()
    run_sync()
    assert all(hold_of(tenant, r["id"], r["entity"]).reason == case["reason"] for r in case["records"])

    for correction in case["corrections"]:
        jaggaer_sandbox.app.upsert(correction["entity"], copy.deepcopy(correction["record"]))
    run = run_sync()
    for rec in case["records"]:
        assert event(run, rec["id"], rec["entity"]).outcome == "created", event(run, rec["id"], rec["entity"]).message
        assert hold_of(tenant, rec["id"], rec["entity"]) is None
        qbo_entity, qbo_id = written_id(tenant, rec["entity"], rec["id"])
        qbo_one(qbo_sandbox, qbo_entity, qbo_id)
        number = number_of(rec["entity"], RECORDS[rec["entity"]][rec["id"]])
        assert len(qbo_documents_numbered(qbo_sandbox, number)) == 1

    qbo_sandbox.log.clear()
    run = run_sync()
    assert qbo_writes(qbo_sandbox) == 0
    assert not any(hold_of(tenant, r["id"], r["entity"]) for r in case["records"])


def test_an_over_billing_invoice_names_what_is_ordered_billed_and_open(run_sync, tenant):
    case = CASES["po_overbilled"]
    [invoice_id] = case["invoices"]
    [po_id] = case["purchase_orders"]
    [first] = case["billed_by"]
    po = RECORDS["purchase_orders"][po_id]
    ordered = po["lineList"][0]["quantity"]
    run = run_sync()
    assert event(run, first, "invoices").outcome == "created"
    hold = hold_of(tenant, invoice_id, "invoices")
    assert hold.reason == "po_overbilled" and hold.waits_on == [po["poNumber"]]
    for text in (f"PO {po['poNumber']} line 1", "quantity 0, ", f"ordered quantity {ordered}",
                 f"billed quantity {ordered}", f"by invoice(s) {first}"):
        assert text in hold.detail, (text, hold.detail)


def test_invoices_that_bill_what_is_still_open_are_written_and_count_for_the_next(
        run_sync, jaggaer_sandbox, qbo_sandbox, tenant):
    """The PO line raised by 3: the held over-billing invoice (1) and a new one (2) fit, a third (2) does not."""
    run_sync()
    [held] = CASES["po_overbilled"]["invoices"]
    po = RECORDS["purchase_orders"][CASES["po_overbilled"]["purchase_orders"][0]]
    line = po["lineList"][0]
    raised = copy.deepcopy(po)
    qty = int(line["quantity"]) + 3
    raised["lineList"][0].update(quantity=str(qty), amount=str(qty * Decimal(line["unitPrice"])))
    raised["total"]["value"] = str(sum(Decimal(ln["amount"]) for ln in raised["lineList"]))
    jaggaer_sandbox.app.upsert("purchase_orders", raised)
    for n in (1, 2):
        inv = copy.deepcopy(RECORDS["invoices"][held])
        inv.update(invoiceId=f"INV-OPEN-{n}", invoiceNumber=f"INV-OPEN-{n}", supplierInvoiceNumber=f"S-OPEN-{n}")
        amount = str(2 * Decimal(line["unitPrice"]))
        inv["lineList"][0].update(quantity="2", amount=amount)
        inv["total"]["value"] = amount
        jaggaer_sandbox.app.upsert("invoices", inv)
    run = run_sync()
    assert event(run, held, "invoices").outcome == "created"
    assert event(run, "INV-OPEN-1", "invoices").outcome == "created"
    hold = hold_of(tenant, "INV-OPEN-2", "invoices")
    assert hold.reason == "po_overbilled" and "which has quantity 0, " in hold.detail
    assert held in hold.detail and "INV-OPEN-1" in hold.detail
    qbo_sandbox.log.clear()
    run_sync()
    assert qbo_writes(qbo_sandbox) == 0


# ---------------------------------------------------------------------------- touch-only and no-change reruns

@pytest.mark.parametrize("entity", ["suppliers", "purchase_orders", "invoices"])
def test_a_touch_only_change_costs_no_qbo_write_and_no_sync_token_move(
        entity, run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    [source_id] = CASES["touch_only"][entity]
    qbo_entity, qbo_id = written_id(tenant, entity, source_id)
    before = qbo_one(qbo_sandbox, qbo_entity, qbo_id)
    old = jaggaer_sandbox.app.get(entity, source_id)
    touched = jaggaer_sandbox.app.patch(entity, source_id, {})          # only lastModTime / lastUpdate moves
    stamp = "lastModTime" if entity == "suppliers" else "lastUpdate"
    assert touched[stamp] != old[stamp] and {k: v for k, v in touched.items() if k != stamp} == {
        k: v for k, v in old.items() if k != stamp}
    qbo_sandbox.log.clear()
    run = run_sync()
    row = event(run, source_id, entity)
    assert row.outcome == "unchanged", row.message
    assert qbo_writes(qbo_sandbox) == 0
    after = qbo_one(qbo_sandbox, qbo_entity, qbo_id)
    assert after["SyncToken"] == before["SyncToken"]
    assert after["MetaData"]["LastUpdatedTime"] == before["MetaData"]["LastUpdatedTime"]


def test_a_supplier_field_we_do_not_map_changes_nothing_in_qbo_but_a_mapped_one_does(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    [cid] = CASES["touch_only"]["suppliers"]
    vendor_id = written_id(tenant, "suppliers", cid)[1]
    token = qbo_one(qbo_sandbox, "Vendor", vendor_id)["SyncToken"]
    jaggaer_sandbox.app.patch("suppliers", cid, {"duns": "987654321"})      # DUNS is not sent to QuickBooks
    qbo_sandbox.log.clear()
    assert event(run_sync(), cid, "suppliers").outcome == "unchanged"
    assert qbo_writes(qbo_sandbox) == 0
    jaggaer_sandbox.app.patch("suppliers", cid, {"taxId": "99-1234567"})
    run = run_sync()
    assert event(run, cid, "suppliers").outcome == "updated"
    vendor = qbo_one(qbo_sandbox, "Vendor", vendor_id)
    assert vendor["SyncToken"] != token and vendor["TaxIdentifier"] == "99-1234567"


def test_a_vendor_link_from_before_content_digests_is_not_rewritten(run_sync, qbo_sandbox, tenant):
    run_sync()
    VendorLink.objects.filter(tenant=tenant).update(content_digest="")
    qbo_sandbox.log.clear()
    run = run_sync(full=True)
    assert qbo_writes(qbo_sandbox) == 0
    assert run.counts["suppliers"].get("updated", 0) == 0
    assert not VendorLink.objects.filter(tenant=tenant, content_digest="").exists()


def test_a_no_change_rerun_writes_nothing_for_suppliers_pos_and_invoices(run_sync, qbo_sandbox, tenant):
    run_sync()
    holds = set(Hold.objects.for_tenant(tenant).values_list("entity", "source_id", "reason"))
    qbo_sandbox.log.clear()
    run = run_sync(full=True)
    assert qbo_writes(qbo_sandbox) == 0
    for entity in ("suppliers", "purchase_orders", "invoices"):
        counts = run.counts[entity]
        assert counts.get("created", 0) == counts.get("updated", 0) == counts.get("failed", 0) == 0, (entity, counts)
        assert counts["unchanged"] > 0
    assert set(Hold.objects.for_tenant(tenant).values_list("entity", "source_id", "reason")) == holds


# ---------------------------------------------------------------------------- generated malformed values

def test_generated_malformed_values_are_held_and_never_written(run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    """Hypothesis mutates one typed field of a well-formed invoice into a malformed value (a bounded number of
    examples, each a new invoice, each through both sandboxes): the run succeeds, the invoice is held with a
    reason, and QuickBooks never gets it."""
    run_sync()
    template = CASES["thousands_separator"]["corrections"][0]["record"]
    fields = st.sampled_from(["lineList[0].amount", "lineList[0].quantity", "lineList[0].unitPrice", "total.value"])
    seen: list[int] = []

    @settings(max_examples=6, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(field=fields, value=malformed_decimals())
    def check(field, value):
        seen.append(1)
        n = len(seen)
        inv = copy.deepcopy(template)
        inv.update(invoiceId=f"INV-HYP-{n}", invoiceNumber=f"INV-HYP-{n}", supplierInvoiceNumber=f"S-HYP-{n}")
        if field == "total.value":
            inv["total"]["value"] = value
        else:
            inv["lineList"][0][field.split(".")[1]] = value
        jaggaer_sandbox.app.upsert("invoices", inv)
        run = run_sync(entities=["invoices"])
        assert run.status == SyncRun.Status.SUCCEEDED
        row = event(run, inv["invoiceId"], "invoices")
        assert row.outcome == "held" and row.reason in REASONS, (field, value, row.outcome, row.message)
        assert field in row.message
        assert written_id(tenant, "invoices", inv["invoiceId"]) is None
        assert not qbo_documents_numbered(qbo_sandbox, inv["invoiceNumber"])

    check()
    assert len(seen) == 6


def test_an_invoice_turned_credit_memo_after_its_bill_was_written_is_held_until_changed_back(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    [invoice_id] = CASES["touch_only"]["invoices"]
    original = jaggaer_sandbox.app.get("invoices", invoice_id)
    memo = copy.deepcopy(original)
    memo["invoiceType"] = "Credit Memo"
    for line in memo["lineList"]:
        line["quantity"], line["amount"] = f"-{line['quantity']}", f"-{line['amount']}"
    memo["total"]["value"] = f"-{memo['total']['value']}"
    jaggaer_sandbox.app.upsert("invoices", memo)
    qbo_sandbox.log.clear()
    run = run_sync()
    row = event(run, invoice_id, "invoices")
    assert (row.outcome, row.reason) == ("held", "document_type_changed")
    assert qbo_writes(qbo_sandbox) == 0 and not qbo_sandbox.app.find("VendorCredit", DocNumber=memo["invoiceNumber"])
    jaggaer_sandbox.app.upsert("invoices", original)
    run = run_sync()
    assert event(run, invoice_id, "invoices").outcome == "unchanged"
    assert hold_of(tenant, invoice_id, "invoices") is None and qbo_writes(qbo_sandbox) == 0


@pytest.mark.parametrize("entity", ["purchase_orders", "invoices"])
def test_a_document_change_quickbooks_never_sees_writes_nothing_and_a_real_one_is_written(
        entity, run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    [source_id] = CASES["touch_only"][entity]
    qbo_entity, qbo_id = written_id(tenant, entity, source_id)
    token = qbo_one(qbo_sandbox, qbo_entity, qbo_id)["SyncToken"]
    record = jaggaer_sandbox.app.get(entity, source_id)
    # the supplier's name on the document and a segment we do not map are not sent to QuickBooks
    supplier = dict(record["supplier"], companyName=record["supplier"]["companyName"] + " (old name)")
    lines = copy.deepcopy(record["lineList"])
    lines[0]["accountingSegments"]["Fund"] = "F-100"
    jaggaer_sandbox.app.patch(entity, source_id, {"supplier": supplier, "lineList": lines})
    qbo_sandbox.log.clear()
    assert event(run_sync(), source_id, entity).outcome == "unchanged"
    assert qbo_writes(qbo_sandbox) == 0 and qbo_one(qbo_sandbox, qbo_entity, qbo_id)["SyncToken"] == token
    lines[0]["description"] = "Grey iron casting, machined"
    jaggaer_sandbox.app.patch(entity, source_id, {"lineList": lines})
    assert event(run_sync(), source_id, entity).outcome == "updated"
    assert qbo_one(qbo_sandbox, qbo_entity, qbo_id)["Line"][0]["Description"].startswith("Grey iron casting, machined")


@pytest.mark.parametrize("entity", ["purchase_orders", "invoices"])
def test_a_document_link_with_the_digest_of_an_earlier_version_is_not_rewritten(
        entity, run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    from sync.transforms import invoices, purchase_orders

    run_sync()
    [source_id] = CASES["touch_only"][entity]
    record = jaggaer_sandbox.app.get(entity, source_id)
    model, key, legacy = ((PurchaseOrderLink, "jaggaer_po_id", purchase_orders.content_digest(record))
                          if entity == "purchase_orders" else
                          (BillLink, "jaggaer_invoice_id", invoices.content_digest(record)))
    model.objects.filter(tenant=tenant, **{key: source_id}).update(content_digest=legacy, source_digest="")
    qbo_sandbox.log.clear()
    assert event(run_sync(full=True), source_id, entity).outcome == "unchanged"
    assert qbo_writes(qbo_sandbox) == 0
    assert model.objects.get(tenant=tenant, **{key: source_id}).content_digest not in ("", legacy)


def test_an_invoice_within_the_open_quantity_but_over_the_open_amount_is_held(
        run_sync, jaggaer_sandbox, tenant):
    run_sync()
    [held] = CASES["po_overbilled"]["invoices"]
    po = RECORDS["purchase_orders"][CASES["po_overbilled"]["purchase_orders"][0]]
    line = po["lineList"][0]
    dearer = copy.deepcopy(RECORDS["invoices"][held])
    price = Decimal(line["unitPrice"]) * 2
    dearer["lineList"][0].update(unitPrice=str(price), amount=str(price))
    dearer["total"]["value"] = str(price)
    jaggaer_sandbox.app.upsert("invoices", dearer)
    run_sync()
    assert hold_of(tenant, held, "invoices").record["lineList"][0]["unitPrice"] == str(price)
    raised = copy.deepcopy(po)
    qty = int(line["quantity"]) + 1                               # one more is open, at the PO's price
    raised["lineList"][0].update(quantity=str(qty), amount=str(qty * Decimal(line["unitPrice"])))
    raised["total"]["value"] = str(sum(Decimal(ln["amount"]) for ln in raised["lineList"]))
    jaggaer_sandbox.app.upsert("purchase_orders", raised)
    run = run_sync()
    row = event(run, held, "invoices")
    assert (row.outcome, row.reason) == ("held", "po_overbilled")
    assert f"amount {price:.2f} on PO" in row.message and f"which has quantity 1, amount {line['unitPrice']}" in (
        row.message)


def test_a_malformed_supplier_holds_its_documents_and_all_are_written_once_it_is_corrected(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    [cid] = CASES["touch_only"]["suppliers"]
    good = jaggaer_sandbox.app.get("suppliers", cid)
    jaggaer_sandbox.app.patch("suppliers", cid, {"currency": "US Dollar", "active": "yes"})
    run = run_sync()
    row = event(run, cid, "suppliers")
    assert (row.outcome, row.reason) == ("held", "invalid_record")
    assert {p["field"] for p in row.data["problems"]} == {"currency", "active"}
    assert written_id(tenant, "suppliers", cid) is None
    [po_id] = CASES["touch_only"]["purchase_orders"]
    assert hold_of(tenant, po_id).reason == "supplier_held" and "invalid_record" in hold_of(tenant, po_id).detail
    jaggaer_sandbox.app.upsert("suppliers", good)
    run = run_sync()
    assert event(run, cid, "suppliers").outcome in ("created", "updated")     # a QBO vendor of this name existed
    assert event(run, po_id).outcome == "created"
    qbo_sandbox.log.clear()
    run_sync()
    assert qbo_writes(qbo_sandbox) == 0


def test_a_malformed_catalog_row_is_skipped_and_named_and_the_run_goes_on(run_sync, jaggaer_sandbox, tenant):
    from sync.models import JaggaerCatalogItem

    run_sync(entities=["catalogs"])
    jaggaer_sandbox.app.patch("gl_accounts", "6100", {"active": "no", "name": 6100})
    run = run_sync(entities=["catalogs"])
    assert run.status == SyncRun.Status.SUCCEEDED
    [problem] = [p for p in run.counts["catalogs"]["problems"] if "6100" in p]
    assert "'active'" in problem and "true or false" in problem
    item = JaggaerCatalogItem.objects.get(tenant=tenant, kind="gl_account", code="6100")
    assert item.present and item.active                       # what we knew of it stays until JAGGAER corrects it

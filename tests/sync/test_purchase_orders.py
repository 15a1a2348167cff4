"""JAGGAER purchase orders -> QBO PurchaseOrders against both sandboxes (`small` dataset plus targeted cases)."""

from decimal import Decimal

import pytest

from audit.models import RecordEvent
from sync.models import Hold, PurchaseOrderLink, QboCatalogItem, SyncRun, SyncSettings, VendorLink
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from sync.transforms.documents import short_doc_number
from sync.transforms.vendors import supplier_to_vendor
from tests.sync.helpers import CASES, DATASET, SUPPLIERS, case_ids, qbo_writes

pytestmark = pytest.mark.django_db

POS = {p["poId"]: p for p in DATASET.jaggaer["purchase_orders"]}
DEPARTMENT_NAMES = {d["code"]: d["name"] for d in DATASET.jaggaer["departments"]}


def qbo_one(server, entity, obj_id):
    found = server.app.find(entity, Id=str(obj_id))
    assert len(found) == 1, f"{entity} {obj_id} not in the QBO sandbox"
    return found[0]


def link_of(tenant, po_id) -> PurchaseOrderLink:
    return PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id=po_id)


def event(run, source_id, entity="purchase_orders") -> RecordEvent:
    return RecordEvent.objects.get(run_id=run.pk, entity=entity, source_id=source_id)


def hold_of(tenant, source_id, entity="purchase_orders") -> Hold | None:
    return Hold.objects.for_tenant(tenant).filter(entity=entity, source_id=source_id).first()


def single_department(po) -> bool:
    codes = {ln["accountingSegments"]["DepartmentCode"] for ln in po["lineList"]}
    return codes == {po["accountingSegments"]["DepartmentCode"]}


def several_lines_po(tenant, status="Issued"):
    """A written PO with several lines on one department (the dataset has plenty)."""
    written = set(PurchaseOrderLink.objects.for_tenant(tenant).exclude(qbo_po_id="")
                  .values_list("jaggaer_po_id", flat=True))
    return next(p for p in POS.values() if p["poId"] in written and p["status"] == status
                and len(p["lineList"]) >= 3 and single_department(p))


def test_approved_issued_and_closed_pos_are_written_with_their_lines_accounts_and_department(
        run_sync, qbo_sandbox, tenant):
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    links = {link.jaggaer_po_id: link for link in PurchaseOrderLink.objects.for_tenant(tenant).exclude(qbo_po_id="")}
    assert len(links) == run.counts["purchase_orders"]["created"] > 40
    accounts = {a["Id"]: a for a in qbo_sandbox.app.state("Account")}
    departments = {d["Id"]: d for d in qbo_sandbox.app.state("Department")}
    ap = next(a for a in accounts.values() if a["AccountType"] == "Accounts Payable")
    vendors = dict(VendorLink.objects.for_tenant(tenant).values_list("jaggaer_company_id", "qbo_vendor_id"))
    for po_id, link in links.items():
        source = POS[po_id]
        po = qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)
        assert source["status"] in ("Approved", "Issued", "Closed")
        assert po["POStatus"] == ("Closed" if source["status"] == "Closed" else "Open") or po.get("LinkedTxn")
        assert po["DocNumber"] == link.doc_number == short_doc_number(source["poNumber"])
        assert po["VendorRef"]["value"] == vendors[source["supplier"]["companyId"]]
        assert po["APAccountRef"]["value"] == ap["Id"]
        assert po["TxnDate"] == source["orderDate"]
        assert len(po["Line"]) == len(source["lineList"])
        for line, qbo_line in zip(source["lineList"], po["Line"], strict=True):
            account = accounts[qbo_line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]]
            code = line["accountingSegments"]["Account"]
            assert account.get("AcctNum", code) == code
            assert Decimal(str(qbo_line["Amount"])) == Decimal(line["amount"]).quantize(Decimal("0.01"))
            assert line["description"] in qbo_line["Description"]
            assert f"{line['quantity']} x {line['unitPrice']}" in qbo_line["Description"]
            assert link.lines[str(line["lineNumber"])] == qbo_line["Id"]
        assert departments[po["DepartmentRef"]["value"]]["Name"] == DEPARTMENT_NAMES[
            source["accountingSegments"]["DepartmentCode"]]
    several = several_lines_po(tenant)
    assert len(qbo_one(qbo_sandbox, "PurchaseOrder", links[several["poId"]].qbo_po_id)["Line"]) >= 3


def test_a_draft_po_waits_and_is_written_once_approved_releasing_its_invoice_in_the_same_run(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    draft = case_ids("po_draft", "purchase_orders")[0]
    invoice = case_ids("invoice_po_draft", "invoices")[0]
    run = run_sync()
    row = event(run, draft)
    assert (row.outcome, row.reason) == ("skipped", "po_not_approved")
    assert link_of(tenant, draft).qbo_po_id == "" and link_of(tenant, draft).jaggaer_status == "Draft"
    assert hold_of(tenant, invoice, "invoices").reason == "po_not_synced"
    assert "Draft" in hold_of(tenant, invoice, "invoices").detail

    jaggaer_sandbox.app.approve_po(draft)
    run = run_sync()
    link = link_of(tenant, draft)
    assert event(run, draft).outcome == "created" and link.qbo_po_id
    assert event(run, invoice, "invoices").outcome == "created"
    # the invoice bills the whole PO, so QuickBooks closed it once the bill was linked
    po = qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)
    assert po["LinkedTxn"][0]["TxnType"] == "Bill" and po["POStatus"] == "Closed"
    assert hold_of(tenant, invoice, "invoices") is None


def test_a_po_cancelled_before_it_was_written_is_skipped_and_holds_its_invoices(run_sync, qbo_sandbox, tenant):
    cancelled = case_ids("po_cancelled", "purchase_orders")[0]
    run = run_sync()
    assert (event(run, cancelled).outcome, event(run, cancelled).reason) == ("skipped", "po_cancelled")
    assert not qbo_sandbox.app.find("PurchaseOrder", DocNumber=POS[cancelled]["poNumber"])
    invoice = case_ids("invoice_po_cancelled", "invoices")[0]
    assert hold_of(tenant, invoice, "invoices").reason == "po_cancelled"


def test_a_written_po_cancelled_later_is_closed_in_qbo_and_audited(run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    unbilled = {po["Id"] for po in qbo_sandbox.app.state("PurchaseOrder") if not po.get("LinkedTxn")}
    link = PurchaseOrderLink.objects.filter(tenant=tenant, jaggaer_status="Issued", qbo_po_id__in=unbilled).first()
    po = POS[link.jaggaer_po_id]
    assert qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)["POStatus"] == "Open"
    jaggaer_sandbox.app.cancel_po(po["poId"])
    qbo_sandbox.log.clear()
    run = run_sync()
    qbo_po = qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)
    assert qbo_po["POStatus"] == "Closed"
    assert "Cancelled in JAGGAER" in qbo_po["PrivateNote"]
    row = event(run, po["poId"])
    assert (row.outcome, row.reason, row.qbo_id) == ("updated", "po_cancelled", link.qbo_po_id)
    assert link_of(tenant, po["poId"]).jaggaer_status == "Cancelled"
    assert len(qbo_sandbox.app.state("PurchaseOrder")) == PurchaseOrderLink.objects.exclude(qbo_po_id="").count()
    assert qbo_writes(qbo_sandbox) == 1


def test_a_po_update_is_sparse_with_the_current_sync_token_and_keeps_its_line_ids(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    # a fully invoiced PO: the bills written against it moved its SyncToken after we wrote it
    po_id = next(p for p in CASES["full_invoices"]["purchase_order"]
                 if POS[p]["status"] == "Issued" and len(POS[p]["lineList"]) >= 2 and single_department(POS[p])
                 and PurchaseOrderLink.objects.filter(jaggaer_po_id=p).exclude(qbo_po_id="").exists())
    link = link_of(tenant, po_id)
    before = qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)
    realm = qbo_sandbox.app.realm()
    with realm.lock:    # finance adds a message for the vendor in QuickBooks: a sparse update keeps it
        realm.update("PurchaseOrder", {"Id": before["Id"], "SyncToken": before["SyncToken"], "sparse": True,
                                       "Memo": "Deliver to dock 4"}, set())
    token = qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)["SyncToken"]
    assert token != before["SyncToken"]
    lines = [dict(ln) for ln in POS[po_id]["lineList"]]
    lines[0]["quantity"], lines[0]["amount"] = "3", str(Decimal(lines[0]["unitPrice"]) * 3)
    lines.append({"description": "Expedite fee", "quantity": "1", "unitPrice": "75.00", "amount": "75.00",
                  "accountingSegments": dict(lines[0]["accountingSegments"])})
    jaggaer_sandbox.app.set_po_lines(po_id, lines)
    qbo_sandbox.log.clear()
    run = run_sync()
    assert event(run, po_id).outcome == "updated"
    after = qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)
    assert int(after["SyncToken"]) == int(token) + 1
    assert after["Memo"] == "Deliver to dock 4"
    assert [ln["Id"] for ln in after["Line"][:len(before["Line"])]] == [ln["Id"] for ln in before["Line"]]
    assert len(after["Line"]) == len(before["Line"]) + 1
    assert Decimal(str(after["Line"][0]["Amount"])) == Decimal(lines[0]["unitPrice"]) * 3
    assert link_of(tenant, po_id).lines[str(len(lines))] == after["Line"][-1]["Id"]
    assert qbo_writes(qbo_sandbox) == 1        # the update; its read and look-ups are not writes


def test_long_po_numbers_get_a_deterministic_short_docnumber_and_the_full_number_in_the_memo(
        run_sync, qbo_sandbox, tenant):
    run_sync()
    docs = set()
    for po_id, number in zip(case_ids("po_number_over_21_chars", "purchase_orders"),
                             CASES["po_number_over_21_chars"]["poNumber"], strict=True):
        link = link_of(tenant, po_id)
        po = qbo_one(qbo_sandbox, "PurchaseOrder", link.qbo_po_id)
        assert len(po["DocNumber"]) <= 21 and po["DocNumber"] == link.doc_number == short_doc_number(number)
        assert po["DocNumber"].startswith(number[:12]) and number in po["PrivateNote"]
        assert link.po_number == number
        # both ways: by the JAGGAER number and by the QBO short form
        assert PurchaseOrderLink.objects.get(tenant=tenant, po_number=number).qbo_po_id == link.qbo_po_id
        assert PurchaseOrderLink.objects.get(tenant=tenant, doc_number=po["DocNumber"]).jaggaer_po_id == po_id
        docs.add(po["DocNumber"])
    assert len(docs) == 2
    assert short_doc_number("PO-2026-PLANT1-MAINT-SHUTDOWN-07") == short_doc_number("PO-2026-PLANT1-MAINT-SHUTDOWN-07")
    assert short_doc_number("PO-2026-PLANT1-MAINT-SHUTDOWN-07") != short_doc_number("PO-2026-PLANT1-MAINT-SHUTDOWN-08")


def test_lines_on_several_departments_are_held_then_written_with_a_class_per_line(
        run_sync, qbo_sandbox, tenant):
    mixed = [p for p in POS.values() if not single_department(p) and p["status"] in ("Approved", "Issued", "Closed")
             and p["currency"] == "USD" and "poNumber" in p]
    run_sync()
    held = [p for p in mixed if (h := hold_of(tenant, p["poId"])) and h.reason == "multiple_departments"]
    assert held
    codes = {ln["accountingSegments"]["DepartmentCode"] for ln in held[0]["lineList"]}
    assert set(hold_of(tenant, held[0]["poId"]).waits_on) >= codes

    SyncSettings.objects.update_or_create(tenant=tenant, defaults={"department_policy": "class_per_line"})
    run_sync()
    assert hold_of(tenant, held[0]["poId"]).reason == "class_missing"

    for name in DEPARTMENT_NAMES.values():
        qbo_sandbox.app.create("Class", {"Name": name})
    run = run_sync()
    classes = {c["Id"]: c["Name"] for c in qbo_sandbox.app.state("Class")}
    for source in held:
        if hold_of(tenant, source["poId"]) is not None:
            continue      # held for another reason as well (an unmapped code)
        assert event(run, source["poId"]).outcome == "created"
        po = qbo_one(qbo_sandbox, "PurchaseOrder", link_of(tenant, source["poId"]).qbo_po_id)
        for line, qbo_line in zip(source["lineList"], po["Line"], strict=True):
            class_ref = qbo_line["AccountBasedExpenseLineDetail"]["ClassRef"]["value"]
            assert classes[class_ref] == DEPARTMENT_NAMES[line["accountingSegments"]["DepartmentCode"]]
    assert any(event(run, s["poId"]).outcome == "created" for s in held)


def test_a_supplier_seen_first_on_a_po_is_fetched_and_synced_in_the_same_run(
        run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run = run_sync(entities=["catalogs", "purchase_orders"])
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    created = run.counts["suppliers"]["created"]
    assert created > 20 and VendorLink.objects.for_tenant(tenant).count() >= created
    fetched = jaggaer_sandbox.log.count(method="GET", endpoint="/j1p/api/public/ja/v1/companyprofiles/{id}")
    suppliers_on_pos = {p["supplier"]["companyId"] for p in POS.values()
                        if p["status"] in ("Approved", "Issued", "Closed", "Cancelled") and "poNumber" in p}
    assert 0 < fetched <= len(suppliers_on_pos)
    assert run.counts["purchase_orders"]["created"] > 40
    supplier_rows = RecordEvent.objects.filter(run_id=run.pk, entity="suppliers")
    assert supplier_rows.filter(outcome="created").count() == created
    # a PO whose supplier cannot be synced (two suppliers with one name) is held with that reason
    second = case_ids("duplicate_supplier_case")[1]
    pos_of_second = [p["poId"] for p in POS.values() if p["supplier"]["companyId"] == second
                     and p["status"] in ("Approved", "Issued", "Closed")]
    for po_id in pos_of_second:
        hold = hold_of(tenant, po_id)
        assert hold.reason == "supplier_held" and "duplicate_supplier_name" in hold.detail
    # the next full run does not fetch them again
    jaggaer_sandbox.log.clear()
    run_sync()
    assert jaggaer_sandbox.log.count(method="GET", endpoint="/j1p/api/public/ja/v1/companyprofiles/{id}") <= len(
        pos_of_second) and not qbo_sandbox.app.find("Vendor", DisplayName="")


def test_a_po_of_a_held_supplier_is_released_once_the_supplier_is(run_sync, jaggaer_sandbox, tenant):
    run_sync()
    second = case_ids("duplicate_supplier_case")[1]
    pos_of_second = [p["poId"] for p in POS.values() if p["supplier"]["companyId"] == second
                     and p["status"] in ("Approved", "Issued", "Closed") and single_department(p)
                     and p["currency"] == "USD"]
    assert pos_of_second, "the small dataset gives the held supplier a simple PO"
    assert all(hold_of(tenant, p).reason == "supplier_held" for p in pos_of_second)
    jaggaer_sandbox.app.rename_supplier(second, "Acme Castings Ltd - Springfield")
    run = run_sync()
    for po_id in pos_of_second:
        assert hold_of(tenant, po_id) is None and event(run, po_id).outcome == "created"


def test_the_ap_account_comes_from_the_settings_and_a_po_waits_when_it_is_ambiguous(
        run_sync, qbo_sandbox, tenant):
    second_ap = qbo_sandbox.app.create("Account", {"Name": "Accounts Payable - Tooling", "AccountType":
                                                   "Accounts Payable", "AccountSubType": "AccountsPayable"})
    run = run_sync()
    assert run.counts["purchase_orders"].get("created", 0) == 0
    hold = Hold.objects.for_tenant(tenant).filter(entity="purchase_orders", reason="ap_account_missing").first()
    assert hold and "several" in hold.detail
    item = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", qbo_id=second_ap["Id"])
    from sync.mappings.services import sync_settings_update
    sync_settings_update(tenant=tenant, ap_account_id=item.qbo_id)
    run = run_sync()
    assert run.counts["purchase_orders"]["created"] > 40
    assert not Hold.objects.for_tenant(tenant).filter(reason="ap_account_missing").exists()
    assert {po["APAccountRef"]["value"] for po in qbo_sandbox.app.state("PurchaseOrder")} == {second_ap["Id"]}


def test_a_foreign_currency_po_is_held_unless_multicurrency_is_on(run_sync, qbo_sandbox, tenant):
    foreign = [p for p in case_ids("non_usd", "purchase_orders") if single_department(POS[p])
               and POS[p]["status"] in ("Approved", "Issued", "Closed")]
    run_sync()
    for po_id in foreign:
        hold = hold_of(tenant, po_id)
        assert hold.reason == "currency_unsupported" and POS[po_id]["currency"] in hold.detail
    qbo_sandbox.app.set_multicurrency(True)
    run = run_sync()
    for po_id in foreign:
        if hold_of(tenant, po_id):
            continue
        assert event(run, po_id).outcome == "created"
        po = qbo_one(qbo_sandbox, "PurchaseOrder", link_of(tenant, po_id).qbo_po_id)
        assert po["CurrencyRef"]["value"] == POS[po_id]["currency"]
    assert any(hold_of(tenant, p) is None for p in foreign)


def test_malformed_pos_are_held_with_the_field_named_and_the_run_goes_on(run_sync, tenant):
    run = run_sync()
    for record in CASES["missing_required_fields"]["records"] + CASES["malformed_dates"]["records"]:
        if record["entity"] != "purchase_orders":
            continue
        row = event(run, record["id"])
        assert (row.outcome, row.reason) == ("held", "invalid_record")
        assert record["field"] in row.message
        assert hold_of(tenant, record["id"]).reason == "invalid_record"
    assert run.status == SyncRun.Status.SUCCEEDED


def test_a_second_run_with_no_change_writes_no_purchase_order(run_sync, qbo_sandbox, tenant):
    run_sync()
    qbo_sandbox.log.clear()
    run = run_sync(full=True)
    assert qbo_writes(qbo_sandbox) == 0
    counts = run.counts["purchase_orders"]
    assert counts.get("created", 0) == counts.get("updated", 0) == 0 and counts["unchanged"] > 40


def test_the_department_policy_is_a_tenant_setting_in_the_api(alice, bob, tenant):
    url = f"/api/v1/tenants/{tenant.id}/sync-settings"
    assert alice.client.get(url).json()["department_policy"] == "hold"
    response = alice.client.patch(url, {"department_policy": "class_per_line"}, format="json")
    assert response.status_code == 200 and response.json()["department_policy"] == "class_per_line"
    assert SyncSettings.objects.get(tenant=tenant).department_policy == "class_per_line"
    assert alice.client.patch(url, {"department_policy": "split"}, format="json").status_code == 400
    assert bob.client.patch(url, {"department_policy": "hold"}, format="json").status_code == 404
    assert SyncSettings.objects.get(tenant=tenant).department_policy == "class_per_line"


def test_a_po_of_a_supplier_quickbooks_refused_in_this_run_waits_and_the_supplier_is_not_fetched_again(
        qbo_sandbox, jaggaer_sandbox, tenant, qbo_client, jaggaer_client, monkeypatch):
    """The hold decision reads this run's own state (links, holds, failures), not the audit log."""
    in_cases = {str(i) for case in CASES.values() for ids in case.values() for i in ids}
    by_name = {supplier_to_vendor(s).display_name: c for c, s in SUPPLIERS.items() if c not in in_cases}
    batches, taken = [], []
    handle = qbo_sandbox.app.handle

    def handle_creating_a_vendor_first(req):
        # the second batch of suppliers reaches QBO after a person created a vendor with the name of one in it
        if req.method == "POST" and req.path.endswith("/batch") and not taken:
            names = [item["Vendor"]["DisplayName"] for item in req.json()["BatchItemRequest"] if "Vendor" in item]
            batches.append(names)
            eligible = [by_name[n] for n in names if n in by_name and any(
                p["supplier"]["companyId"] == by_name[n] and p["status"] in ("Approved", "Issued", "Closed")
                for p in POS.values())]
            if len(batches) > 1 and eligible:
                taken.append(eligible[0])
                qbo_sandbox.app.create("Vendor", {"DisplayName": supplier_to_vendor(SUPPLIERS[taken[0]]).display_name})
        return handle(req)

    monkeypatch.setattr(qbo_sandbox.app, "handle", handle_creating_a_vendor_first)
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND)
    run = sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    cid = taken[0]
    refused = event(run, cid, entity="suppliers")
    assert (refused.outcome, refused.reason) == ("failed", "qbo_rejected") and hold_of(tenant, cid, "suppliers") is None
    pos = [p["poId"] for p in POS.values() if p["supplier"]["companyId"] == cid
           and p["status"] in ("Approved", "Issued", "Closed")]
    waiting = [hold_of(tenant, po_id) for po_id in pos]
    assert any(h is not None and h.reason == "supplier_invalid" and f"Supplier {cid} could not be synced: QuickBooks "
               "rejected it" in h.detail for h in waiting)
    assert not PurchaseOrderLink.objects.for_tenant(tenant).filter(jaggaer_po_id__in=pos).exclude(qbo_po_id="")
    assert not [e for e in jaggaer_sandbox.log.entries() if e["method"] == "GET" and e["path"].endswith(f"/{cid}")]

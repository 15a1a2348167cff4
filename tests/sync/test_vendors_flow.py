"""Suppliers -> vendors against both sandboxes over HTTP, with the `small` dataset."""

import pytest

from audit.models import RecordEvent
from sync.models import Cursor, Hold, SyncRun, VendorLink
from tests.sync.helpers import CASES, SUPPLIERS, case_ids, qbo_writes, vendors_by_name

pytestmark = pytest.mark.django_db


def test_first_run_creates_the_expected_vendors_and_links_the_existing_ones(run_sync, qbo_sandbox, tenant):
    before = {v["Id"] for v in qbo_sandbox.app.state("Vendor")}
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message

    nameless = set(case_ids("missing_required_fields"))
    duplicates = {case_ids("duplicate_supplier_case")[1], case_ids("duplicate_supplier_trailing_space")[1]}
    other_case = set(case_ids("qbo_vendor_other_case"))
    links = dict(VendorLink.objects.for_tenant(tenant).values_list("jaggaer_company_id", "qbo_vendor_id"))
    assert set(links) == set(SUPPLIERS) - nameless - duplicates
    vendors = qbo_sandbox.app.state("Vendor")
    created = [v for v in vendors if v["Id"] not in before]
    assert len(created) == len(SUPPLIERS) - len(nameless) - len(duplicates) - len(other_case)
    # the pre-existing vendors (other letter case) are linked, not copied
    for cid in other_case:
        assert links[cid] in before
    assert all(len(same) == 1 for same in vendors_by_name(qbo_sandbox).values())
    # the nameless supplier is held (invalid_record) with the two duplicates: a malformed record is not "failed"
    assert run.counts["suppliers"] == {"created": len(created), "updated": len(other_case), "held": 3}


def test_every_record_gets_one_audit_row(run_sync, tenant):
    run = run_sync()
    rows = RecordEvent.objects.for_tenant(tenant).filter(run_id=run.pk, entity="suppliers")
    assert sorted(rows.values_list("source_id", flat=True)) == sorted(SUPPLIERS)
    linked = rows.get(source_id=case_ids("qbo_vendor_other_case")[0])
    assert (linked.outcome, linked.reason) == ("updated", "linked_existing")
    assert rows.filter(outcome="created").exclude(qbo_id="").count() == rows.filter(outcome="created").count()


def test_a_second_run_with_no_change_writes_nothing(run_sync, qbo_sandbox, tenant):
    run_sync()
    qbo_sandbox.log.clear()
    run = run_sync()
    assert qbo_writes(qbo_sandbox) == 0
    assert run.counts["suppliers"].get("created", 0) == run.counts["suppliers"].get("updated", 0) == 0
    # the still-held duplicates and the nameless supplier are retried, the rest are read again only inside the
    # overlap window
    assert Hold.objects.for_tenant(tenant).filter(entity="suppliers").count() == 3


def test_a_full_run_with_no_change_writes_nothing_and_reports_unchanged(run_sync, qbo_sandbox):
    run_sync()
    qbo_sandbox.log.clear()
    run = run_sync(full=True)
    assert qbo_writes(qbo_sandbox) == 0
    assert run.counts["suppliers"]["unchanged"] == len(SUPPLIERS) - 3


def test_a_rename_updates_its_one_vendor(run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    cid = case_ids("supplier_renamed")[0]
    link = VendorLink.objects.get(tenant=tenant, jaggaer_company_id=cid)
    count = len(qbo_sandbox.app.state("Vendor"))
    jaggaer_sandbox.app.rename_supplier(cid, "Kessler Forge Holdings Inc.")
    qbo_sandbox.log.clear()
    run = run_sync()
    assert run.counts["suppliers"]["updated"] == 1
    assert len(qbo_sandbox.app.state("Vendor")) == count
    vendor = qbo_sandbox.app.find("Vendor", Id=link.qbo_vendor_id)[0]
    assert vendor["DisplayName"] == "Kessler Forge Holdings Inc."
    assert qbo_writes(qbo_sandbox) == 1


def test_a_name_taken_by_a_customer_gets_the_vendor_suffix(run_sync, qbo_sandbox, tenant):
    run = run_sync()
    cid = case_ids("supplier_name_equals_qbo_customer")[0]
    name = CASES["supplier_name_equals_qbo_customer"]["customer_display_name"]
    link = VendorLink.objects.get(tenant=tenant, jaggaer_company_id=cid)
    assert link.display_name == f"{name} (V)"
    row = RecordEvent.objects.get(run_id=run.pk, source_id=cid)
    assert row.outcome == "created" and "customer or employee" in row.message


def test_duplicate_supplier_names_hold_the_second_naming_both(run_sync, tenant):
    run_sync()
    for case in ("duplicate_supplier_case", "duplicate_supplier_trailing_space"):
        first, second = case_ids(case)
        hold = Hold.objects.get(tenant=tenant, entity="suppliers", source_id=second)
        assert hold.reason == "duplicate_supplier_name"
        assert first in hold.detail and second in hold.detail
        assert hold.waits_on == [first]


def test_a_held_duplicate_is_released_when_renamed(run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    second = case_ids("duplicate_supplier_case")[1]
    jaggaer_sandbox.app.rename_supplier(second, "Acme Castings Ltd - Springfield")
    run = run_sync()
    assert not Hold.objects.filter(tenant=tenant, source_id=second).exists()
    assert RecordEvent.objects.get(run_id=run.pk, source_id=second).outcome == "created"
    assert qbo_sandbox.app.find("Vendor", DisplayName="Acme Castings Ltd - Springfield")


@pytest.mark.parametrize("case", ["name_colon", "name_apostrophe", "name_accents", "name_non_latin",
                                  "name_tab", "name_over_500_chars"])
def test_messy_names_are_written_cleaned_to_qbo_rules(run_sync, qbo_sandbox, tenant, case):
    run_sync()
    for cid in case_ids(case):
        link = VendorLink.objects.get(tenant=tenant, jaggaer_company_id=cid)
        vendor = qbo_sandbox.app.find("Vendor", Id=link.qbo_vendor_id)[0]
        name = vendor["DisplayName"]
        assert ":" not in name and "\t" not in name and "\n" not in name and len(name) <= 500
        source = SUPPLIERS[cid]["companyName"]
        if case in ("name_apostrophe", "name_accents", "name_non_latin"):
            assert name == source
    if case == "name_over_500_chars":
        assert len(name) == 500


def test_fields_carried_and_an_inactive_supplier_makes_an_inactive_vendor(run_sync, qbo_sandbox, tenant):
    run_sync()
    cid = case_ids("inactive_supplier")[0]
    link = VendorLink.objects.get(tenant=tenant, jaggaer_company_id=cid)
    vendor = qbo_sandbox.app.find("Vendor", Id=link.qbo_vendor_id)[0]
    supplier = SUPPLIERS[cid]
    assert vendor["Active"] is False
    assert vendor["PrimaryEmailAddr"]["Address"] == supplier["primaryContact"]["email"]
    assert vendor["BillAddr"]["City"] == supplier["primaryAddress"]["city"]
    assert vendor.get("TaxIdentifier") or vendor.get("TaxIdentifierMasked") or True
    if supplier["erpNumber"]:
        assert vendor["AcctNum"] == supplier["erpNumber"]
    if supplier["paymentTerms"] in ("Net 30", "Net 15", "Due on receipt"):
        assert vendor["TermRef"]["name"] == supplier["paymentTerms"]


def test_updates_are_sparse_and_keep_what_finance_edited(run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    run_sync()
    cid = case_ids("supplier_renamed")[0]
    link = VendorLink.objects.get(tenant=tenant, jaggaer_company_id=cid)
    vendor = qbo_sandbox.app.find("Vendor", Id=link.qbo_vendor_id)[0]
    realm = qbo_sandbox.app.realm()
    with realm.lock:
        realm.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                "Notes": "Call before paying"}, set())
    jaggaer_sandbox.app.rename_supplier(cid, "Kessler Forge Group")
    run_sync()
    after = qbo_sandbox.app.find("Vendor", Id=link.qbo_vendor_id)[0]
    assert after["DisplayName"] == "Kessler Forge Group"
    assert after["Notes"] == "Call before paying"


def test_a_malformed_supplier_is_held_naming_the_field_and_the_run_goes_on(run_sync, tenant):
    run = run_sync()
    cid = case_ids("missing_required_fields")[0]
    row = RecordEvent.objects.get(run_id=run.pk, source_id=cid)
    assert (row.outcome, row.reason) == ("held", "invalid_record")
    assert "companyName" in row.message
    assert row.data["problems"][0] == {"field": "companyName", "value": "missing", "expected": "text"}
    assert Hold.objects.for_tenant(tenant).get(entity="suppliers", source_id=cid).reason == "invalid_record"
    assert run.status == SyncRun.Status.SUCCEEDED


def test_the_cursor_advances_to_the_newest_modification(run_sync, tenant):
    run_sync()
    cursor = Cursor.objects.get(tenant=tenant, entity="suppliers")
    newest = max(s["lastModTime"] for s in SUPPLIERS.values())
    assert cursor.high_water_mark.strftime("%Y-%m-%dT%H:%M:%SZ") == newest


def test_a_hold_held_again_keeps_when_it_was_first_held(run_sync, jaggaer_sandbox, tenant):
    first_run = run_sync()
    first, second = case_ids("duplicate_supplier_case")
    before = Hold.objects.get(tenant=tenant, entity="suppliers", source_id=second)
    assert before.last_run_id == first_run.pk
    jaggaer_sandbox.app.rename_supplier(second, SUPPLIERS[first]["companyName"].upper())   # still the same name
    run = run_sync()
    after = Hold.objects.get(pk=before.pk)
    assert (after.reason, after.waits_on, after.last_run_id) == ("duplicate_supplier_name", [first], run.pk)
    assert after.record["companyName"] == SUPPLIERS[first]["companyName"].upper()
    assert after.source_digest != before.source_digest
    assert after.first_held_at == before.first_held_at and after.last_held_at > before.last_held_at

"""A daily run learns what changed in QuickBooks with one CDC request, and sees it as a full read would."""

import datetime as dt

import pytest
from django.utils import timezone

from sync.models import Hold, Mapping, QboCatalogItem, QboSnapshot, SyncRun, VendorLink
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from tests.sync.conftest import make_qbo_client

pytestmark = pytest.mark.django_db


def qbo_requests(server) -> list[str]:
    """The QBO API requests the sandbox answered (not the token endpoint), as `METHOD endpoint`."""
    return [f"{e['method']} {e['endpoint'].split('/{realm}')[-1]}" for e in server.log.entries()
            if "/v3/company/" in e["path"]]


def test_first_run_reads_whole_then_a_no_change_run_costs_one_cdc_request(run_sync, qbo_sandbox, tenant):
    first = run_sync()
    assert first.status == SyncRun.Status.SUCCEEDED, first.error_message
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    assert snapshot.full_read_at and snapshot.changed_since and snapshot.vendors
    qbo_sandbox.log.clear()
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    sent = qbo_requests(qbo_sandbox)
    assert len(sent) <= 2, sent
    assert sent.count("GET /cdc") == 1 and not any("/query" in s for s in sent), sent
    # the preferences are kept from the first run; read again once only to confirm a currency refusal (the small
    # dataset's foreign-currency documents, held)
    assert sent in (["GET /cdc"], ["GET /cdc", "GET /preferences"]), sent
    assert run.counts["suppliers"].get("created", 0) == run.counts["suppliers"].get("updated", 0) == 0


def _runs(run_sync, n=1):
    for _ in range(n):
        run = run_sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    return run


def test_changes_made_in_quickbooks_between_runs_are_seen_through_cdc(run_sync, qbo_sandbox, jaggaer_sandbox,
                                                                       tenant):
    _runs(run_sync)
    app, jaggaer = qbo_sandbox.app, jaggaer_sandbox.app
    # in QuickBooks: an account a mapping uses made inactive, a linked vendor renamed, another deleted, a
    # customer added
    mapping = Mapping.objects.for_tenant(tenant).filter(kind="gl_account", state=Mapping.State.MAPPED).first()
    account_id = mapping.qbo_item.qbo_id
    app.deactivate("Account", account_id)
    renamed, deleted, edited = VendorLink.objects.for_tenant(tenant).filter(attention="").order_by(
        "jaggaer_company_id")[:3]
    vendor = next(v for v in app.state("Vendor") if v["Id"] == renamed.qbo_vendor_id)
    realm = app.realm()
    with realm.lock:
        realm.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                "DisplayName": "Renamed In QuickBooks"})
    app.delete_entity("Vendor", deleted.qbo_vendor_id)
    app.create("Customer", {"DisplayName": "Snapshot Customer Name"})
    # in JAGGAER: a new supplier named as the renamed vendor, the deleted vendor's supplier and another changed
    newcomer = jaggaer.add_supplier("Renamed In QuickBooks")
    jaggaer.rename_supplier(deleted.jaggaer_company_id, "Supplier Of A Deleted Vendor")
    jaggaer.rename_supplier(edited.jaggaer_company_id, "Edited Supplier Name")
    qbo_sandbox.log.clear()
    run = _runs(run_sync)
    sent = qbo_requests(qbo_sandbox)
    assert sent.count("GET /cdc") == 1 and not any("/query" in s for s in sent), sent
    assert len(sent) <= 6, sent
    # the account: inactive here too, its mapping no longer mapped
    assert QboCatalogItem.objects.for_tenant(tenant).get(kind="gl_account", qbo_id=account_id).active is False
    mapping.refresh_from_db()
    assert mapping.state != Mapping.State.MAPPED
    # the renamed vendor's new name is taken: the newcomer waits on its owner, no second vendor of that name
    hold = Hold.objects.for_tenant(tenant).get(entity="suppliers", source_id=newcomer["companyId"])
    assert hold.reason == "duplicate_supplier_name", hold.detail
    assert [v["DisplayName"] for v in app.state("Vendor")].count("Renamed In QuickBooks") == 1
    # the deleted vendor: its changed supplier is held, not written to a vendor that is gone
    hold = Hold.objects.for_tenant(tenant).get(entity="suppliers", source_id=deleted.jaggaer_company_id)
    assert hold.reason == "vendor_missing", hold.detail
    # the edited supplier: its vendor updated with the SyncToken CDC brought
    assert any(v["DisplayName"] == "Edited Supplier Name" and v["Id"] == edited.qbo_vendor_id
               for v in app.state("Vendor"))
    assert run.counts["suppliers"].get("updated") == 1, run.counts
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    assert deleted.qbo_vendor_id not in snapshot.vendors
    assert snapshot.vendors[renamed.qbo_vendor_id]["DisplayName"] == "Renamed In QuickBooks"
    assert "Snapshot Customer Name" in snapshot.other_names.values()


@pytest.mark.parametrize("age", ["cursor", "full_read"])
def test_an_old_cursor_or_a_due_weekly_read_reads_the_lists_whole(run_sync, qbo_sandbox, tenant, age, settings):
    _runs(run_sync)
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    if age == "cursor":    # older than CDC's 30 days: QBO would refuse the CDC request
        snapshot.changed_since -= dt.timedelta(days=31)
        settings.QBO_FULL_READ_DAYS = 60
    else:
        snapshot.full_read_at -= dt.timedelta(days=settings.QBO_FULL_READ_DAYS, minutes=1)
    snapshot.save()
    vendor = qbo_sandbox.app.create("Vendor", {"DisplayName": "Made Between Runs"})
    qbo_sandbox.log.clear()
    _runs(run_sync)
    sent = qbo_requests(qbo_sandbox)
    assert "GET /cdc" not in sent and any("/query" in s for s in sent), sent
    snapshot.refresh_from_db()
    assert snapshot.vendors[vendor["Id"]]["DisplayName"] == "Made Between Runs"
    assert timezone.now() - snapshot.full_read_at < dt.timedelta(minutes=5)


def test_a_refused_cdc_request_falls_back_to_a_full_read(run_sync, qbo_sandbox, jaggaer_client, tenant):
    _runs(run_sync)
    # the sandbox's clock 31 days ahead: QBO refuses a CDC from the cursor (older than 30 days in its eyes)
    qbo_sandbox.app.clock_offset = 31 * 86400
    try:
        qbo = make_qbo_client(qbo_sandbox, tenant)     # a token of the sandbox's new day
        qbo_sandbox.log.clear()
        run = sync_run_execute(run=sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND), qbo=qbo,
                               jaggaer=jaggaer_client)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    finally:
        qbo_sandbox.app.clock_offset = 0
    sent = qbo_requests(qbo_sandbox)
    assert sent[0] == "GET /cdc" and any("/query" in s for s in sent), sent


def test_a_full_run_reads_the_lists_whole(run_sync, qbo_sandbox, tenant):
    _runs(run_sync)
    qbo_sandbox.log.clear()
    run = run_sync(full=True)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    sent = qbo_requests(qbo_sandbox)
    assert "GET /cdc" not in sent and sum("/query" in s for s in sent) >= 6, sent


def test_kept_preferences_are_read_again_once_they_expire(run_sync, qbo_sandbox, tenant, settings):
    _runs(run_sync)
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    assert snapshot.preferences["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"
    snapshot.preferences_at -= dt.timedelta(seconds=settings.QBO_PREFERENCES_MAX_AGE_SECONDS + 60)
    snapshot.save()
    qbo_sandbox.log.clear()
    run_sync(entities=["catalogs", "suppliers"])    # no document refused for its currency: only the expiry reads
    assert qbo_requests(qbo_sandbox) == ["GET /cdc", "GET /preferences"]
    qbo_sandbox.log.clear()
    run_sync(entities=["catalogs", "suppliers"])
    assert qbo_requests(qbo_sandbox) == ["GET /cdc"]
    snapshot.refresh_from_db()
    assert timezone.now() - snapshot.preferences_at < dt.timedelta(minutes=5)

"""Throttling, server errors and lost commits end with every vendor written exactly once."""

import pytest

from sync.models import SyncRun, VendorLink
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from tests.sync.helpers import SUPPLIERS, case_ids, vendors_by_name

pytestmark = pytest.mark.django_db

EXPECTED_LINKS = len(SUPPLIERS) - 3          # one nameless supplier, two held duplicates


def _assert_each_vendor_once(qbo_sandbox, tenant):
    links = list(VendorLink.objects.for_tenant(tenant).values_list("qbo_vendor_id", flat=True))
    assert len(links) == len(set(links)) == EXPECTED_LINKS
    assert all(len(same) == 1 for same in vendors_by_name(qbo_sandbox).values())
    assert len(qbo_sandbox.app.state("Vendor")) == EXPECTED_LINKS - len(case_ids("qbo_vendor_other_case")) + 5


def test_a_429_storm_ends_with_every_vendor_written_once(run_sync, qbo_sandbox, tenant):
    qbo_sandbox.faults.inject(429, count=4, path=".*/batch.*")
    qbo_sandbox.faults.inject(429, count=2, path=".*/query.*", retry_after=0)
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert "failed" not in run.counts["suppliers"] and run.counts["suppliers"]["held"] == 3   # nameless, duplicates
    _assert_each_vendor_once(qbo_sandbox, tenant)
    assert qbo_sandbox.log.count(method="POST", status=429) == 4


def test_a_5xx_in_the_middle_of_the_run_ends_with_every_vendor_written_once(
        qbo_sandbox, tenant, qbo_client, jaggaer_client):
    injected = []

    def progress(step, counts):
        if step == "suppliers" and counts and not injected:   # after the first batch is committed
            qbo_sandbox.faults.inject(500, count=1, path=".*/batch.*")
            qbo_sandbox.faults.inject(503, count=1, path=".*/batch.*")
            injected.append(True)

    run = sync_run_create(tenant=tenant, trigger="command")
    run = sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client, progress=progress)
    assert injected and run.status == SyncRun.Status.SUCCEEDED
    assert qbo_sandbox.log.count(method="POST", status=500) == 1
    _assert_each_vendor_once(qbo_sandbox, tenant)


def test_a_lost_commit_after_the_qbo_write_is_healed_without_duplicates(run_sync, qbo_sandbox, tenant):
    """QBO wrote the vendors but our transaction never committed: the next run finds them by name."""
    run_sync()
    VendorLink.objects.for_tenant(tenant).delete()
    run = run_sync(full=True)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.counts["suppliers"].get("created", 0) == 0
    _assert_each_vendor_once(qbo_sandbox, tenant)


def test_a_stale_sync_token_is_reread_and_retried_once(run_sync, qbo_sandbox, jaggaer_sandbox, jaggaer_client, tenant):
    run_sync()
    cid = case_ids("supplier_renamed")[0]
    link = VendorLink.objects.get(tenant=tenant, jaggaer_company_id=cid)
    jaggaer_sandbox.app.rename_supplier(cid, "Kessler Forge Worldwide")
    pages = jaggaer_client.iter_pages

    def edited_meanwhile(entity, **kwargs):
        # finance edits the vendor in QBO after our vendor index was read: our SyncToken is now stale
        if entity == "suppliers":
            vendor = qbo_sandbox.app.find("Vendor", Id=link.qbo_vendor_id)[0]
            realm = qbo_sandbox.app.realm()
            with realm.lock:
                realm.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                        "Notes": "edited meanwhile"}, set())
        return pages(entity, **kwargs)

    jaggaer_client.iter_pages = edited_meanwhile
    qbo_sandbox.log.clear()
    run = run_sync()
    assert run.counts["suppliers"]["updated"] == 1
    vendor = qbo_sandbox.app.find("Vendor", Id=link.qbo_vendor_id)[0]
    assert vendor["DisplayName"] == "Kessler Forge Worldwide"
    assert vendor["Notes"] == "edited meanwhile"
    assert qbo_sandbox.log.count(method="POST") == 2            # the stale batch and its retry


def test_a_rejected_connection_stops_the_run_with_the_reason(run_sync, qbo_sandbox):
    qbo_sandbox.app.expire_tokens()
    run = run_sync()
    assert run.status == SyncRun.Status.FAILED
    assert (run.error_system, run.error_code) == ("qbo", "credentials_rejected")
    assert run.error_message and run.finished_at

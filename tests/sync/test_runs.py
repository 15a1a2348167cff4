"""Runs on demand, single flight, the daily dispatcher and lease housekeeping (no worker process)."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from sync.models import SyncLease, SyncRun
from sync.runs.leases import lease_acquire, lease_holder, lease_release, lease_renew, leases_expire
from sync.runs.lifecycle import sync_request
from sync.runs.schedule import dispatch_due_syncs
from tests.connections.support import (  # noqa: F401  (fixtures)
    configured_jaggaer,
    connected_qbo,
    fast_http,
    jaggaer_app,
    qbo_app,
)
from tests.factories import TenantFactory, connections_stored


def _connect(tenant, qbo_sandbox, jaggaer_sandbox, realm_id=None):
    connected_qbo(tenant, qbo_sandbox, **({"realm_id": realm_id} if realm_id else {}))
    configured_jaggaer(tenant, jaggaer_sandbox)
    return tenant


@pytest.mark.django_db
def test_a_second_request_while_one_is_queued_answers_409_naming_it(alice, tenant, django_capture_on_commit_callbacks):
    connections_stored(tenant)
    with django_capture_on_commit_callbacks(execute=False):
        first = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {"full": True}, format="json")
        second = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json")
    assert first.status_code == 202
    assert first.json()["status"] == "queued"
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "sync_already_running"
    assert error["run"]["id"] == first.json()["id"]
    assert SyncRun.objects.filter(tenant=tenant).count() == 1


@pytest.mark.django_db
def test_a_sync_request_names_unknown_entities(alice, tenant):
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {"entities": ["widgets"]}, format="json")
    assert response.status_code == 400
    assert "entities" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_runs_are_listed_shown_and_cancelled(alice, tenant, django_capture_on_commit_callbacks):
    connections_stored(tenant)
    with django_capture_on_commit_callbacks(execute=False):
        run_id = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json").json()["id"]
    listed = alice.client.get(f"/api/v1/tenants/{tenant.id}/syncs").json()
    assert [r["id"] for r in listed["results"]] == [run_id]
    shown = alice.client.get(f"/api/v1/tenants/{tenant.id}/syncs/{run_id}").json()
    assert shown["status"] == "queued" and shown["counts"] == {}
    cancelled = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs/{run_id}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json()["cancel_requested"] is True


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_give_one_run_and_one_409(alice, tenant):
    connections_stored(tenant)
    barrier = threading.Barrier(2)
    answers = []

    def request():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {alice.key}")
        barrier.wait()
        answers.append(client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json"))
        connection.close()

    from django.test import override_settings

    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        from config.celery import app

        app.conf.task_always_eager = False
        app.conf.broker_url = "memory://"
        try:
            threads = [threading.Thread(target=request) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            app.conf.task_always_eager = True
    assert sorted(a.status_code for a in answers) == [202, 409]
    accepted = next(a for a in answers if a.status_code == 202).json()
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["error"]["run"]["id"] == accepted["id"]
    assert SyncRun.objects.filter(tenant=tenant).count() == 1


@pytest.mark.django_db
def test_a_lease_is_single_flight_and_expires(tenant):
    first = SyncRun.objects.create(tenant=tenant, trigger="api")
    second = SyncRun.objects.create(tenant=tenant, trigger="api")
    assert lease_acquire(tenant=tenant, run=first, seconds=60)
    assert not lease_acquire(tenant=tenant, run=second, seconds=60)
    assert lease_acquire(tenant=tenant, run=first, seconds=60)  # re-entrant for its holder
    assert lease_holder(tenant=tenant) == first
    SyncLease.objects.filter(tenant=tenant).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert lease_holder(tenant=tenant) is None
    assert lease_acquire(tenant=tenant, run=second, seconds=60)
    assert not lease_renew(run=first)
    assert lease_renew(run=second)
    lease_release(run=second)
    assert lease_holder(tenant=tenant) is None


@pytest.mark.django_db
def test_housekeeping_fails_runs_whose_worker_vanished(tenant):
    old = timezone.now() - dt.timedelta(minutes=10)
    run = SyncRun.objects.create(tenant=tenant, trigger="api", status="running")
    SyncRun.objects.filter(pk=run.pk).update(created_at=old)
    lease_acquire(tenant=tenant, run=run, seconds=60)
    SyncLease.objects.filter(tenant=tenant).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    healthy = TenantFactory(partner=tenant.partner)
    alive = SyncRun.objects.create(tenant=healthy, trigger="api", status="running")
    SyncRun.objects.filter(pk=alive.pk).update(created_at=old)
    lease_acquire(tenant=healthy, run=alive, seconds=600)
    assert leases_expire() == 1
    run.refresh_from_db()
    alive.refresh_from_db()
    assert run.status == "failed" and run.error_code == "worker_lost"
    assert alive.status == "running"
    assert lease_holder(tenant=tenant) is None


# ------------------------------------------------------------------------------------ dispatcher

NOW = dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def dateline_tenants(alice, qbo_sandbox, jaggaer_sandbox, settings):
    settings.SYNC_SCHEDULE_JITTER_SECONDS = 600
    east = _connect(TenantFactory(partner=alice.partner, time_zone="Pacific/Kiritimati", sync_hour=2),
                    qbo_sandbox, jaggaer_sandbox)
    west = _connect(TenantFactory(partner=alice.partner, time_zone="Pacific/Pago_Pago", sync_hour=2),
                    qbo_sandbox, jaggaer_sandbox, realm_id=qbo_sandbox.app.create_realm().id)
    return east, west


@pytest.mark.django_db
def test_the_dispatcher_queues_only_tenants_whose_local_hour_has_come(dateline_tenants,
                                                                      django_capture_on_commit_callbacks):
    east, west = dateline_tenants  # 02:00 in Kiritimati is 12:00 UTC; 02:00 in Pago Pago is 13:00 UTC
    assert dispatch_due_syncs(now=NOW) == {"planned": 2, "due": 0, "queued": 0, "busy": 0}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = dispatch_due_syncs(now=NOW + dt.timedelta(minutes=90))
    assert result["queued"] == 1
    assert len(callbacks) == 1
    assert list(SyncRun.objects.values_list("tenant_id", "trigger", "status")) == [(east.pk, "schedule", "queued")]
    east.refresh_from_db()
    assert east.next_sync_at > NOW + dt.timedelta(hours=23)
    run = SyncRun.objects.get()
    assert SyncLease.objects.get(tenant=east).run_id == run.pk
    assert not SyncLease.objects.filter(tenant=west, run__isnull=False).exists()


@pytest.mark.django_db
def test_the_dispatcher_skips_paused_inactive_and_reauthorization_tenants(dateline_tenants):
    east, west = dateline_tenants
    dispatch_due_syncs(now=NOW)
    east.schedule_paused = True
    east.save()
    west.qbo_connection.status = "needs_reauthorization"
    west.qbo_connection.save()
    assert dispatch_due_syncs(now=NOW + dt.timedelta(days=1))["due"] == 0
    assert not SyncRun.objects.exists()


@pytest.mark.django_db
def test_a_tenant_already_running_is_not_queued_twice(dateline_tenants, django_capture_on_commit_callbacks):
    east, _ = dateline_tenants
    dispatch_due_syncs(now=NOW)
    with django_capture_on_commit_callbacks(execute=False):
        running = sync_request(tenant=east, full=False)
    result = dispatch_due_syncs(now=NOW + dt.timedelta(minutes=90))
    assert result == {"planned": 0, "due": 1, "queued": 0, "busy": 1}
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [running.pk]


@pytest.mark.django_db
def test_a_realm_saturated_past_the_wait_limit_keeps_the_records_for_the_next_run(
        tenant, qbo_sandbox, jaggaer_sandbox, settings):
    """The limiter gives up like a 429 would: the batch's records wait for the next run, the run goes on."""
    from connections.clients.http import HttpClient, StaticTokenProvider
    from connections.clients.limiter import Budget, RealmLimiter
    from connections.clients.qbo import QboClient
    from sync.models import Hold
    from sync.runs.lifecycle import sync_run_create, sync_run_execute
    from tests.sync.conftest import make_jaggaer_client

    settings.QBO_SPILL_TO_SINGLE_REQUESTS = False
    realm = qbo_sandbox.app.default_realm_id
    limiter = RealmLimiter(realm_id=f"saturated-{tenant.pk}", redis_url=None,
                           budget=Budget(batches_per_minute=1, max_wait_seconds=0.2))
    qbo = QboClient(api_base=qbo_sandbox.url, realm_id=realm,
                    tokens=StaticTokenProvider(qbo_sandbox.app.issue_tokens(realm)["access_token"], system="qbo"),
                    http=HttpClient("qbo", qbo_sandbox.url, limiter=limiter), tenant_id=tenant.pk)
    run = sync_run_create(tenant=tenant, trigger="command", entities=["catalogs", "suppliers"])
    run = sync_run_execute(run=run, qbo=qbo, jaggaer=make_jaggaer_client(jaggaer_sandbox, tenant))
    assert run.status == "succeeded"
    assert run.counts["suppliers"]["created"] > 0 and run.counts["suppliers"]["failed"] > 0
    retried = Hold.objects.filter(tenant=tenant, entity="suppliers", reason="retry")
    assert retried.exists()
    assert "request limit" in retried.first().detail


@pytest.mark.django_db
def test_a_run_past_its_time_limit_stops_between_batches_fails_and_the_next_run_continues(
        tenant, qbo_app, jaggaer_app, settings):  # noqa: F811 (fixtures)
    """Celery's time limits act only in the prefork pool; the run's own limit holds in every pool (threads)."""
    from core.tenancy import tenant_scope
    from sync.models import PurchaseOrderLink, VendorLink
    from sync.runs.lifecycle import sync_run_perform

    _connect(tenant, qbo_app, jaggaer_app)
    settings.SYNC_TASK_SOFT_TIME_LIMIT = 3600
    in_qbo_before = len(qbo_app.app.state("PurchaseOrder"))

    def limit_reached_once_suppliers_are_written(step, counts):
        if step == "purchase_orders":
            settings.SYNC_TASK_SOFT_TIME_LIMIT = 0     # the run has now been going longer than its limit

    run = sync_request(tenant=tenant, enqueue=False)
    stopped = sync_run_perform(run_id=run.pk, progress=limit_reached_once_suppliers_are_written)
    assert stopped.status == "failed" and stopped.error_code == "time_limit"
    assert "time limit (0 s" in stopped.error_message and "next run continues" in stopped.error_message
    # it stopped at the first step report after the limit: after the first batch of purchase orders (and the
    # batch that was in flight at QuickBooks meanwhile, recorded before the run ended), no later
    first_pos = stopped.counts["purchase_orders"]["created"]
    assert 0 < first_pos <= 2 * settings.QBO_BATCH_SIZE and "invoices" not in stopped.counts
    with tenant_scope(tenant):
        assert VendorLink.objects.count() == stopped.counts["suppliers"]["created"] + \
            stopped.counts["suppliers"].get("updated", 0)
        assert PurchaseOrderLink.objects.exclude(qbo_po_id="").count() == first_pos
    assert lease_holder(tenant=tenant) is None            # the lease is released with the failure

    settings.SYNC_TASK_SOFT_TIME_LIMIT = 3600
    following = sync_run_perform(run_id=sync_request(tenant=tenant, enqueue=False).pk)
    assert following.status == "succeeded"
    assert "created" not in following.counts["suppliers"]   # what the stopped run wrote is not written again
    with tenant_scope(tenant):
        written = PurchaseOrderLink.objects.exclude(qbo_po_id="").count()
    assert written == first_pos + following.counts["purchase_orders"].get("created", 0)
    assert len(qbo_app.app.state("PurchaseOrder")) == in_qbo_before + written   # each PO once in QuickBooks

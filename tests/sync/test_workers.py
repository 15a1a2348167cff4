"""Integration: real Celery worker processes on each supported broker (Redis, RabbitMQ), PostgreSQL, both
sandboxes."""

import datetime as dt
import time
from collections import Counter

import pytest

from audit.models import RecordEvent
from sync.models import SyncRun
from sync.runs.leases import leases_expire
from sync.runs.schedule import dispatch_due_syncs
from sync.tasks import process_qbo_webhook
from tests.connections.support import configured_jaggaer, connected_qbo
from tests.factories import TenantFactory
from tests.sync.workers import BROKERS, Broker, Worker, max_overlap, use_broker, wait_for, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]

NOW = dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)


@pytest.fixture(params=BROKERS)
def broker(request):
    chosen = Broker(request.param)
    use_broker(chosen.url, chosen.options)
    chosen.flush()
    yield chosen
    chosen.flush()
    use_broker(None)


@pytest.fixture
def workers(tmp_path, qbo_sandbox, broker):
    started = []

    def start(name: str, concurrency: int = 1, **env) -> Worker:
        worker = Worker(worker_env(qbo_sandbox.url, broker=broker, **env), name, tmp_path, concurrency=concurrency)
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


def _tenant(partner, qbo_sandbox, jaggaer_sandbox, *, realm_id=None, **fields):
    tenant = TenantFactory(partner=partner, **fields)
    connected_qbo(tenant, qbo_sandbox, **({"realm_id": realm_id} if realm_id else {}))
    configured_jaggaer(tenant, jaggaer_sandbox)
    return tenant


def _finished(run_id):
    run = SyncRun.objects.get(pk=run_id)
    return run if run.status not in ("queued", "running") else None


def _no_duplicates(qbo_sandbox, realm_id=None):
    app = qbo_sandbox.app
    names = Counter(v["DisplayName"].casefold() for v in app.state("Vendor", realm_id=realm_id))
    assert [n for n, c in names.items() if c > 1] == []
    bills = Counter((b.get("DocNumber"), b["VendorRef"]["value"]) for b in app.state("Bill", realm_id=realm_id))
    assert [b for b, c in bills.items() if c > 1] == []
    pos = Counter(p.get("DocNumber") for p in app.state("PurchaseOrder", realm_id=realm_id))
    assert [p for p, c in pos.items() if c > 1] == []


def test_a_scheduled_run_fires_where_the_hour_has_come_across_the_date_line(alice, qbo_sandbox, jaggaer_sandbox,
                                                                            workers):
    east = _tenant(alice.partner, qbo_sandbox, jaggaer_sandbox, time_zone="Pacific/Kiritimati", sync_hour=2)
    west = _tenant(alice.partner, qbo_sandbox, jaggaer_sandbox, time_zone="Pacific/Pago_Pago", sync_hour=2,
                   realm_id=qbo_sandbox.app.create_realm().id)
    workers("w1")
    dispatch_due_syncs(now=NOW)                                   # plans 12:00 UTC (east), 13:00 UTC (west)
    result = dispatch_due_syncs(now=NOW + dt.timedelta(minutes=90))
    assert result["queued"] == 1
    run = SyncRun.objects.get()
    assert run.tenant_id == east.pk and run.trigger == "schedule"
    run = wait_for(lambda: _finished(run.pk), what="the scheduled run")
    assert run.status == "succeeded", (run.error_code, run.error_message)
    assert run.counts["suppliers"]["created"] > 0
    assert not SyncRun.objects.filter(tenant=west).exists()


def test_a_worker_killed_mid_sync_leaves_a_lease_that_expires_and_the_next_run_finishes(
        alice, qbo_sandbox, jaggaer_sandbox, workers):
    tenant = _tenant(alice.partner, qbo_sandbox, jaggaer_sandbox)
    qbo_sandbox.faults.set_latency(400)  # slow enough to be killed in the middle
    first = workers("doomed", SYNC_LEASE_SECONDS=3)
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json")
    assert response.status_code == 202
    run_id = response.json()["id"]
    wait_for(lambda: RecordEvent.objects.filter(run_id=run_id, entity="suppliers").exists(), what="first batch",
             interval=0.02)
    first.kill()
    assert SyncRun.objects.get(pk=run_id).status == "running"
    assert alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json").status_code == 409
    time.sleep(3.5)
    assert leases_expire() == 1
    killed = SyncRun.objects.get(pk=run_id)
    assert killed.status == "failed" and killed.error_code == "worker_lost"
    qbo_sandbox.faults.set_latency(0)
    workers("survivor", SYNC_LEASE_SECONDS=3)
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json")
    assert response.status_code == 202
    run = wait_for(lambda: _finished(response.json()["id"]), what="the next run")
    assert run.status == "succeeded", (run.error_code, run.error_message)
    _no_duplicates(qbo_sandbox)


def test_two_workers_on_one_realm_stay_inside_its_limits(alice, qbo_sandbox, jaggaer_sandbox, workers):
    """One worker syncs the tenant while another processes a burst of webhooks for the same realm."""
    tenant = _tenant(alice.partner, qbo_sandbox, jaggaer_sandbox)
    realm = tenant.qbo_connection.realm_id
    # Our budget sits just under the realm's: a response reaches us a moment before the server
    # counts the request done, so a budget equal to the limit would race it.
    qbo_sandbox.app.set_limits(realm, concurrent=3, requests_per_second=7, requests_per_minute=500)
    qbo_sandbox.faults.set_latency(30)
    limits = {"QBO_MAX_IN_FLIGHT": 2, "QBO_REQUESTS_PER_SECOND": 6, "QBO_REQUESTS_PER_MINUTE": 480}
    workers("syncer", **limits)
    workers("hooks", concurrency=4, **limits)
    qbo_sandbox.log.clear()
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {"entities": ["catalogs", "suppliers"]},
                                 format="json")
    assert response.status_code == 202, response.json()
    for n in range(8):
        process_qbo_webhook.delay([{"realm_id": realm, "entity": "Account", "entity_id": str(n + 1),
                                    "operation": "Update"}])
    # At 6 requests a second the sync and the webhooks' catalog reads took 7-60 s alone and over 90 s
    # beside other test runs; the assertions below are about the budget, not about speed.
    run = wait_for(lambda: _finished(response.json()["id"]), timeout=240, what="the sync")
    assert run.status == "succeeded", (run.error_code, run.error_message)

    def realm_entries() -> list[dict]:
        return [e for e in qbo_sandbox.log.entries() if f"/company/{realm}/" in e["path"]]

    # The sync does not wait for the webhooks: their catalog reads may still be queued behind the budget.
    # Wait until both have sent their requests and the realm has been quiet for a moment.
    quiet = {"count": -1, "since": time.monotonic()}

    def settled() -> bool:
        count = len(realm_entries())
        if count != quiet["count"]:
            quiet.update(count=count, since=time.monotonic())
        return count >= 15 and time.monotonic() - quiet["since"] >= 2

    wait_for(settled, timeout=120, what="the webhooks' requests")
    entries = realm_entries()
    statuses = Counter(e["status"] for e in entries)
    assert statuses[429] == 0, statuses
    assert len(entries) >= 15, [(e["method"], e["endpoint"], e["status"]) for e in entries]
    assert max_overlap(entries) <= 2
    stamps = sorted(e["at"] for e in entries)
    assert all(stamps[i + 6] - stamps[i] >= 0.9 for i in range(len(stamps) - 6))


def test_an_idle_worker_stops_within_seconds_of_a_sigterm(workers):
    """A deploy's SIGTERM is noticed when the worker's event loop wakes up: on RabbitMQ without broker heartbeats
    kombu's poll waited up to 10 s for its next timer (config/celery.py keeps each poll at most a second long)."""
    worker = workers("idle")
    time.sleep(1.5)                       # the event loop has entered its poll
    worker.proc.terminate()
    started = time.monotonic()
    worker.proc.wait(timeout=30)
    assert time.monotonic() - started < 5
    assert "Warm shutdown" in worker.log_path.read_text()

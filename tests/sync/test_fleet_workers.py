"""A fleet on few processes: a Celery threads-pool worker runs many syncs at once on a bounded pool of PostgreSQL
connections, and first loads wait in their own queue, never in front of the daily runs."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from core.tenancy import current_scope, tenant_scope
from sync.models import SyncRun
from sync.runs.queues import BULK_QUEUE, DAILY_QUEUE, run_queues
from tests.sync.test_workers import _finished, _no_duplicates, _tenant, broker  # noqa: F401 (fixture)
from tests.sync.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]


@pytest.fixture
def workers(tmp_path, qbo_sandbox, broker):  # noqa: F811 (the broker fixture)
    started = []

    def start(name: str, concurrency: int = 1, pool: str | None = None, **env) -> Worker:
        worker = Worker(worker_env(qbo_sandbox.url, broker=broker, **env), name, tmp_path, concurrency=concurrency,
                        pool=pool)
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


def _start(alice, tenant) -> str:
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json")
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def _overlap(runs) -> int:
    """Most runs running at the same moment, from their start and finish times."""
    events = sorted([(r.started_at, 1) for r in runs] + [(r.finished_at, -1) for r in runs], key=lambda e: (e[0], e[1]))
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def _connections() -> set[int]:
    """The server processes of the other connections to the test database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return {pid for (pid,) in cursor.fetchall()}


def test_a_threads_worker_runs_more_syncs_at_once_than_it_holds_connections(alice, qbo_sandbox, jaggaer_sandbox,
                                                                            workers):
    tenants = [_tenant(alice.partner, qbo_sandbox, jaggaer_sandbox, realm_id=qbo_sandbox.app.create_realm().id)
               for _ in range(6)]
    qbo_sandbox.faults.set_latency(60)          # runs that mostly wait on QuickBooks
    before = _connections()     # not the worker's: an earlier test's server thread may still hold one
    workers("threads", concurrency=8, pool="threads", DB_POOL_MAX_SIZE=2, SYNC_BULK_SLOTS=6)
    seen = []
    ids = [_start(alice, t) for t in tenants]

    def done() -> bool:
        seen.append(len(_connections() - before))
        return all(_finished(i) for i in ids)

    wait_for(done, timeout=240, interval=0.05, what="the six runs")
    runs = list(SyncRun.objects.filter(pk__in=ids))
    assert all(r.status == "succeeded" for r in runs), [(r.error_code, r.error_message) for r in runs]
    assert _overlap(runs) >= 4, [(r.started_at, r.finished_at) for r in runs]
    assert 1 <= max(seen) <= 2, seen           # the pool's bound, however many runs wait on HTTP
    for tenant in tenants:
        _no_duplicates(qbo_sandbox, tenant.qbo_connection.realm_id)


def test_first_loads_wait_in_their_own_queue_and_never_in_front_of_daily_runs(alice, qbo_sandbox, jaggaer_sandbox,
                                                                              workers):
    loaded = [_tenant(alice.partner, qbo_sandbox, jaggaer_sandbox, realm_id=qbo_sandbox.app.create_realm().id)
              for _ in range(3)]
    workers("threads", concurrency=4, pool="threads", DB_POOL_MAX_SIZE=4, SYNC_BULK_SLOTS=1,
            SYNC_BULK_RETRY_SECONDS=1, TEST_TASKS_EAGER="false")
    first = [_start(alice, t) for t in loaded]
    assert set(run_queues(run_ids=first).values()) == {BULK_QUEUE}
    wait_for(lambda: all(_finished(i) for i in first), timeout=240, what="the first loads")
    runs = list(SyncRun.objects.filter(pk__in=first))
    assert all(r.status == "succeeded" for r in runs), [(r.error_code, r.error_message) for r in runs]
    assert _overlap(runs) == 1, [(r.started_at, r.finished_at) for r in runs]  # one bulk slot: one after another
    # now three newcomers' first loads, slowed down, and the three loaded tenants' daily runs behind them
    newcomers = [_tenant(alice.partner, qbo_sandbox, jaggaer_sandbox, realm_id=qbo_sandbox.app.create_realm().id)
                 for _ in range(3)]
    qbo_sandbox.faults.set_latency(80)
    bulk = [_start(alice, t) for t in newcomers]
    time.sleep(0.5)
    daily = [_start(alice, t) for t in loaded]
    assert set(run_queues(run_ids=daily).values()) == {DAILY_QUEUE}
    wait_for(lambda: all(_finished(i) for i in daily), timeout=240, what="the daily runs")
    daily_done = max(r.finished_at for r in SyncRun.objects.filter(pk__in=daily))
    wait_for(lambda: all(_finished(i) for i in bulk), timeout=300, what="the newcomers' first loads")
    bulk_runs = list(SyncRun.objects.filter(pk__in=bulk))
    assert all(r.status == "succeeded" for r in bulk_runs)
    assert _overlap(bulk_runs) == 1
    assert daily_done < max(r.finished_at for r in bulk_runs)   # not queued behind every first load


def test_the_tenant_scope_is_each_threads_own(alice):
    one, two = _tenant_pair(alice)
    ready, checked = threading.Barrier(2), threading.Event()

    def inside(tenant):
        with tenant_scope(tenant):
            ready.wait(timeout=10)
            checked.wait(timeout=10)
            return current_scope().tenant_id

    def outside():
        ready.wait(timeout=10)
        try:
            return current_scope()
        finally:
            checked.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        held, seen = pool.submit(inside, one), pool.submit(outside)
        assert seen.result(timeout=20) is None      # another thread's scope is not this thread's
        assert str(held.result(timeout=20)) == str(one.pk)
    with tenant_scope(two):
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(current_scope).result(timeout=10) is None   # nor inherited by a pool's thread


def _tenant_pair(alice):
    from tests.factories import TenantFactory

    return TenantFactory(partner=alice.partner), TenantFactory(partner=alice.partner)

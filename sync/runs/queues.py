"""Which broker queue a run waits in: daily runs in `sync`, initial loads and full runs in `bulk`.

A tenant's first run (nothing succeeded yet) and a full run read and write everything the tenant has: minutes at
Intuit's limits for a big company. In their own queue they never stand in front of the daily runs, and a worker
holds at most `SYNC_BULK_SLOTS` of them at once (`bulk_slot`), whatever its concurrency; a bulk run that finds
none free waits `SYNC_BULK_RETRY_SECONDS` in the broker without holding a slot. The daily queue is first come,
first served: a tenant's place in it does not depend on any other tenant's size.

A slot is not all a run takes: the runs of one worker process share its CPU (and, in the threads pool, its GIL),
and a first load spends far more of it than a daily run. So between two of its batches a bulk run gives way
(`give_way`) while daily runs are running in its process, at most `SYNC_BULK_YIELD_SECONDS` per batch: the daily
runs finish as if it were not there, and it still moves on under a steady daily load. Across processes the
operating system shares the CPU (a worker for `-Q bulk` alone may run at a lower priority: docs/SCALE.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings

from core import metrics
from core.tenancy import unscoped
from sync.models import SyncRun

DAILY_QUEUE = "sync"
BULK_QUEUE = "bulk"
QUEUES = ("default", DAILY_QUEUE, BULK_QUEUE)

_bulk_lock = threading.Lock()
_bulk_running = 0
_daily_running = 0
_thread = threading.local()       # `.bulk`: this thread is running a bulk run
GIVE_WAY_STEP_SECONDS = 0.1


@unscoped("the queue of runs of any tenant, by run id")
def run_queues(*, run_ids: list) -> dict[str, str]:
    """Run id (as text) -> the queue it goes to: `bulk` for full runs and a tenant's first run, else `sync`."""
    runs = list(SyncRun.objects.filter(pk__in=run_ids).values_list("pk", "tenant_id", "full", "targets"))
    loaded = set(SyncRun.objects.filter(tenant_id__in={r[1] for r in runs}, status=SyncRun.Status.SUCCEEDED)
                 .values_list("tenant_id", flat=True).distinct())
    queues = {}
    for pk, tenant_id, full, targets in runs:
        bulk = not targets and (full or tenant_id not in loaded)
        queues[str(pk)] = BULK_QUEUE if bulk else DAILY_QUEUE
    return queues


@contextmanager
def bulk_slot():
    """One of this worker process's `SYNC_BULK_SLOTS` bulk runs; yields False when all are taken."""
    global _bulk_running
    with _bulk_lock:
        free = _bulk_running < settings.SYNC_BULK_SLOTS
        if free:
            _bulk_running += 1
    outer = getattr(_thread, "bulk", False)
    _thread.bulk = free or outer
    try:
        yield free
    finally:
        _thread.bulk = outer
        if free:
            with _bulk_lock:
                _bulk_running -= 1


@contextmanager
def daily_slot():
    """A daily run (or a replay) running in this worker process: bulk runs give way to it between batches."""
    global _daily_running
    with _bulk_lock:
        _daily_running += 1
    try:
        yield
    finally:
        with _bulk_lock:
            _daily_running -= 1


def give_way(*, stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> float:
    """Called by a run between two batches: a bulk run waits while daily runs are running in this process, at
    most SYNC_BULK_YIELD_SECONDS, or until `stop()`; any other run goes on at once. Returns the seconds waited.
    It holds no database connection while it waits (handed back to the pool, when there is one)."""
    limit = float(settings.SYNC_BULK_YIELD_SECONDS)
    if not getattr(_thread, "bulk", False) or not _daily_running or limit <= 0:
        return 0.0
    from connections.clients.http import give_back_db_connection

    give_back_db_connection()
    started = clock()
    while _daily_running and not stop() and clock() - started < limit:
        sleep(min(GIVE_WAY_STEP_SECONDS, max(0.0, limit - (clock() - started))))
    waited = clock() - started
    metrics.bulk_gave_way(waited)
    return waited

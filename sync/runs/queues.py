"""Which broker queue a run waits in: daily runs in `sync`, initial loads and full runs in `bulk`.

A tenant's first run (nothing succeeded yet) and a full run read and write everything the tenant has: minutes at
Intuit's limits for a big company. In their own queue they never stand in front of the daily runs, and a worker
holds at most `SYNC_BULK_SLOTS` of them at once (`bulk_slot`), whatever its concurrency; a bulk run that finds
none free waits `SYNC_BULK_RETRY_SECONDS` in the broker without holding a slot. The daily queue is first come,
first served: a tenant's place in it does not depend on any other tenant's size.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings

from core.tenancy import unscoped
from sync.models import SyncRun

DAILY_QUEUE = "sync"
BULK_QUEUE = "bulk"
QUEUES = ("default", DAILY_QUEUE, BULK_QUEUE)

_bulk_lock = threading.Lock()
_bulk_running = 0


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
    try:
        yield free
    finally:
        if free:
            with _bulk_lock:
                _bulk_running -= 1

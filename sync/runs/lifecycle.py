"""Starting runs: on demand (409 while one runs), from the daily schedule, and in a worker."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

import audit
from connections.models import ConnectionStatus
from core.actor import Actor
from core.exceptions import Conflict
from core.tenancy import tenant_scope, unscoped
from sync.models import SyncLease, SyncRun
from sync.pipeline.engine import RunCancelled
from sync.runs.leases import lease_acquire, lease_holder, lease_release, lease_renew
from sync.runs.schedule import next_run_at
from sync.services import sync_run_create, sync_run_start
from tenants.models import Tenant
from tenants.services import tenant_require_active

logger = logging.getLogger(__name__)


INACTIVE_MESSAGE = "The tenant was deactivated before the run started; nothing was done."


class LeaseLost(RunCancelled):
    """Another run took the tenant's lease (ours expired): stop between batches."""


def _run_summary(run: SyncRun) -> dict:
    return {"id": str(run.pk), "status": run.status, "trigger": run.trigger,
            "created_at": run.created_at.isoformat() if run.created_at else None}


def task(name: str):
    """A registered Celery task, found by name: services queue work without importing the task
    modules that import them (SyncConfig.ready registers `sync.tasks`)."""
    from config.celery import app

    return app.tasks[name]


def _enqueue(run_ids: list) -> None:
    from config.celery import app

    sync_tenant = task("sync.tasks.sync_tenant")
    if app.conf.task_always_eager:
        for run_id in run_ids:
            sync_tenant.delay(str(run_id))
        return
    with app.producer_or_acquire() as producer:  # one broker connection for the whole dispatch
        for run_id in run_ids:
            sync_tenant.apply_async((str(run_id),), producer=producer)


def sync_request(*, tenant: Tenant, trigger: str = SyncRun.Trigger.API, full: bool = False,
                 entities: list[str] | None = None, enqueue: bool = True, actor: Actor | None = None) -> SyncRun:
    """A queued run holding the tenant's lease, handed to a worker after commit; 409 while one runs.
    With `actor` (a person asked for it), audited as sync.request in the same transaction."""
    tenant_require_active(tenant=tenant)
    with transaction.atomic():
        run = sync_run_create(tenant=tenant, trigger=trigger, full=full, entities=entities)
        if not lease_acquire(tenant=tenant, run=run, seconds=settings.SYNC_QUEUED_LEASE_SECONDS):
            holder = lease_holder(tenant=tenant)
            raise Conflict(
                "A sync of this tenant is already queued or running; wait for it to finish or cancel it.",
                code="sync_already_running", extra={"run": _run_summary(holder) if holder else None},
            )
        if actor is not None:
            audit.action("sync.request", actor=actor, tenant=tenant, target_type="sync_run", target_id=run.pk,
                         data={"full": run.full, "entities": run.entities})
        if enqueue:
            transaction.on_commit(lambda: _enqueue([run.pk]))
    return run


def _heartbeat(run: SyncRun, progress: Callable | None) -> Callable[[str, dict], None]:
    last = [time.monotonic()]

    def beat(step: str, counts: dict) -> None:
        if time.monotonic() - last[0] >= settings.SYNC_LEASE_SECONDS / 10:
            if not lease_renew(run=run):
                raise LeaseLost("The run lost its lease to another run and stopped between batches.")
            last[0] = time.monotonic()
        if progress:
            progress(step, counts)

    return beat


def sync_run_perform(*, run_id, progress: Callable | None = None) -> SyncRun | None:
    """What a worker does with a queued run: take (or take over) the lease, sync, release; all of it
    inside the run's tenant scope."""
    with unscoped("a worker finds its run by id"):
        run = SyncRun.objects.select_related("tenant").filter(pk=run_id).first()
    if run is None:
        return None
    with tenant_scope(run.tenant_id):
        return _sync_run_perform(run=run, progress=progress)


def _sync_run_perform(*, run: SyncRun, progress: Callable | None) -> SyncRun:
    if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        return run
    now = timezone.now()
    if run.cancel_requested:
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.CANCELLED, finished_at=now,
                                                 error_message="Cancelled before it started.")
        lease_release(run=run)
        return run
    if not run.tenant.is_active:  # deactivated while the run waited in the queue
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.CANCELLED, finished_at=now,
                                                 error_code="tenant_inactive", error_message=INACTIVE_MESSAGE)
        lease_release(run=run)
        return run
    if not lease_acquire(tenant=run.tenant, run=run):
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.CANCELLED, finished_at=now, error_code="superseded",
            error_message="Another run of this tenant was already running; this one was not started.")
        return run
    try:
        return sync_run_start(run=run, progress=_heartbeat(run, progress))
    finally:
        lease_release(run=run)


# ----------------------------------------------------------------------------- the daily schedule

def _schedulable() -> Q:
    blocked = [ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.NOT_CONFIGURED]
    return (Q(is_active=True, schedule_paused=False, qbo_connection__isnull=False, jaggaer_connection__isnull=False)
            & ~Q(qbo_connection__status__in=blocked) & ~Q(jaggaer_connection__status__in=blocked))


def _plan_missing(now: dt.datetime) -> int:
    """Tenants without a next run (new, or hour/zone changed) get one computed."""
    planned = 0
    while True:
        batch = list(Tenant.objects.filter(next_sync_at__isnull=True).only("pk", "time_zone", "sync_hour")[:1000])
        if not batch:
            return planned
        for tenant in batch:
            tenant.next_sync_at = next_run_at(tenant_id=tenant.pk, time_zone=tenant.time_zone,
                                              hour=tenant.sync_hour, after=now,
                                              jitter_window_seconds=settings.SYNC_SCHEDULE_JITTER_SECONDS)
        Tenant.objects.bulk_update(batch, ["next_sync_at"], batch_size=1000)
        planned += len(batch)


def _take_leases(run_by_tenant: dict, now: dt.datetime) -> set:
    """Give each new run its tenant's lease where free, in one statement; the tenant ids that got one."""
    SyncLease.objects.bulk_create([SyncLease(tenant_id=t) for t in run_by_tenant], ignore_conflicts=True,
                                  batch_size=1000)
    lease_table, run_table = SyncLease._meta.db_table, SyncRun._meta.db_table
    expires = now + dt.timedelta(seconds=settings.SYNC_QUEUED_LEASE_SECONDS)
    taken = set()
    ids = [str(r).replace("-", "") if connection.vendor == "sqlite" else r for r in run_by_tenant.values()]
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {lease_table} SET run_id = r.id, acquired_at = %s, expires_at = %s "
                f"FROM {run_table} r WHERE r.tenant_id = {lease_table}.tenant_id AND r.id IN ({marks}) "
                f"AND ({lease_table}.run_id IS NULL OR {lease_table}.expires_at < %s) "
                f"RETURNING {lease_table}.tenant_id",
                [now, expires, *chunk, now],
            )
            taken.update(row[0] for row in cursor.fetchall())
    return taken


@unscoped("the dispatcher queues runs of every due tenant")
def dispatch_due_syncs(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Queue one run per tenant whose daily hour has come; each tenant's next run moves to tomorrow."""
    now = now or timezone.now()
    planned = _plan_missing(now)
    due = list(Tenant.objects.filter(_schedulable(), next_sync_at__lte=now)
               .only("pk", "time_zone", "sync_hour").order_by("next_sync_at"))
    if not due:
        return {"planned": planned, "due": 0, "queued": 0, "busy": 0}
    with transaction.atomic():
        runs = SyncRun.objects.bulk_create(
            [SyncRun(tenant_id=t.pk, trigger=SyncRun.Trigger.SCHEDULE) for t in due], batch_size=1000)
        run_by_tenant = {run.tenant_id: run.pk for run in runs}
        taken = {_uuid(t) for t in _take_leases(run_by_tenant, now)}
        busy = [run.pk for run in runs if run.tenant_id not in taken]
        SyncRun.objects.filter(pk__in=busy).delete()
        for tenant in due:
            tenant.next_sync_at = next_run_at(tenant_id=tenant.pk, time_zone=tenant.time_zone, hour=tenant.sync_hour,
                                              after=now, jitter_window_seconds=settings.SYNC_SCHEDULE_JITTER_SECONDS)
        Tenant.objects.bulk_update(due, ["next_sync_at"], batch_size=1000)
        queued = [run.pk for run in runs if run.tenant_id in taken]
        transaction.on_commit(lambda: _enqueue(queued))
    return {"planned": planned, "due": len(due), "queued": len(queued), "busy": len(busy)}


def _uuid(value):
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

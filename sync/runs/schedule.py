"""The daily schedule: when each tenant's sync is due (its local hour, in its time zone, plus a fixed
jitter), and the dispatcher that queues the due runs.

The jitter is derived from the tenant id, so a tenant keeps the same minute every day while a
thousand tenants set to 02:00 spread over the jitter window instead of starting in one second.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from connections.models import ConnectionStatus
from core.tenancy import unscoped
from sync.models import SyncLease, SyncRun
from sync.runs.lifecycle import runs_enqueue
from tenants.models import Tenant


def jitter_seconds(tenant_id, window_seconds: int) -> int:
    if window_seconds <= 0:
        return 0
    digest = hashlib.sha256(str(tenant_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % window_seconds


def next_run_at(*, tenant_id, time_zone: str, hour: int, after: datetime, jitter_window_seconds: int) -> datetime:
    """The first daily run strictly after `after` (UTC), at `hour` local time plus the tenant's jitter."""
    zone = ZoneInfo(time_zone)
    jitter = timedelta(seconds=jitter_seconds(tenant_id, jitter_window_seconds))
    local_day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(4):
        # A local time that does not exist (spring forward) resolves to the instant after the gap.
        local = datetime.combine(local_day, time(hour), tzinfo=zone)
        candidate = local.astimezone(UTC) + jitter
        if candidate > after:
            return candidate
        local_day += timedelta(days=1)
    raise AssertionError("unreachable: a day always has the hour")


# ----------------------------------------------------------------------------- the daily schedule

def _schedulable() -> Q:
    blocked = [ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.NOT_CONFIGURED]
    return (Q(is_active=True, schedule_paused=False, qbo_connection__isnull=False, jaggaer_connection__isnull=False)
            & ~Q(qbo_connection__status__in=blocked) & ~Q(jaggaer_connection__status__in=blocked))


def _plan_missing(now: datetime) -> int:
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


def _take_leases(run_by_tenant: dict, now: datetime) -> set:
    """Give each new run its tenant's lease where free, in one statement; the tenant ids that got one."""
    SyncLease.objects.bulk_create([SyncLease(tenant_id=t) for t in run_by_tenant], ignore_conflicts=True,
                                  batch_size=1000)
    lease_table, run_table = SyncLease._meta.db_table, SyncRun._meta.db_table
    expires = now + timedelta(seconds=settings.SYNC_QUEUED_LEASE_SECONDS)
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
def dispatch_due_syncs(*, now: datetime | None = None) -> dict[str, int]:
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
        transaction.on_commit(lambda: runs_enqueue(run_ids=queued))
    return {"planned": planned, "due": len(due), "queued": len(queued), "busy": len(busy)}


def _uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

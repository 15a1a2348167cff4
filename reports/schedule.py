"""The monthly reconciliation: on the first day of each month, at the tenant's daily sync hour in its own time
zone, every schedulable tenant gets a reconciliation of the month that just ended.

The dispatcher (beat, every 15 minutes) reads which tenants are due from the database, like the daily
dispatcher of sync.runs.schedule; a tenant whose reconciliation of that month exists is not queued again, and one
missed by an outage is caught up during the first days of the month.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from connections.models import ConnectionStatus
from core.actor import Actor, ActorKind
from core.tenancy import tenant_scope, unscoped
from reports.models import Reconciliation
from reports.reconcile import reconciliation_request
from tenants.models import Tenant

SCHEDULE_ACTOR = Actor(ActorKind.SYSTEM, "monthly reconciliation schedule")
CATCH_UP_DAYS = 3           # a tenant missed on the 1st (workers down) is still reconciled until the 3rd


def _schedulable() -> Q:
    blocked = [ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.NOT_CONFIGURED]
    return (Q(is_active=True, schedule_paused=False, qbo_connection__isnull=False, jaggaer_connection__isnull=False)
            & ~Q(qbo_connection__status__in=blocked) & ~Q(jaggaer_connection__status__in=blocked))


def reconciliation_due(*, time_zone: str, hour: int, now: dt.datetime) -> dt.date | None:
    """The first day of the month to reconcile when the tenant is due now, else None."""
    local = now.astimezone(ZoneInfo(time_zone))
    if local.day > CATCH_UP_DAYS or (local.day == 1 and local.hour < hour):
        return None
    last = local.date().replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1)


@unscoped("the monthly dispatcher queues reconciliations of every due tenant")
def reconciliations_dispatch_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    if 5 <= now.day <= 26:      # no time zone (UTC-12 to UTC+14) is in the first days of a month
        return {"due": 0, "queued": 0}
    due: list[tuple[Tenant, dt.date]] = []
    for tenant in Tenant.objects.filter(_schedulable()).only("pk", "time_zone", "sync_hour", "is_active"):
        month = reconciliation_due(time_zone=tenant.time_zone, hour=tenant.sync_hour, now=now)
        if month is not None:
            due.append((tenant, month))
    if not due:
        return {"due": 0, "queued": 0}
    done = set(Reconciliation.objects.filter(tenant_id__in=[t.pk for t, _ in due],
                                             period_start__in={m for _, m in due})
               .values_list("tenant_id", "period_start"))
    queued = 0
    for tenant, month in due:
        if (tenant.pk, month) in done:
            continue
        with tenant_scope(tenant):
            reconciliation_request(tenant=tenant, actor=SCHEDULE_ACTOR, month=f"{month:%Y-%m}")
        queued += 1
    return {"due": len(due), "queued": queued}

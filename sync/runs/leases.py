"""Single flight per tenant across every worker and host: a lease row taken by atomic UPDATE.

PostgreSQL re-evaluates the WHERE clause of a conditional UPDATE after a concurrent writer
commits, so of two requests racing for a free lease exactly one updates the row.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.tenancy import unscoped
from sync.models import SyncLease, SyncRun


def _ensure_row(tenant) -> None:
    if not SyncLease.objects.filter(tenant=tenant).exists():
        with transaction.atomic():
            SyncLease.objects.bulk_create([SyncLease(tenant=tenant)], ignore_conflicts=True)


def lease_acquire(*, tenant, run: SyncRun, seconds: int | None = None) -> bool:
    """Take the tenant's lease for `run` if it is free, expired, or already this run's."""
    _ensure_row(tenant)
    now = timezone.now()
    seconds = seconds or settings.SYNC_LEASE_SECONDS
    taken = SyncLease.objects.filter(tenant=tenant).filter(
        Q(run__isnull=True) | Q(expires_at__lt=now) | Q(run=run)
    ).update(run=run, acquired_at=now, expires_at=now + dt.timedelta(seconds=seconds))
    return taken == 1


def lease_renew(*, run: SyncRun, seconds: int | None = None) -> bool:
    """Extend the lease while the run works; False when the lease was lost (expired and taken)."""
    now = timezone.now()
    seconds = seconds or settings.SYNC_LEASE_SECONDS
    return SyncLease.objects.filter(tenant_id=run.tenant_id, run=run).update(
        expires_at=now + dt.timedelta(seconds=seconds)) == 1


def lease_release(*, run: SyncRun) -> None:
    SyncLease.objects.filter(tenant_id=run.tenant_id, run=run).update(run=None, expires_at=None)


def lease_holder(*, tenant) -> SyncRun | None:
    """The run holding a live lease on the tenant, if any."""
    lease = SyncLease.objects.filter(tenant=tenant, run__isnull=False, expires_at__gte=timezone.now()) \
        .select_related("run").first()
    return lease.run if lease else None


@unscoped("expired leases of every tenant")
def leases_expire(*, now: dt.datetime | None = None) -> int:
    """Housekeeping: free expired leases and fail the runs whose worker vanished; returns runs failed."""
    now = now or timezone.now()
    expired = list(SyncLease.objects.filter(run__isnull=False, expires_at__lt=now).values_list("run_id", flat=True))
    SyncLease.objects.filter(run_id__in=expired, expires_at__lt=now).update(run=None, expires_at=None)
    leased = SyncLease.objects.filter(run__isnull=False).values("run_id")
    orphaned = SyncRun.objects.filter(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).filter(
        Q(pk__in=expired) | (~Q(pk__in=leased) & Q(created_at__lt=now - dt.timedelta(seconds=60)))
    )
    return orphaned.update(
        status=SyncRun.Status.FAILED, finished_at=now, error_code="worker_lost",
        error_message="The worker running this sync stopped without finishing (its lease expired). "
                      "The next run continues from where this one got to.",
    )

"""Holds whose cause is fixed are released by a run of their tenant (beat: `release_fixed_holds`)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Q

from core.exceptions import Conflict
from core.tenancy import unscoped
from sync.holds.selectors import MAPPING_HOLD_REASONS
from sync.models import Hold, Mapping, SyncRun


def _releasable_tenants() -> dict:
    """tenant id -> held entities that a run could now write (mapping fixed, or a passing failure)."""
    mapped = defaultdict(set)
    for tenant_id, kind, code in Mapping.objects.filter(state=Mapping.State.MAPPED).values_list(
            "tenant_id", "kind", "code"):
        mapped[(tenant_id, kind)].add(code)
    reason_kind = {reason: kind for kind, reason in MAPPING_HOLD_REASONS.items()}
    due = defaultdict(set)
    holds = Hold.objects.filter(Q(reason__in=list(reason_kind)) | Q(reason="retry")).values_list(
        "tenant_id", "entity", "reason", "waits_on")
    for tenant_id, entity, reason, waits_on in holds.iterator():
        kind = reason_kind.get(reason)
        if kind is None or set(waits_on or []) <= mapped[(tenant_id, kind)]:
            due[tenant_id].add(entity)
    return due


@unscoped("holds of every tenant whose cause is fixed")
def holds_release_fixed() -> dict[str, int]:
    """Queue a run for each tenant with held records whose cause has been fixed."""
    from sync.runs.lifecycle import sync_request
    from tenants.models import Tenant

    due = _releasable_tenants()
    counts = {"tenants": len(due), "queued": 0, "busy": 0}
    for tenant in Tenant.objects.filter(pk__in=list(due), is_active=True):
        try:
            sync_request(tenant=tenant, trigger=SyncRun.Trigger.SCHEDULE, entities=sorted(due[tenant.pk]))
        except Conflict:
            counts["busy"] += 1  # the running run retries its holds first anyway
        else:
            counts["queued"] += 1
    return counts

"""Reads of runs."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import RecordEvent
from core.outcomes import Outcome
from sync.models import SyncRun


def run_problem_events(*, run: SyncRun) -> QuerySet[RecordEvent]:
    """The failed and held records of a run, held first, then by entity and id."""
    return (RecordEvent.objects.for_tenant(run.tenant_id).filter(
        run_id=run.pk, outcome__in=[Outcome.FAILED, Outcome.HELD]).order_by("outcome", "entity", "source_id"))


def run_list(*, tenant) -> QuerySet[SyncRun]:
    """A tenant's runs, newest first."""
    return SyncRun.objects.for_tenant(tenant).order_by("-created_at")

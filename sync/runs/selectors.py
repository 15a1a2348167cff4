"""Reads of runs."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

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


def run_progress(run: SyncRun) -> dict:
    """A run's progress from its progress columns (written by sync.runs.lifecycle.run_progress_write): the
    step, records seen of JAGGAER's total for it, percent, elapsed seconds; the API and both run pages show it."""
    total = run.step_total
    percent = round(min(100.0, 100.0 * run.step_seen / total), 1) if total else None
    if run.status == SyncRun.Status.SUCCEEDED and total:
        percent = 100.0
    end = run.finished_at or timezone.now()
    elapsed = round((end - run.started_at).total_seconds(), 3) if run.started_at else None
    return {"step": run.current_step or None, "seen": run.step_seen, "total": total, "percent": percent,
            "step_started_at": run.step_started_at, "elapsed_seconds": elapsed, "updated_at": run.progress_at}


def progress_text(progress: dict) -> str:
    """The progress in one line for people: "invoices: 120 of 480 records (25 %), 0:01:10 elapsed"."""
    if not progress.get("step"):
        return "-"
    total = progress.get("total")
    of = f" of {total}" if total else ""
    percent = f" ({progress['percent']:g} %)" if progress.get("percent") is not None else ""
    elapsed = ""
    if progress.get("elapsed_seconds") is not None:
        seconds = int(progress["elapsed_seconds"])
        elapsed = f", {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d} elapsed"
    return f"{progress['step']}: {progress['seen']}{of} records{percent}{elapsed}"

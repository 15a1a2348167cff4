"""Admin of runs (with their failed and held records) and of the cursors runs read from."""

from __future__ import annotations

from collections import Counter

from django.contrib import admin, messages
from django.urls import reverse

from core.actor import actor_from_request
from sync.models import Cursor, SyncRun
from sync.runs.lifecycle import sync_run_cancel
from sync.runs.selectors import progress_text, run_problem_events, run_progress
from tenants.admin import RUN_COLOURS, badge

RUN_RECORDS_SHOWN = 200
def run_totals(counts: dict) -> Counter:
    """written / held / failed over the record steps of a run's counts (catalog counts are of another kind)."""
    totals: Counter = Counter()
    for bucket in (counts or {}).values():
        if not isinstance(bucket, dict):
            continue
        totals["written"] += int(bucket.get("created", 0) or 0) + int(bucket.get("updated", 0) or 0)
        for key in ("unchanged", "held", "failed"):
            totals[key] += int(bucket.get(key, 0) or 0)
    return totals


class DurationMixin:
    @admin.display(description="duration", ordering="finished_at")
    def duration(self, obj):
        if not obj.started_at or not obj.finished_at:
            return "-"
        seconds = int((obj.finished_at - obj.started_at).total_seconds())
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@admin.register(SyncRun)
class SyncRunAdmin(DurationMixin, admin.ModelAdmin):
    list_display = ["created_at", "tenant", "trigger", "status_badge", "progress", "duration", "written", "held",
                    "failed", "error_code"]
    list_filter = ["status", "trigger", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["=id", "tenant__slug", "tenant__name", "=request_id"]
    readonly_fields = ["id", "tenant", "trigger", "status", "progress", "full", "entities", "targets", "counts",
                       "duration", "error_system", "error_code", "error_message", "cancel_requested", "request_id",
                       "created_at", "started_at", "finished_at"]
    fields = readonly_fields
    actions = ["cancel"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # runs are started with "Sync now" on the tenants list

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, RUN_COLOURS.get(obj.status, "#757575"), obj.error_message)

    @admin.display(description="progress")
    def progress(self, obj):
        return progress_text(run_progress(obj))

    @admin.display(description="written")
    def written(self, obj):
        return run_totals(obj.counts)["written"]

    @admin.display(description="held")
    def held(self, obj):
        return run_totals(obj.counts)["held"]

    @admin.display(description="failed")
    def failed(self, obj):
        return run_totals(obj.counts)["failed"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if run is not None:
            events = run_problem_events(run=run)
            extra.update(
                run_totals=run_totals(run.counts),
                run_events=list(events[:RUN_RECORDS_SHOWN]),
                run_events_more=events[RUN_RECORDS_SHOWN:RUN_RECORDS_SHOWN + 1].exists(),
                run_events_url=reverse("admin:audit_recordevent_changelist") + f"?run={run.pk}",
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.action(description="Cancel the selected runs (they stop between batches)", permissions=["change"])
    def cancel(self, request, queryset):
        for run in queryset.select_related("tenant"):
            if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
                self.message_user(request, f"Run {run.pk} has already finished ({run.status}).", messages.INFO)
                continue
            sync_run_cancel(run=run, actor=actor_from_request(request))
            self.message_user(request, f"Run {run.pk}: cancel requested.", messages.SUCCESS)


@admin.register(Cursor)
class CursorAdmin(admin.ModelAdmin):
    list_display = ["tenant", "entity", "high_water_mark", "updated_at"]
    list_filter = ["entity"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__slug"]
    readonly_fields = ["tenant", "entity", "high_water_mark", "updated_at"]

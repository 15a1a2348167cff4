"""Admin of held records, and replaying selected records (also offered on the record audit rows)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.actor import actor_from_request
from core.exceptions import ApplicationError, Conflict
from sync.holds.selectors import MAPPING_HOLD_REASONS
from sync.models import Hold, SyncRun
from sync.runs.lifecycle import replay_request
from sync.runs.replay import replay_targets_by_tenant
from tenants.models import Tenant


class WaitsOnFilter(admin.SimpleListFilter):
    title = "waits on a mapping"
    parameter_name = "mapping"

    def lookups(self, request, model_admin):
        return [("gl_account", "GL code"), ("department", "department code")]

    def queryset(self, request, queryset):
        reason = MAPPING_HOLD_REASONS.get(self.value())
        return queryset.filter(reason=reason) if reason else queryset


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ["tenant", "entity", "source_id", "reason", "waits_on", "detail", "first_held_at", "last_held_at"]
    list_filter = ["reason", WaitsOnFilter, "entity", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["=source_id", "tenant__slug"]
    readonly_fields = ["tenant", "entity", "source_id", "reason", "detail", "waits_on", "record", "source_digest",
                       "last_run", "first_held_at", "last_held_at"]
    show_full_result_count = False
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_replay_permission(self, request):
        return can_replay(request)

    @admin.action(description="Replay the selected records (read again from JAGGAER)", permissions=["replay"])
    def replay(self, request, queryset):
        replay_selected(self, request, queryset.values_list("tenant_id", "entity", "source_id"))


def can_replay(request) -> bool:
    """Replaying writes to QuickBooks: people who may change held records may replay them."""
    return request.user.has_perm("sync.change_hold")


def replay_selected(model_admin, request, rows) -> list[SyncRun]:
    """One replay run per tenant for the selected (tenant id, entity, source id) rows; 409s told politely."""
    targets, skipped = replay_targets_by_tenant(rows=rows)
    if skipped:
        model_admin.message_user(request, f"{skipped} selected row(s) cannot be replayed (a catalog import, or a "
                                          f"record without an id).", messages.WARNING)
    runs = []
    for tenant in Tenant.objects.filter(pk__in=list(targets)):
        try:
            run = replay_request(tenant=tenant, targets=targets[tenant.pk], actor=actor_from_request(request))
        except Conflict as e:
            if e.code != "sync_already_running":
                model_admin.message_user(request, f"{tenant}: {e.message}", messages.WARNING)
                continue
            running = (e.extra.get("run") or {}).get("id", "")
            model_admin.message_user(request, f"{tenant}: a sync is already queued or running"
                                              f"{f' (run {running})' if running else ''}; replay once it has "
                                              f"finished.", messages.WARNING)
            continue
        except ApplicationError as e:
            model_admin.message_user(request, f"{tenant}: {e.message}", messages.ERROR)
            continue
        runs.append(run)
        count = sum(len(ids) for ids in targets[tenant.pk].values())
        url = reverse("admin:sync_syncrun_change", args=[run.pk])
        model_admin.message_user(request, format_html('{}: replay of {} record(s) queued as <a href="{}">run {}</a>.',
                                                      tenant, count, url, run.pk), messages.SUCCESS)
    return runs

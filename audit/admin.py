"""Admin for support staff over the audit: per-record rows (filters, capped counts), the outbound call log
and the people's actions. All three are read-only; the tables are big, so no filter scans them for its
choices and no list counts them in full. Filtering records by a run's step and replaying them need `sync`:
the support console (console/admin.py) adds both over RecordEventAdmin."""

from __future__ import annotations

import uuid

from django.contrib import admin
from django.db.models import Q

from audit.models import Action, ApiCall, RecordEvent


class InputFilter(admin.SimpleListFilter):
    """A free-text filter (one box), for values too many to list and too costly to collect."""

    template = "admin/input_filter.html"
    placeholder = ""

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def clean(self, value: str):
        return value.strip()

    def choices(self, changelist):
        yield {"selected": self.value() is None, "display": "All",
               "query_string": changelist.get_query_string(remove=[self.parameter_name])}
        keep = [(k, v) for k, v in changelist.params.items() if k != self.parameter_name]
        yield {"form": True, "keep": keep, "parameter": self.parameter_name, "value": self.value() or "",
               "placeholder": self.placeholder}

    def queryset(self, request, queryset):
        value = self.clean(self.value() or "")
        if not value:
            return queryset
        return queryset.filter(**{self.field: value})


class RunFilter(InputFilter):
    title = "run"
    parameter_name = "run"
    field = "run_id"
    placeholder = "run id"

    def clean(self, value: str):
        try:
            return uuid.UUID(value.strip()) if value.strip() else ""
        except ValueError:
            return uuid.UUID(int=0)  # not a run id: matches nothing rather than everything


class ReasonFilter(InputFilter):
    title = "reason"
    parameter_name = "reason"
    field = "reason"
    placeholder = "e.g. gl_unmapped"


class AppendOnlyAdmin(admin.ModelAdmin):
    """Audit tables are written by the application only: staff read them, nobody adds, edits or deletes."""

    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RecordEvent)
class RecordEventAdmin(AppendOnlyAdmin):
    list_display = ["created_at", "tenant", "entity", "source_id", "outcome", "reason", "qbo_id", "qbo_error_code",
                    "short_message"]
    list_filter = ["outcome", ReasonFilter, "tenant", RunFilter]
    list_select_related = ["tenant"]
    search_fields = ["=source_id", "=qbo_id"]
    search_help_text = "The exact JAGGAER source id (or QuickBooks id) of a record."

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"


class FailedCallFilter(admin.SimpleListFilter):
    title = "result"
    parameter_name = "failed"

    def lookups(self, request, model_admin):
        return [("yes", "failed (4xx, 5xx or no answer)"), ("no", "answered 2xx/3xx")]

    def queryset(self, request, queryset):
        failed = Q(status__isnull=True) | Q(status__gte=400)
        if self.value() == "yes":
            return queryset.filter(failed)
        if self.value() == "no":
            return queryset.exclude(failed)
        return queryset


@admin.register(ApiCall)
class ApiCallAdmin(AppendOnlyAdmin):
    # The status and the failure code first: a long path must not push them off the screen.
    list_display = ["created_at", "tenant", "system", "status", "code", "method", "short_path", "attempt",
                    "duration_ms", "intuit_tid"]
    list_filter = [FailedCallFilter, "system", "method", "tenant", RunFilter]

    @admin.display(description="path", ordering="path")
    def short_path(self, obj):
        return obj.path if len(obj.path) <= 90 else obj.path[:89] + "…"
    list_select_related = ["tenant"]
    search_fields = ["=intuit_tid", "=realm_id", "=request_id"]



@admin.register(Action)
class ActionAdmin(AppendOnlyAdmin):
    list_display = ["created_at", "actor_label", "actor_kind", "action", "tenant", "target_type", "target_id"]
    list_filter = ["actor_kind", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["action", "=actor_label", "=target_id", "=request_id"]



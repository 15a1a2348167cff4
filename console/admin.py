"""The support console over the tenants list and the record audit (see the package docstring)."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit.admin import ApiCallAdmin, ReasonFilter, RecordEventAdmin, RunFilter
from audit.models import ApiCall, RecordEvent
from connections.connect_links import connect_link_create
from connections.health import connection_ping
from connections.models import ConnectionStatus
from connections.qbo_authorization import CALLBACK_MESSAGES, qbo_authorization_start
from console.exports import ExportMixin, csv_export_action
from console.records import ENTITY_LABELS, RecordViews, record_url, waits_on_words
from console.templatetags.console import when
from core.actor import actor_from_request
from core.exceptions import ApplicationError, Conflict
from sync.dashboard import outcomes_chart_svg, record_outcome_totals, record_outcomes_by_day
from sync.holds.admin import HoldAdmin, WaitsOnFilter, can_replay, replay_selected
from sync.holds.reasons import reason_label
from sync.mappings.selectors import alignment_report
from sync.models import Hold, SyncRun
from sync.pipeline.steps import STEP_NAMES
from sync.runs.admin import SyncRunAdmin, run_totals
from sync.runs.lifecycle import sync_request
from sync.runs.selectors import progress_text, run_progress
from tenants.admin import RUN_COLOURS, TenantAdmin, badge
from tenants.models import NOT_ZONES, Tenant

# ---------------------------------------------------------------------- the tenants list

TIME_ZONES = sorted(zoneinfo.available_timezones() - NOT_ZONES)

BADGE_COLOURS = {
    ConnectionStatus.CONNECTED: "#2e7d32",
    ConnectionStatus.NEEDS_REAUTHORIZATION: "#c62828",
    ConnectionStatus.ERROR: "#c62828",
    ConnectionStatus.NOT_CONFIGURED: "#757575",
}
# QuickBooks states a person can only fix by going through Intuit's consent screen again.
REAUTHORIZE = {ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.NOT_CONFIGURED, None}


def connection_badge(connection):
    if connection is None:
        return badge("not configured", BADGE_COLOURS[ConnectionStatus.NOT_CONFIGURED], "no connection yet")
    colour = BADGE_COLOURS.get(connection.status, "#757575")
    if connection.status == ConnectionStatus.CONNECTED and connection.consecutive_failures:
        colour = "#ef8f00"  # connected, but the last calls failed
    label = connection.get_status_display()
    return badge(label, colour, connection.status_reason or connection.last_error_code or label)


def _connection(tenant, name: str):
    try:
        return getattr(tenant, name)
    except ObjectDoesNotExist:  # the reverse one-to-one: no connection yet
        return None


class ConnectionsFilter(admin.SimpleListFilter):
    title = "connections"
    parameter_name = "connections"

    def lookups(self, request, model_admin):
        return [("attention", "need attention"), ("reauthorize", "QuickBooks needs re-authorization"),
                ("ok", "both connected")]

    def queryset(self, request, queryset):
        connected = ConnectionStatus.CONNECTED
        if self.value() == "attention":
            return queryset.exclude(jaggaer_connection__status=connected, qbo_connection__status=connected)
        if self.value() == "reauthorize":
            return queryset.exclude(qbo_connection__status__in=[connected, ConnectionStatus.ERROR])
        if self.value() == "ok":
            return queryset.filter(jaggaer_connection__status=connected, qbo_connection__status=connected)
        return queryset


class HeldFilter(admin.SimpleListFilter):
    title = "held records"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "has held records"), ("no", "none held")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_held__gt=0)
        if self.value() == "no":
            return queryset.filter(_held=0)
        return queryset


class TenantConsoleAdmin(RecordViews, TenantAdmin):
    list_display = ["name", "partner", "jaggaer", "quickbooks", "last_run", "held", "schedule", "links"]
    list_filter = [ConnectionsFilter, HeldFilter, *TenantAdmin.list_filter]
    list_select_related = [*TenantAdmin.list_select_related, "jaggaer_connection", "qbo_connection"]
    actions = ["ping_connections", "sync_now", *TenantAdmin.actions]

    def get_queryset(self, request):
        runs = SyncRun.objects.filter(tenant=OuterRef("pk")).order_by("-created_at")
        held = (Hold.objects.filter(tenant=OuterRef("pk")).order_by().values("tenant")
                .annotate(n=Count("id")).values("n"))
        return super().get_queryset(request).annotate(
            _last_run_id=Subquery(runs.values("id")[:1]),
            _last_run_status=Subquery(runs.values("status")[:1]),
            _last_run_at=Subquery(runs.values("created_at")[:1]),
            _held=Coalesce(Subquery(held, output_field=IntegerField()), Value(0)),
        )

    # ------------------------------------------------------------------ columns

    @admin.display(description="JAGGAER")
    def jaggaer(self, obj):
        return connection_badge(_connection(obj, "jaggaer_connection"))

    @admin.display(description="QuickBooks")
    def quickbooks(self, obj):
        connection = _connection(obj, "qbo_connection")
        shown = connection_badge(connection)
        if (connection.status if connection else None) in REAUTHORIZE:
            url = reverse("admin:tenants_tenant_qbo_authorize", args=[obj.pk])
            return format_html('{} <a class="mlc-reauthorize" href="{}">re-authorize</a>', shown, url)
        return shown

    @admin.display(description="last run", ordering="_last_run_at")
    def last_run(self, obj):
        if not obj._last_run_id:
            return "-"
        url = reverse("admin:sync_syncrun_change", args=[obj._last_run_id])
        return format_html('<a href="{}">{}</a> {}', url, obj._last_run_at.strftime("%Y-%m-%d %H:%M"),
                           badge(obj._last_run_status, RUN_COLOURS.get(obj._last_run_status, "#757575")))

    @admin.display(description="held", ordering="_held")
    def held(self, obj):
        if not obj._held:
            return 0
        url = reverse("admin:sync_hold_changelist") + f"?tenant__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj._held)

    @admin.display(description="")
    def links(self, obj):
        return format_html('<a href="{}">dashboard</a> · <a href="{}">mappings</a> · <a href="{}">runs</a>',
                           reverse("admin:tenants_tenant_dashboard", args=[obj.pk]),
                           reverse("admin:sync_mapping_tenant", args=[obj.pk]),
                           reverse("admin:sync_syncrun_changelist") + f"?tenant__id__exact={obj.pk}")

    # ------------------------------------------------------------------ actions

    @admin.action(description="Ping both connections", permissions=["change"])
    def ping_connections(self, request, queryset):
        for tenant in queryset:
            if not tenant.is_active:
                self.message_user(request, f"{tenant}: deactivated; its connections are not pinged.", messages.WARNING)
                continue
            results = {system: connection_ping(tenant=tenant, system=system, actor=actor_from_request(request))
                       for system in ("jaggaer", "qbo")}
            for system, answer in results.items():
                name = "JAGGAER" if system == "jaggaer" else "QuickBooks"
                if answer["ok"]:
                    self.message_user(request, f"{tenant}: {name} answered.", messages.SUCCESS)
                else:
                    problem = (answer.get("problem") or {}).get("message", "the ping failed")
                    self.message_user(request, f"{tenant}: {name}: {problem}", messages.WARNING)

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset):
        for tenant in queryset:
            try:
                run = sync_request(tenant=tenant, trigger=SyncRun.Trigger.API, actor=actor_from_request(request))
            except Conflict as e:
                if e.code != "sync_already_running":
                    self.message_user(request, f"{tenant}: {e.message}", messages.WARNING)
                    continue
                running = (e.extra.get("run") or {}).get("id", "")
                self.message_user(request, f"{tenant}: a sync is already queued or running"
                                           f"{f' (run {running})' if running else ''}; wait for it to finish.",
                                  messages.WARNING)
                continue
            self.message_user(request, f"{tenant}: sync queued (run {run.pk}).", messages.SUCCESS)

    change_form_template = "admin/console/tenant_change_form.html"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":     # a choice of IANA zones, not free text
            return forms.ChoiceField(choices=[(z, z) for z in TIME_ZONES], initial="UTC", label="Time zone",
                                     help_text=db_field.help_text)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tenant = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if tenant is not None and request.method == "GET" and request.GET.get("status"):   # back from Intuit
            if request.GET["status"] == "connected":
                self.message_user(request, "QuickBooks is connected.", messages.SUCCESS)
            else:
                said = CALLBACK_MESSAGES.get(request.GET.get("reason", ""), CALLBACK_MESSAGES["authorization_failed"])
                self.message_user(request, f"QuickBooks was not connected: {said}", messages.WARNING)
        if tenant is not None:
            days = record_outcomes_by_day(tenant=tenant, days=30)
            qbo = _connection(tenant, "qbo_connection")
            extra.update(
                panel=True, tenant_zone=tenant.time_zone,
                jaggaer=connection_badge(_connection(tenant, "jaggaer_connection")), quickbooks=connection_badge(qbo),
                reauthorize=(qbo.status if qbo else None) in REAUTHORIZE,
                last_runs=list(SyncRun.objects.for_tenant(tenant).order_by("-created_at")[:10]),
                tenant_holds=[{"reason": r["reason"], "label": reason_label(r["reason"]), "n": r["n"]}
                              for r in Hold.objects.for_tenant(tenant).order_by().values("reason")
                              .annotate(n=Count("id")).order_by("-n", "reason")],
                chart=outcomes_chart_svg(days),
                totals=record_outcome_totals(tenant=tenant, days=30),
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    # ------------------------------------------------------------------ views

    def get_urls(self):
        own = [
            path("<uuid:tenant_id>/dashboard/", self.admin_site.admin_view(self.dashboard_view),
                 name="tenants_tenant_dashboard"),
            path("<uuid:tenant_id>/qbo-authorize/", self.admin_site.admin_view(self.qbo_authorize_view),
                 name="tenants_tenant_qbo_authorize"),
            path("<uuid:tenant_id>/connect-link/", self.admin_site.admin_view(self.connect_link_view),
                 name="tenants_tenant_connect_link"),
        ]
        return self.record_urls() + own + super().get_urls()

    def dashboard_view(self, request, tenant_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant.objects.select_related("partner", "jaggaer_connection", "qbo_connection"),
                                   pk=tenant_id)
        days = record_outcomes_by_day(tenant=tenant, days=30)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": f"Dashboard: {tenant.name}", "tenant": tenant,
            "days": days, "chart": outcomes_chart_svg(days),
            "totals": record_outcome_totals(tenant=tenant, days=30),
            "jaggaer": connection_badge(_connection(tenant, "jaggaer_connection")),
            "quickbooks": connection_badge(_connection(tenant, "qbo_connection")),
            "report": alignment_report(tenant=tenant),
            "runs": SyncRun.objects.for_tenant(tenant).order_by("-created_at")[:10],
        }
        return TemplateResponse(request, "admin/tenants/tenant/dashboard.html", context)

    def connect_link_view(self, request, tenant_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant.objects.select_related("partner"), pk=tenant_id)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "tenant": tenant,
                   "title": f"Connect link for {tenant.name}", "origins": tenant.partner.return_url_origins}
        if request.method == "POST":   # a GET only shows the form: a link is made by a POST
            try:
                link, token = connect_link_create(
                    tenant=tenant, actor=actor_from_request(request), return_url=request.POST.get("return_url", ""),
                    collect_jaggaer=request.POST.get("collect_jaggaer") == "on",
                    hours=int(request.POST.get("hours") or 72))
            except (ApplicationError, ValueError) as e:
                context["error"] = getattr(e, "message", "Give the hours as a whole number.")
            else:
                context.update(link=link, url=request.build_absolute_uri(reverse("connect-link", args=[token])))
        return TemplateResponse(request, "admin/console/connect_link.html", context)

    def qbo_authorize_view(self, request, tenant_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant.objects.select_related("partner"), pk=tenant_id)
        if request.method != "POST":  # a GET (a link, a prefetch) only asks; starting the flow is a POST
            context = {**self.admin_site.each_context(request), "opts": self.model._meta, "tenant": tenant,
                       "title": f"Re-authorize QuickBooks: {tenant.name}"}
            return TemplateResponse(request, "admin/tenants/tenant/qbo_authorize.html", context)
        try:
            # Intuit's redirect comes back to this tenant's page, which says how it went.
            back = request.build_absolute_uri(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
            url = qbo_authorization_start(tenant=tenant, actor=actor_from_request(request), return_url=back,
                                          trusted_return_url=True)
        except ApplicationError as e:
            self.message_user(request, f"{tenant}: {e.message}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:tenants_tenant_changelist"))
        return HttpResponseRedirect(url)


admin.site.unregister(Tenant)
admin.site.register(Tenant, TenantConsoleAdmin)


# ---------------------------------------------------------------------- the record audit


class EntityFilter(admin.SimpleListFilter):
    title = "entity"
    parameter_name = "entity"

    def lookups(self, request, model_admin):
        names = [name for name in STEP_NAMES if name != "catalogs"]
        if self.value() and self.value() not in names:
            names.append(self.value())
        return [(name, name.replace("_", " ")) for name in names]

    def queryset(self, request, queryset):
        return queryset.filter(entity=self.value()) if self.value() else queryset


class RecordEventConsoleAdmin(ExportMixin, RecordEventAdmin):
    list_filter = ["outcome", ReasonFilter, EntityFilter, "tenant", RunFilter]
    actions = ["replay", csv_export_action(["created_at", "tenant_id", "run_id", "entity", "source_id", "outcome",
                                            "reason", "qbo_id", "qbo_error_code", "intuit_tid", "message"],
                                           "record events")]

    def has_replay_permission(self, request):
        return can_replay(request)

    @admin.action(description="Replay the selected records (read again from JAGGAER)", permissions=["replay"])
    def replay(self, request, queryset):
        replay_selected(self, request, queryset.order_by().values_list("tenant_id", "entity", "source_id").distinct())


admin.site.unregister(RecordEvent)
admin.site.register(RecordEvent, RecordEventConsoleAdmin)


# ---------------------------------------------------------------------- held records


class HoldReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason__exact"

    def lookups(self, request, model_admin):
        present = Hold.objects.order_by("reason").values_list("reason", flat=True).distinct()
        return [(reason, reason_label(reason)) for reason in present]

    def queryset(self, request, queryset):
        return queryset.filter(reason=self.value()) if self.value() else queryset


class HoldConsoleAdmin(ExportMixin, HoldAdmin):
    list_display = ["held_record", "tenant", "reason_label", "waits", "short_detail", "held_since"]
    list_display_links = None
    list_filter = [HoldReasonFilter, WaitsOnFilter, "entity", "tenant"]
    ordering = ["reason", "first_held_at", "pk"]        # grouped by reason, oldest first within a reason
    list_per_page = 50
    change_list_template = "admin/console/hold_change_list.html"
    change_form_template = "admin/console/hold_change_form.html"
    actions = [*HoldAdmin.actions, csv_export_action(["tenant_id", "entity", "source_id", "reason", "waits_on",
                                                      "detail", "first_held_at", "last_held_at"], "holds")]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("record")

    @admin.display(description="record", ordering="source_id")
    def held_record(self, obj):
        return format_html('<a href="{}">{} {}</a>', record_url(obj.tenant_id, obj.entity, obj.source_id),
                           ENTITY_LABELS.get(obj.entity, obj.entity), obj.source_id)

    @admin.display(description="reason", ordering="reason")
    def reason_label(self, obj):
        return reason_label(obj.reason)

    @admin.display(description="waits on")
    def waits(self, obj):
        return waits_on_words(obj)

    @admin.display(description="detail")
    def short_detail(self, obj):
        return obj.detail if len(obj.detail) <= 300 else obj.detail[:299] + "…"

    @admin.display(description="held since", ordering="first_held_at")
    def held_since(self, obj):
        return when(obj.first_held_at, obj.tenant.time_zone)

    def changelist_view(self, request, extra_context=None):
        by_reason = (self.get_queryset(request).order_by().values("reason").annotate(n=Count("id"))
                     .order_by("-n", "reason"))
        # Without the model sidebar the detail and waits-on columns get the width they need at 1440 px.
        extra = {"holds_by_reason": [{"reason": row["reason"], "label": reason_label(row["reason"]), "count": row["n"]}
                                     for row in by_reason], "is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: no Save buttons; the record page has the story and Replay.
        hold = self.get_object(request, object_id)
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                 "show_delete": False, **(extra_context or {})}
        if hold is not None:
            extra.update(record_page=record_url(hold.tenant_id, hold.entity, hold.source_id),
                         waits_words=waits_on_words(hold), can_replay=can_replay(request),
                         replay_url=reverse("admin:console_record_replay",
                                            args=[hold.tenant_id, hold.entity, hold.source_id]))
        return super().change_view(request, object_id, form_url, extra_context=extra)


admin.site.unregister(Hold)
admin.site.register(Hold, HoldConsoleAdmin)


# ---------------------------------------------------------------------- a run

REPLAY_SHOWN = 20
RUN_OUTCOME_COLUMNS = ["created", "updated", "unchanged", "held", "failed", "skipped"]


def run_counts_table(counts: dict) -> tuple[list[str], list[tuple[str, list | None, str]]]:
    """A run's counts as (outcome columns, [(step, [value per column] or None, other counts in words)]) in step
    order; a step counting other things (the catalogs) is told in words, so its keys add no columns."""
    counts = {name: bucket for name, bucket in (counts or {}).items() if isinstance(bucket, dict)}
    steps = [name for name in STEP_NAMES if name in counts] + [name for name in counts if name not in STEP_NAMES]
    columns = [c for c in RUN_OUTCOME_COLUMNS if any(c in counts[name] for name in steps)]
    rows = []
    for name in steps:
        other = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in counts[name].items()
                          if key not in RUN_OUTCOME_COLUMNS)
        outcomes = [counts[name].get(c, 0) for c in columns] if set(counts[name]) & set(columns) else None
        rows.append((name, outcomes, other))
    return columns, rows


class SyncRunConsoleAdmin(SyncRunAdmin):
    change_form_template = "admin/console/syncrun_change_form.html"
    readonly_fields = [f for f in SyncRunAdmin.readonly_fields if f not in ("counts", "targets")]
    fields = readonly_fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                 **(extra_context or {})}
        if run is not None:
            columns, rows = run_counts_table(run.counts)
            audit_rows = reverse("admin:audit_recordevent_changelist") + f"?run={run.pk}"
            groups = (RecordEvent.objects.for_tenant(run.tenant_id)
                      .filter(run_id=run.pk, outcome__in=["held", "failed"]).order_by()
                      .values("outcome", "reason").annotate(n=Count("id")).order_by("outcome", "-n", "reason"))
            running = run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
            extra.update(
                run_totals=run_totals(run.counts), count_columns=columns, count_rows=rows, running=running,
                current_step=run.current_step or (rows[-1][0] if rows and running else ""),
                progress_line=progress_text(run_progress(run)) if run.current_step else "",
                run_groups=[{**g, "label": reason_label(g["reason"]) if g["reason"] else "(no reason)",
                             "url": f"{audit_rows}&outcome__exact={g['outcome']}&reason={g['reason']}"}
                            for g in groups],
                run_events_url=audit_rows, tenant_zone=run.tenant.time_zone,
                replayed=[(ENTITY_LABELS.get(entity, entity), [(i, record_url(run.tenant_id, entity, i))
                                                                for i in ids[:REPLAY_SHOWN]], len(ids) - REPLAY_SHOWN)
                          for entity, ids in (run.targets or {}).items() if isinstance(ids, list)],
            )
        return super(SyncRunAdmin, self).change_view(request, object_id, form_url, extra_context=extra)


admin.site.unregister(SyncRun)
admin.site.register(SyncRun, SyncRunConsoleAdmin)


# ---------------------------------------------------------------------- the outbound call log


class ApiCallConsoleAdmin(ExportMixin, ApiCallAdmin):
    actions = [csv_export_action(["created_at", "tenant_id", "run_id", "system", "method", "path", "status", "code",
                                  "attempt", "duration_ms", "intuit_tid", "error"], "api calls")]


admin.site.unregister(ApiCall)
admin.site.register(ApiCall, ApiCallConsoleAdmin)

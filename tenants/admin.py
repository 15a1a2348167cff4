"""Admin for support staff: tenants at a glance (both connections, last run, held records), actions that
call the services, a per-tenant dashboard and the link that starts QuickBooks re-authorization.

The admin is the support console over every app, so unlike the models it may call `connections` and
`sync` services; it never changes a row itself.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin

from connections.models import ConnectionStatus
from core.actor import actor_from_request
from core.exceptions import ApplicationError, Conflict
from tenants.models import Partner, PartnerAPIKey, Tenant
from tenants.services import (
    api_key_create,
    api_key_delete,
    api_key_update,
    partner_create,
    partner_delete,
    partner_update,
    tenant_create,
    tenant_delete,
    tenant_update,
)

BADGE_COLOURS = {
    ConnectionStatus.CONNECTED: "#2e7d32",
    ConnectionStatus.NEEDS_REAUTHORIZATION: "#c62828",
    ConnectionStatus.ERROR: "#c62828",
    ConnectionStatus.NOT_CONFIGURED: "#757575",
}
RUN_COLOURS = {"succeeded": "#2e7d32", "failed": "#c62828", "running": "#1565c0", "queued": "#1565c0",
               "cancelled": "#757575"}
# QuickBooks states a person can only fix by going through Intuit's consent screen again.
REAUTHORIZE = {ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.NOT_CONFIGURED, None}


def badge(text: str, colour: str, title: str = ""):
    return format_html('<span class="mlc-badge" title="{}" style="display:inline-block;padding:1px 7px;'
                       'border-radius:9px;color:#fff;background:{};font-size:11px;white-space:nowrap">{}</span>',
                       title, colour, text)


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


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "tenant_count", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_tenant_count=Count("tenants"))

    @admin.display(description="tenants", ordering="_tenant_count")
    def tenant_count(self, obj):
        return obj._tenant_count

    def save_model(self, request, obj, form, change):
        """Through the services (audited as partner.create / partner.update); no key is made here: keys are
        added under "Partner API keys", where each is shown once."""
        actor = actor_from_request(request)
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            partner_update(partner=Partner.objects.get(pk=obj.pk), data=data, actor=actor)
        else:
            partner, _ = partner_create(name=obj.name, return_url_origins=obj.return_url_origins,
                                        is_active=obj.is_active, initial_key=False, actor=actor)
            obj.pk = partner.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        partner_delete(partner=obj, actor=actor_from_request(request))

    def delete_queryset(self, request, queryset):
        for partner in queryset:
            partner_delete(partner=partner, actor=actor_from_request(request))


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "jaggaer", "quickbooks", "last_run", "held", "schedule", "links"]
    list_filter = [ConnectionsFilter, HeldFilter, "schedule_paused", "is_active", "partner"]
    list_select_related = ["partner", "jaggaer_connection", "qbo_connection"]
    search_fields = ["name", "slug"]
    readonly_fields = ["id", "next_sync_at", "created_at", "updated_at"]
    actions = ["ping_connections", "sync_now", "pause_schedule", "resume_schedule"]
    show_full_result_count = False

    def get_queryset(self, request):
        from sync.models import Hold, SyncRun

        runs = SyncRun.objects.filter(tenant=OuterRef("pk")).order_by("-created_at")
        held = (Hold.objects.filter(tenant=OuterRef("pk")).order_by().values("tenant")
                .annotate(n=Count("id")).values("n"))
        return super().get_queryset(request).annotate(
            _last_run_id=Subquery(runs.values("id")[:1]),
            _last_run_status=Subquery(runs.values("status")[:1]),
            _last_run_at=Subquery(runs.values("created_at")[:1]),
            _held=Coalesce(Subquery(held, output_field=IntegerField()), Value(0)),
        )

    def get_readonly_fields(self, request, obj=None):
        # Moving a tenant to another partner hands its data to that partner: superusers only.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, "partner"]

    def save_model(self, request, obj, form, change):
        """Through the services the API uses: a new hour or time zone reschedules the daily sync, and each
        change is one people-audit row with before and after."""
        actor = actor_from_request(request)
        if not change:
            data = {name: getattr(obj, name) for name in form.cleaned_data if name != "partner"}
            tenant = tenant_create(partner=obj.partner, data=data, actor=actor)
        else:
            changed = {name: form.cleaned_data[name] for name in form.changed_data}
            tenant = tenant_update(tenant=Tenant.objects.get(pk=obj.pk), data=changed, actor=actor)
        obj.pk = tenant.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        tenant_delete(tenant=obj, actor=actor_from_request(request))

    def delete_queryset(self, request, queryset):
        for tenant in queryset:
            tenant_delete(tenant=tenant, actor=actor_from_request(request))

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

    @admin.display(description="schedule", ordering="next_sync_at")
    def schedule(self, obj):
        if obj.schedule_paused:
            return badge("paused", "#757575")
        return f"{obj.sync_hour:02d}:00 {obj.time_zone}"

    @admin.display(description="")
    def links(self, obj):
        return format_html('<a href="{}">dashboard</a> · <a href="{}">mappings</a> · <a href="{}">runs</a>',
                           reverse("admin:tenants_tenant_dashboard", args=[obj.pk]),
                           reverse("admin:sync_mapping_tenant", args=[obj.pk]),
                           reverse("admin:sync_syncrun_changelist") + f"?tenant__id__exact={obj.pk}")

    # ------------------------------------------------------------------ actions

    @admin.action(description="Ping both connections", permissions=["change"])
    def ping_connections(self, request, queryset):
        from connections.health import connection_ping

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
        from sync.models import SyncRun
        from sync.runs.lifecycle import sync_request

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

    def _set_paused(self, request, queryset, paused: bool) -> None:
        for tenant in queryset:
            if tenant.schedule_paused == paused:
                continue
            # Resuming also recomputes the next run (the service's rule, the same as the API's).
            tenant_update(tenant=tenant, data={"schedule_paused": paused}, actor=actor_from_request(request))
            self.message_user(request, f"{tenant}: daily sync {'paused' if paused else 'resumed'}.",
                              messages.SUCCESS)

    @admin.action(description="Pause the daily sync", permissions=["change"])
    def pause_schedule(self, request, queryset):
        self._set_paused(request, queryset, True)

    @admin.action(description="Resume the daily sync", permissions=["change"])
    def resume_schedule(self, request, queryset):
        self._set_paused(request, queryset, False)

    # ------------------------------------------------------------------ views

    def get_urls(self):
        own = [
            path("<uuid:tenant_id>/dashboard/", self.admin_site.admin_view(self.dashboard_view),
                 name="tenants_tenant_dashboard"),
            path("<uuid:tenant_id>/qbo-authorize/", self.admin_site.admin_view(self.qbo_authorize_view),
                 name="tenants_tenant_qbo_authorize"),
        ]
        return own + super().get_urls()

    def dashboard_view(self, request, tenant_id):
        from sync.dashboard import outcomes_chart_svg, record_outcomes_by_day
        from sync.mappings.selectors import alignment_report
        from sync.models import SyncRun

        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant.objects.select_related("partner", "jaggaer_connection", "qbo_connection"),
                                   pk=tenant_id)
        days = record_outcomes_by_day(tenant=tenant, days=30)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": f"Dashboard: {tenant.name}", "tenant": tenant,
            "days": days, "chart": outcomes_chart_svg(days),
            "totals": {name: sum(getattr(d, name) for d in days) for name in ("synced", "held", "failed")},
            "jaggaer": connection_badge(_connection(tenant, "jaggaer_connection")),
            "quickbooks": connection_badge(_connection(tenant, "qbo_connection")),
            "report": alignment_report(tenant=tenant),
            "runs": SyncRun.objects.for_tenant(tenant).order_by("-created_at")[:10],
        }
        return TemplateResponse(request, "admin/tenants/tenant/dashboard.html", context)

    def qbo_authorize_view(self, request, tenant_id):
        from connections.qbo_authorization import qbo_authorization_start

        if not self.has_change_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant.objects.select_related("partner"), pk=tenant_id)
        if request.method != "POST":  # a GET (a link, a prefetch) only asks; starting the flow is a POST
            context = {**self.admin_site.each_context(request), "opts": self.model._meta, "tenant": tenant,
                       "title": f"Re-authorize QuickBooks: {tenant.name}"}
            return TemplateResponse(request, "admin/tenants/tenant/qbo_authorize.html", context)
        try:
            url = qbo_authorization_start(tenant=tenant, actor=actor_from_request(request))
        except ApplicationError as e:
            self.message_user(request, f"{tenant}: {e.message}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:tenants_tenant_changelist"))
        return HttpResponseRedirect(url)


@admin.register(PartnerAPIKey)
class PartnerAPIKeyAdmin(APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "partner"]
    list_filter = [*APIKeyModelAdmin.list_filter, "partner"]
    list_select_related = ["partner"]
    search_fields = [*APIKeyModelAdmin.search_fields, "partner__name"]

    def save_model(self, request, obj, form, change):
        """Through the services (audited as api_key.create / api_key.update / api_key.revoke); a new key is
        shown once, as the API-key admin always did."""
        actor = actor_from_request(request)
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
            api_key_update(api_key=PartnerAPIKey.objects.get(pk=obj.pk), data=data, actor=actor)
        else:
            api_key, key = api_key_create(partner=obj.partner, name=obj.name, expiry_date=obj.expiry_date,
                                          actor=actor)
            if obj.revoked:
                api_key_update(api_key=api_key, data={"revoked": True}, actor=actor)
            obj.pk = api_key.pk
            obj._state.adding = False
            messages.add_message(request, messages.WARNING,
                                 f"The API key for {api_key.name} is: {key}. Please store it somewhere safe: "
                                 f"you will not be able to see it again.")
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        api_key_delete(api_key=obj, actor=actor_from_request(request))

    def delete_queryset(self, request, queryset):
        for api_key in queryset:
            api_key_delete(api_key=api_key, actor=actor_from_request(request))

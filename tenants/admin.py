"""Admin for support staff over the tenants app: partners, tenants and partner API keys, each change
through the tenants services (one people-audit row each), and the `badge` every app's admin shows states with.

What the tenants list shows of the apps above (both connections, the last run, held records), the actions
that call their services, the per-tenant dashboard and QuickBooks re-authorization belong to the support
console (console/admin.py), which registers over TenantAdmin: this module imports no app above tenants.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin

from core.actor import actor_from_request
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

# A run's status as every admin colours it (the runs admin, the console's last-run column).
RUN_COLOURS = {"succeeded": "#2e7d32", "failed": "#c62828", "running": "#1565c0", "queued": "#1565c0",
               "cancelled": "#757575"}


def badge(text: str, colour: str, title: str = ""):
    return format_html('<span class="mlc-badge" title="{}" style="display:inline-block;padding:1px 7px;'
                       'border-radius:9px;color:#fff;background:{};font-size:11px;white-space:nowrap">{}</span>',
                       title, colour, text)


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
    """A tenant's own fields and schedule, through the tenants services. The support console
    (console/admin.py) registers over it with the connections, runs and held records beside each tenant."""

    list_display = ["name", "partner", "schedule"]
    list_filter = ["schedule_paused", "is_active", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "slug"]
    readonly_fields = ["id", "next_sync_at", "created_at", "updated_at"]
    actions = ["pause_schedule", "resume_schedule"]
    show_full_result_count = False

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

    @admin.display(description="schedule", ordering="next_sync_at")
    def schedule(self, obj):
        if obj.schedule_paused:
            return badge("paused", "#757575")
        return f"{obj.sync_hour:02d}:00 {obj.time_zone}"

    # ------------------------------------------------------------------ actions

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

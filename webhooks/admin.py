"""Admin for support staff: endpoints (the signing secret is never shown), the events, the delivery log and
its redeliver action (admin actions are POSTs). Every change goes through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models

from core.actor import actor_from_request
from core.exceptions import ApplicationError
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "partner", "enabled", "failure_streak", "failing_since", "disabled_reason", "created_at"]
    list_filter = ["enabled"]
    list_select_related = ["partner"]
    search_fields = ["url", "partner__name"]
    fields = ["partner", "url", "description", "event_types", "enabled", "failure_streak", "failing_since",
              "disabled_at", "disabled_reason", "previous_secret_expires_at", "created_at", "updated_at"]
    readonly_fields = ["partner", "failure_streak", "failing_since", "disabled_at", "disabled_reason",
                       "previous_secret_expires_at", "created_at", "updated_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request) -> bool:
        return False      # partners add endpoints through the API, which answers the secret once

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data
                if name in ("url", "description", "event_types", "enabled")}
        fresh = WebhookEndpoint.objects.get(pk=obj.pk)
        try:
            services.endpoint_update(endpoint=fresh, data=data, actor=actor_from_request(request))
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj, actor=actor_from_request(request))

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint, actor=actor_from_request(request))


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "partner", "tenant", "created_at"]
    list_filter = ["type"]
    list_select_related = ["partner", "tenant"]
    search_fields = ["=id"]
    show_full_result_count = False
    readonly_fields = ["id", "partner", "tenant", "type", "payload", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "endpoint", "tenant", "status", "attempts", "last_status_code", "last_error",
                    "next_attempt_at", "delivered_at"]
    list_filter = ["status", "event__type"]
    list_select_related = ["event", "endpoint", "tenant"]
    show_full_result_count = False
    readonly_fields = ["endpoint", "event", "tenant", "status", "attempts", "last_status_code", "last_error",
                       "last_attempt_at", "next_attempt_at", "delivered_at", "created_at"]
    actions = ["redeliver"]

    @admin.display(description="event")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Send the selected deliveries' events again")
    def redeliver(self, request, queryset):
        sent = 0
        for delivery in queryset.select_related("endpoint", "event"):
            try:
                services.delivery_redeliver(delivery=delivery, actor=actor_from_request(request))
            except ApplicationError as exc:
                self.message_user(request, f"delivery {delivery.pk}: {exc.message}", messages.WARNING)
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} event(s) queued again.", messages.SUCCESS)

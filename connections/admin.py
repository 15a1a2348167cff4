"""Admin for support staff: health at a glance, set-only secrets, actions that call the services.

No page ever renders a secret: the encrypted fields are left out of every form and display, a new
JAGGAER client secret goes into a password input that is never filled back in.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from connections import health, jaggaer, qbo_authorization, tokens
from connections.exceptions import ConnectionFailure
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from core.actor import actor_from_request

_HEALTH = ["status", "status_reason", "last_success_at", "last_error_code", "last_error_message", "last_error_at",
           "consecutive_failures", "last_ping_at", "last_ping_ok", "last_ping_result", "created_at", "updated_at"]


class HasErrorsFilter(admin.SimpleListFilter):
    title = "failing"
    parameter_name = "failing"

    def lookups(self, request, model_admin):
        return [("yes", "failing now"), ("no", "not failing")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(consecutive_failures__gt=0)
        if self.value() == "no":
            return queryset.filter(consecutive_failures=0)
        return queryset


class StaleFilter(admin.SimpleListFilter):
    title = "last success"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [("1d", "none for a day"), ("7d", "none for a week")]

    def queryset(self, request, queryset):
        days = {"1d": 1, "7d": 7}.get(self.value() or "")
        if not days:
            return queryset
        cutoff = timezone.now() - dt.timedelta(days=days)
        return queryset.exclude(last_success_at__gte=cutoff)


def _ping(modeladmin, request, queryset, system: str) -> None:
    for connection in queryset.select_related("tenant"):
        if not connection.tenant.is_active:
            modeladmin.message_user(request, f"{connection.tenant}: deactivated; not pinged.", messages.WARNING)
            continue
        answer = health.connection_ping(tenant=connection.tenant, system=system,
                                        actor=actor_from_request(request))
        if answer["ok"]:
            modeladmin.message_user(request, f"{connection.tenant}: ping worked.", messages.SUCCESS)
        else:
            problem = answer["problem"] or {}
            modeladmin.message_user(request, f"{connection.tenant}: {problem.get('message', 'ping failed')}",
                                    messages.WARNING)


class JaggaerConnectionForm(forms.ModelForm):
    api_base_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    new_client_secret = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Set-only: type a new secret to replace the stored one; leave empty to keep it.")

    class Meta:
        model = JaggaerConnection
        fields = ["tenant", "api_base_url", "client_id", "dialect"]

    def clean_api_base_url(self):
        value = self.cleaned_data["api_base_url"]
        error = value and jaggaer.jaggaer_api_base_url_error(value)
        if error:
            raise forms.ValidationError(error)
        return value.rstrip("/")

    def clean_dialect(self):
        value = self.cleaned_data["dialect"] or {}
        errors = jaggaer.jaggaer_dialect_errors(value)
        if errors:
            raise forms.ValidationError([f"{key}: {'; '.join(problems)}" for key, problems in errors.items()])
        return value

    def clean(self):
        cleaned = super().clean()
        stored = JaggaerConnection.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        if stored is not None:
            changes = {name: cleaned[name] for name in ("api_base_url", "dialect") if name in cleaned}
            error = jaggaer.jaggaer_secret_follows_host_error(
                connection=stored, secret_given=bool(cleaned.get("new_client_secret")), **changes)
            if error:
                self.add_error("new_client_secret", error)
        return cleaned


@admin.register(JaggaerConnection)
class JaggaerConnectionAdmin(admin.ModelAdmin):
    form = JaggaerConnectionForm
    list_display = ["tenant", "status", "api_base_url", "client_id_hint", "secret_set", "last_success_at",
                    "consecutive_failures", "last_error_at"]
    list_filter = ["status", HasErrorsFilter, StaleFilter]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "tenant__slug", "api_base_url"]
    readonly_fields = ["secret_set", "token_cached", "access_token_expires_at", *_HEALTH]
    actions = ["ping"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "tenant"] if obj else self.readonly_fields

    def get_fields(self, request, obj=None):
        return ["tenant", "api_base_url", "client_id", "new_client_secret", "secret_set", "dialect", "token_cached",
                "access_token_expires_at", *_HEALTH]

    @admin.display(description="client id")
    def client_id_hint(self, obj):
        return f"…{obj.client_id_last4}" if obj.client_id else "-"

    @admin.display(description="client secret set", boolean=True)
    def secret_set(self, obj):
        return bool(obj.client_secret)

    @admin.display(description="token cached", boolean=True)
    def token_cached(self, obj):
        return bool(obj.access_token)

    def save_model(self, request, obj, form, change):
        """Through the service, like the API: the same validation, token, status and failure-count reset,
        secret-follows-host rule and audit row."""
        secret = form.cleaned_data.get("new_client_secret")
        changes = {name: form.cleaned_data[name] for name in ("api_base_url", "client_id", "dialect")
                   if not change or name in form.changed_data}
        if secret:
            changes["client_secret"] = secret
        connection = jaggaer.jaggaer_connection_configure(tenant=obj.tenant, actor=actor_from_request(request),
                                                          **changes)
        obj.pk = connection.pk
        obj.refresh_from_db()
        obj._state.adding = False

    @admin.action(description="Ping the selected connections", permissions=["change"])
    def ping(self, request, queryset):
        _ping(self, request, queryset, "jaggaer")


@admin.register(QboConnection)
class QboConnectionAdmin(admin.ModelAdmin):
    list_display = ["tenant", "realm_id", "status", "reauthorize", "last_refreshed_at", "refresh_token_expires_at",
                    "last_success_at", "consecutive_failures", "last_error_code", "last_error_at"]
    list_filter = ["status", HasErrorsFilter, StaleFilter]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "tenant__slug", "realm_id"]
    fields = ["tenant", "realm_id", "tokens_held", "connected_at", "access_token_expires_at",
              "refresh_token_expires_at", "refresh_token_hard_expires_at", "last_refreshed_at", *_HEALTH]
    readonly_fields = fields
    actions = ["ping", "refresh_now", "disconnect"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # connections are made by the customer through Intuit's consent screen

    @admin.display(description="")
    def reauthorize(self, obj):
        if obj.status not in (ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.NOT_CONFIGURED):
            return ""
        return format_html('<a class="mlc-reauthorize" href="{}">re-authorize</a>',
                           reverse("admin:tenants_tenant_qbo_authorize", args=[obj.tenant_id]))

    @admin.display(description="tokens held", boolean=True)
    def tokens_held(self, obj):
        return bool(obj.refresh_token)

    @admin.action(description="Ping the selected connections", permissions=["change"])
    def ping(self, request, queryset):
        _ping(self, request, queryset, "qbo")

    @admin.action(description="Refresh the access token now", permissions=["change"])
    def refresh_now(self, request, queryset):
        for connection in queryset.select_related("tenant"):
            try:
                tokens.qbo_connection_refresh(connection=connection, actor=actor_from_request(request))
            except ConnectionFailure as exc:
                self.message_user(request, f"{connection.tenant}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, f"{connection.tenant}: refreshed.", messages.SUCCESS)

    @admin.action(description="Disconnect (revoke at Intuit and forget the tokens)", permissions=["change"])
    def disconnect(self, request, queryset):
        for connection in queryset.select_related("tenant"):
            answer = qbo_authorization.qbo_connection_disconnect(tenant=connection.tenant,
                                                                 actor=actor_from_request(request))
            self.message_user(request, f"{connection.tenant}: {answer['message']}", messages.INFO)

"""Each tenant's two connections (JAGGAER and QuickBooks Online) and the QBO OAuth `state` nonces.

Secrets (client secret, access and refresh tokens) are `CredentialField`s: encrypted at rest,
never serialized, never shown in the admin. Rows are changed only through the services of
`connections.jaggaer`, `connections.qbo_authorization`, `connections.tokens` and `connections.health`.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from connections.crypto import CredentialField
from core.tenancy import TenantOwnedModel
from tenants.models import Tenant


class ConnectionStatus(models.TextChoices):
    NOT_CONFIGURED = "not_configured", "not configured"
    CONNECTED = "connected", "connected"
    NEEDS_REAUTHORIZATION = "needs_reauthorization", "needs reauthorization"
    ERROR = "error", "error"


class ConnectionBase(TenantOwnedModel):
    """Health bookkeeping shared by both connections, kept up to date by the services."""

    system: str = ""

    status = models.CharField(max_length=32, choices=ConnectionStatus.choices,
                              default=ConnectionStatus.NOT_CONFIGURED)
    status_reason = models.TextField(blank=True, help_text="Why the status is what it is (for people).")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_ping_ok = models.BooleanField(null=True, blank=True)
    last_ping_result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        abstract = True

    @property
    def last_error(self) -> dict | None:
        if not self.last_error_at:
            return None
        return {"code": self.last_error_code, "message": self.last_error_message, "at": self.last_error_at}


class JaggaerConnection(ConnectionBase):
    system = "jaggaer"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="jaggaer_connection")
    api_base_url = models.URLField(max_length=500, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret = CredentialField(null=True, blank=True)
    access_token = CredentialField(null=True, blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    # Per-tenant overrides of connections.clients.jaggaer.DEFAULT_DIALECT (known keys only).
    dialect = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "JAGGAER connection"

    def __str__(self) -> str:
        return f"JAGGAER connection of {self.tenant_id} ({self.status})"

    @property
    def is_configured(self) -> bool:
        return bool(self.api_base_url and self.client_id and self.client_secret)

    @property
    def client_id_last4(self) -> str:
        return self.client_id[-4:] if self.client_id else ""

    def access_token_valid_for(self, seconds: int) -> bool:
        return bool(self.access_token and self.access_token_expires_at
                    and (self.access_token_expires_at - timezone.now()).total_seconds() > seconds)


class QboConnection(ConnectionBase):
    system = "qbo"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="qbo_connection")
    realm_id = models.CharField(max_length=32, blank=True)
    access_token = CredentialField(null=True, blank=True)
    refresh_token = CredentialField(null=True, blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_hard_expires_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "QuickBooks connection"
        constraints = [
            # One QuickBooks company feeds one tenant: two token chains for one realm would race.
            models.UniqueConstraint(fields=["realm_id"], condition=~models.Q(realm_id=""),
                                    name="connections_qbo_unique_realm"),
        ]
        indexes = [models.Index(fields=["status", "last_refreshed_at"])]

    def __str__(self) -> str:
        return f"QuickBooks connection of {self.tenant_id} (realm {self.realm_id or '-'}, {self.status})"

    @property
    def has_tokens(self) -> bool:
        return bool(self.refresh_token)

    def access_token_valid_for(self, seconds: int) -> bool:
        return bool(self.access_token and self.access_token_expires_at
                    and (self.access_token_expires_at - timezone.now()).total_seconds() > seconds)


class QboOAuthState(TenantOwnedModel):
    """One authorization attempt: the `state` names this nonce, and the callback consumes it once."""

    nonce = models.CharField(max_length=64, primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    return_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


    class Meta:
        verbose_name = "QuickBooks authorization attempt"
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"OAuth state for {self.tenant_id} ({'used' if self.used_at else 'open'})"


class ConnectLink(TenantOwnedModel):
    """A signed, expiring, single-use link for the customer's QuickBooks admin: a hosted page that starts Intuit's
    consent for this tenant (and may take the JAGGAER credentials). Only a hash of its token is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    return_url = models.URLField(max_length=2000, blank=True)
    collect_jaggaer = models.BooleanField(default=False)
    created_by = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=40, blank=True, default="", help_text="How Intuit's consent ended.")

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"connect link {self.pk} of {self.tenant_id} ({'used' if self.used_at else 'open'})"

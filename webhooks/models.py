"""A partner's webhook endpoints, the outbox of events, and one delivery row per event and endpoint.

An event about a tenant is that tenant's row (`TenantOwnedModel`, scoped like every other); an event about
the partner's own set-up has no tenant. The partner's API reads its log across its tenants and the delivery
sweep works across partners: both say `unscoped(...)` and filter by partner or id themselves.
"""

from __future__ import annotations

import uuid

from django.db import models

from core.crypto import CredentialField
from core.tenancy import TenantOwnedModel


class WebhookEndpoint(models.Model):
    """Where a partner wants events: a URL, the event types it subscribes to (empty: all), its signing secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey("tenants.Partner", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    event_types = models.JSONField(default=list, blank=True, help_text="Event types sent here; empty means all.")
    enabled = models.BooleanField(default=True)
    secret = CredentialField(help_text="whsec_... (encrypted); shown to the partner once, when made.")
    # During a rotation the previous secret also signs, until previous_secret_expires_at.
    previous_secret = CredentialField(null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    failure_streak = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.url}"

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(TenantOwnedModel):
    """One event in the outbox, written in the transaction of the change it reports."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey("tenants.Partner", on_delete=models.CASCADE, related_name="webhook_events")
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="webhook_events")
    type = models.CharField(max_length=60)
    payload = models.JSONField(help_text="The body sent, exactly: id, type, timestamp, data.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["partner", "type", "created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    @property
    def message_id(self) -> str:
        """The `webhook-id` header: the same for every attempt and redelivery of this event."""
        return f"msg_{self.id.hex}"


class WebhookDelivery(TenantOwnedModel):
    """One event for one endpoint: its attempts, the last answer's status code, the next try."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"          # every retry failed; a redelivery starts it again

    id = models.BigAutoField(primary_key=True)   # creation order: deliveries of one tenant go out in it
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    # The order key: a delivery waits while an earlier one of the same endpoint and tenant is pending.
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="", help_text="In our words; never the "
                                                                                      "remote answer's body.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "tenant", "status", "id"]),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"

import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

# Names in the zone folder that are not IANA zones: "localtime" is whatever this machine is set to.
NOT_ZONES = {"localtime", "posixrules", "Factory"}


def validate_time_zone(value: str) -> None:
    if value in NOT_ZONES or value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not an IANA time zone, such as 'America/Chicago'.")


class Partner(models.Model):
    """A company that onboards and manages tenants through the API (a partner portal, or us)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    is_active = models.BooleanField(default=True)
    # Origins (scheme://host[:port]) the partner's portal may be sent back to after OAuth.
    return_url_origins = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerAPIKey(AbstractAPIKey):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False,
                                        help_text="When a request last authenticated with this key (to the minute).")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "partner API key"
        verbose_name_plural = "partner API keys"


class TenantQuerySet(models.QuerySet):
    def for_partner(self, partner: Partner) -> "TenantQuerySet":
        """The one place a tenant is scoped to the partner that owns it."""
        return self.filter(partner=partner)


class Tenant(models.Model):
    """A customer company whose JAGGAER and QuickBooks we keep in step."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="tenants")
    name = models.CharField(max_length=200)
    # Unique per partner: a partner never learns another partner's slugs from a refusal.
    slug = models.SlugField(max_length=64)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    sync_hour = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text="Local hour (0-23, in the tenant's time zone) at which the daily sync starts.",
    )
    is_active = models.BooleanField(default=True)
    schedule_paused = models.BooleanField(
        default=False, help_text="Paused: the daily sync does not run (syncs on demand still do)."
    )
    # When the daily sync is next due (UTC); empty means "compute from sync_hour and time_zone".
    next_sync_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["partner", "slug"], name="tenant_slug_unique_per_partner")]
        indexes = [
            models.Index(fields=["partner", "is_active"]),
            models.Index(fields=["next_sync_at"], name="tenant_due_idx",
                         condition=models.Q(is_active=True, schedule_paused=False)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"



class IdempotencyKey(models.Model):
    """A partner's `Idempotency-Key`: claimed when its first request starts, then the answer it got (kept 24 h)."""

    id = models.BigAutoField(primary_key=True)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    # sha256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    request_id = models.CharField(max_length=128, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while the request runs.")
    content_type = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "key"], name="idempotency_key_unique_per_partner")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"

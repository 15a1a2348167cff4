"""What happened to each record a sync touched: one row per record per run, written in bulk."""

from django.db import models

from tenants.models import TenantOwnedQuerySet


class Outcome(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    HELD = "held"
    FAILED = "failed"
    SKIPPED = "skipped"


class RecordEvent(models.Model):
    """One record's fate in one run. `run_id` is a plain id: audit imports nothing of `sync`."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="record_events")
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    entity = models.CharField(max_length=40)
    source_id = models.CharField(max_length=200)
    qbo_id = models.CharField(max_length=40, blank=True, default="")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reason = models.CharField(max_length=60, blank=True, default="")
    message = models.TextField(blank=True, default="")
    qbo_error_code = models.CharField(max_length=20, blank=True, default="")
    intuit_tid = models.CharField(max_length=100, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = TenantOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "entity", "source_id"]),
            models.Index(fields=["tenant", "outcome", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.source_id}: {self.outcome}"

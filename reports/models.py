"""The fit report and the reconciliation: one row each with its summary, and their rows (records, findings)."""

import uuid

from django.db import models

from core.tenancy import TenantOwnedModel


class ReportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class FitReport(TenantOwnedModel):
    """What the next sync would do, read from both systems with nothing written (see reports.fit)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="fit_reports")
    status = models.CharField(max_length=20, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    parameters = models.JSONField(default=dict, blank=True, help_text="max_pages: JAGGAER pages read per entity.")
    capped = models.BooleanField(default=False, help_text="A sample: some entity had more JAGGAER pages than read.")
    # {"entities": {entity: {prediction: n}}, "holds": {reason: n}, "mapping_gaps": [...], "budget": {...}}
    summary = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=60, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    created_by = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return f"fit report {self.id} ({self.status})"


class Prediction(models.TextChoices):
    CREATE = "create"
    LINK = "link"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIP = "skip"
    HOLD = "hold"
    FAIL = "fail"


class FitRecord(TenantOwnedModel):
    """One record's predicted fate: the outcome and reason the real sync gives it."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(FitReport, on_delete=models.CASCADE, related_name="records")
    entity = models.CharField(max_length=40)
    source_id = models.CharField(max_length=200)
    prediction = models.CharField(max_length=20, choices=Prediction.choices)
    outcome = models.CharField(max_length=20)
    reason = models.CharField(max_length=60, blank=True, default="")
    qbo_id = models.CharField(max_length=40, blank=True, default="", help_text="The existing QBO object it links to.")
    rule = models.CharField(max_length=120, blank=True, default="", help_text="Why it links to that object.")
    waits_on = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["report", "entity", "prediction"])]

    def __str__(self) -> str:
        return f"{self.entity} {self.source_id}: {self.prediction}"


class Reconciliation(TenantOwnedModel):
    """JAGGAER against QuickBooks for one period (a calendar month in the tenant's zone by default)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="reconciliations")
    status = models.CharField(max_length=20, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day of the period, included.")
    parameters = models.JSONField(default=dict, blank=True)
    # {"kinds": {kind: n}, "severities": {severity: n}, "requests": {...}}
    summary = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=60, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    created_by = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "period_start"])]

    def __str__(self) -> str:
        return f"reconciliation {self.period_start:%Y-%m} ({self.status})"


class Severity(models.TextChoices):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Finding(TenantOwnedModel):
    """One difference between the two systems, with both sides' values and what resolves it."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    entity = models.CharField(max_length=40)
    jaggaer_id = models.CharField(max_length=200, blank=True, default="")
    qbo_id = models.CharField(max_length=40, blank=True, default="")
    jaggaer_value = models.JSONField(default=dict, blank=True)
    qbo_value = models.JSONField(default=dict, blank=True)
    action = models.CharField(max_length=20, help_text="replay, forget_link, map or manual.")
    action_detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["reconciliation", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.jaggaer_id or self.qbo_id}"

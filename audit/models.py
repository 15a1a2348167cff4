"""Per-record rows of each run, the outbound call log, and the people's actions."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from core import actor as core_actor
from core.outcomes import Outcome  # re-exported: audit.models.Outcome is the pipeline's vocabulary
from core.tenancy import TenantOwnedModel


class RecordEvent(TenantOwnedModel):
    """One record's fate in one run. `run_id` is a plain id: audit imports nothing of `sync`."""

    # no index of its own: the indexes below start with the tenant (one index less per row written)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="record_events",
                               db_index=False)
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


    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "entity", "source_id"]),
            models.Index(fields=["tenant", "outcome", "created_at"]),
            # A tenant's rows of a period in order (the month-end CSV) without sorting them.
            models.Index(fields=["tenant", "created_at"], name="audit_event_tenant_created"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.source_id}: {self.outcome}"


class ApiCall(TenantOwnedModel):
    """One attempt of one outbound HTTP call (JAGGAER or QuickBooks), kept `API_CALL_RETENTION_DAYS`.

    Written in bulk from an in-memory buffer. The tenant is a reference without a database constraint:
    a buffered call must never fail someone else's commit, and pruning is by age anyway.
    """

    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.DO_NOTHING,
                               db_constraint=False, related_name="+")
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    system = models.CharField(max_length=20)                  # "qbo" | "jaggaer"
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=1000, help_text="Path and query string; secret values masked.")
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: no HTTP answer came.")
    code = models.CharField(max_length=60, blank=True, default="",
                            help_text="QBO fault code, JAGGAER returnCode, or the transport failure kind.")
    intuit_tid = models.CharField(max_length=100, blank=True, default="")
    realm_id = models.CharField(max_length=40, blank=True, default="")
    attempt = models.PositiveSmallIntegerField(default=1)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=1000, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="", db_index=True,
                                  help_text="X-Request-Id of the API request that made the call (empty in a run).")
    created_at = models.DateTimeField(db_index=True, help_text="When the attempt finished.")


    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.system} {self.method} {self.path} -> {self.status or self.code or '?'}"

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


class Action(TenantOwnedModel):
    """What a person (through an API key or the admin) or the system did: who, what, before and after."""

    class ActorKind(models.TextChoices):
        API_KEY = core_actor.ActorKind.API_KEY.value, "API key"
        STAFF_USER = core_actor.ActorKind.STAFF_USER.value, "staff user"
        SYSTEM = core_actor.ActorKind.SYSTEM.value, "system"

    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="audit_actions")
    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices)
    # "api-key:<prefix> (<partner>)" or a username: never a key.
    actor_label = models.CharField(max_length=300)
    actor_id = models.CharField(max_length=100, blank=True, default="", help_text="API key id or user id.")
    action = models.CharField(max_length=80, help_text='Dotted code, e.g. "mapping.set".')
    target_type = models.CharField(max_length=60, blank=True, default="")
    target_id = models.CharField(max_length=300, blank=True, default="")
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    request_id = models.CharField(max_length=128, blank=True, default="", db_index=True,
                                  help_text="X-Request-Id of the API request that did it (empty outside one).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "created_at"]),
            models.Index(fields=["tenant", "action"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label}: {self.action} {self.target_type} {self.target_id}".strip()

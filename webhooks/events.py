"""The catalogue of events a partner can subscribe to: each type, when it is sent, and its `data` schema.

Every body is `{"id", "type", "timestamp", "data"}` (Standard Webhooks' recommended shape). `data` carries
ids, codes and counts, never a secret, a token or a record's content; timestamps are RFC 3339 in UTC.
The serializers here only describe the bodies (OpenAPI `webhooks`, config/schema.py); `emit` builds them.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from rest_framework import serializers


def rfc3339(value: dt.datetime | None) -> str | None:
    """A payload's timestamp: RFC 3339 in UTC ending in `Z` (None stays None)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class _RunError(serializers.Serializer):
    system = serializers.CharField(help_text="`jaggaer` or `qbo`, or empty when the problem was ours.")
    code = serializers.CharField(help_text="What went wrong, as a code (the run's `error_code`).")


class SyncRunData(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    run_id = serializers.UUIDField(help_text="GET /api/v1/tenants/{tenant_id}/syncs/{run_id} shows the run.")
    trigger = serializers.ChoiceField(choices=["api", "schedule", "command", "replay"])
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField()
    counts = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()),
                                   help_text="Per step, the number of records per outcome (created, updated, "
                                             "unchanged, held, failed, skipped), and `still_held`: records on "
                                             "hold the run left untouched.")
    held = serializers.IntegerField(help_text="Records this run left on hold.")
    error = _RunError(allow_null=True, help_text="Why the run failed; null when it did not.")


class _HeldExample(serializers.Serializer):
    entity = serializers.CharField()
    source_id = serializers.CharField(help_text="The JAGGAER id of the held record.")
    reason = serializers.CharField()


class RecordsHeldData(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    run_id = serializers.UUIDField()
    total = serializers.IntegerField(help_text="Records on hold after this run.")
    by_reason = serializers.DictField(child=serializers.IntegerField(), help_text="How many per hold reason.")
    examples = _HeldExample(many=True, help_text="A few of them (at most 5); GET …/holds lists all.")


class ConnectionData(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    system = serializers.ChoiceField(choices=["jaggaer", "qbo"])
    status = serializers.ChoiceField(choices=["connected", "needs_reauthorization", "error"])
    code = serializers.CharField(help_text="Why, as a code (the connection's `last_error_code`); empty when "
                                           "connected.")
    action = serializers.CharField(help_text="What to do about it, in one sentence.")


class ReconciliationData(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    period = serializers.CharField(help_text="The month reconciled, `YYYY-MM`.")
    counts_by_severity = serializers.DictField(child=serializers.IntegerField())
    report_id = serializers.CharField()


class EndpointDisabledData(serializers.Serializer):
    endpoint_id = serializers.UUIDField()
    failures = serializers.IntegerField(help_text="Failed attempts in a row.")
    failing_since = serializers.DateTimeField()
    reason = serializers.CharField()


class EventType(NamedTuple):
    summary: str
    description: str
    data: type[serializers.Serializer]
    tenant: bool = True                 # about one tenant (False: about the partner's own set-up)


EVENTS: dict[str, EventType] = {
    "sync.succeeded": EventType(
        "A sync run finished with every record written",
        "A run (scheduled, requested or a replay) finished and left no record on hold.", SyncRunData),
    "sync.completed_with_holds": EventType(
        "A sync run finished with records on hold",
        "A run finished; some records wait for a fix (a mapping, a missing vendor…). A `records.held` "
        "digest with the reasons follows.", SyncRunData),
    "sync.failed": EventType(
        "A sync run failed",
        "A run stopped before the end: `error.code` says why (a connection that needs attention, a "
        "system that could not be reached…).", SyncRunData),
    "records.held": EventType(
        "Records were held by a run (one digest per run)",
        "Sent once per run that leaves records on hold: the count per reason and a few examples, never one "
        "event per record.", RecordsHeldData),
    "connection.connected": EventType(
        "QuickBooks was connected",
        "The customer completed Intuit's consent and the tenant's QuickBooks company is connected.",
        ConnectionData),
    "connection.needs_reauthorization": EventType(
        "QuickBooks needs to be connected again",
        "Intuit refused the tenant's refresh token (revoked consent, expired): syncs stop until the customer "
        "reconnects (POST …/connections/qbo/authorize).", ConnectionData),
    "connection.error": EventType(
        "A connection is in error",
        "JAGGAER or QuickBooks refused the credentials or could not be used; `code` says why.", ConnectionData),
    "reconciliation.completed": EventType(
        "A month-end reconciliation finished",
        "The reconciliation of a month between JAGGAER and QuickBooks finished: its counts per severity and "
        "the report's id.", ReconciliationData),
    "webhook_endpoint.disabled": EventType(
        "A webhook endpoint was disabled after failing for too long",
        "Sent to the partner's other endpoints: one endpoint failed every attempt for a long time and was "
        "disabled. Fix it, then enable it again (PATCH …/webhook-endpoints/{id} `{\"enabled\": true}`).",
        EndpointDisabledData, tenant=False),
}

EVENT_TYPES = tuple(EVENTS)

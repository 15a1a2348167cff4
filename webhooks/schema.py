"""The events as OpenAPI 3.1 `webhooks` (SPECTACULAR_SETTINGS["WEBHOOKS"] names each object below)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema, inline_serializer
from rest_framework import serializers

from webhooks.events import EVENTS

_HEADERS = (
    "\n\nSigned per the Standard Webhooks specification. Headers: `webhook-id` (the event's id, the same on "
    "every retry: de-duplicate on it), `webhook-timestamp` (Unix seconds of this attempt) and "
    "`webhook-signature` (`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` with your "
    "endpoint's secret; two signatures separated by a space while a rotated secret overlaps). Answer 2xx "
    "within 10 seconds; anything else is retried for about a day.")


def _webhook(event_type: str) -> OpenApiWebhook:
    entry = EVENTS[event_type]
    name = "".join(part.capitalize() for part in event_type.replace("_", ".").split("."))
    body = inline_serializer(f"{name}Event", fields={
        "id": serializers.CharField(help_text="The event's id (`msg_…`), equal to the `webhook-id` header."),
        "type": serializers.ChoiceField(choices=[event_type]),
        "timestamp": serializers.DateTimeField(help_text="When the event happened (RFC 3339, UTC)."),
        "data": entry.data(),
    })
    return OpenApiWebhook(name=event_type, decorator=extend_schema(
        summary=entry.summary, description=entry.description + _HEADERS, request=body,
        responses={200: OpenApiResponse(description="Any 2xx answer means received; the body is ignored.")}))


sync_succeeded = _webhook("sync.succeeded")
sync_completed_with_holds = _webhook("sync.completed_with_holds")
sync_failed = _webhook("sync.failed")
records_held = _webhook("records.held")
connection_connected = _webhook("connection.connected")
connection_needs_reauthorization = _webhook("connection.needs_reauthorization")
connection_error = _webhook("connection.error")
reconciliation_completed = _webhook("reconciliation.completed")
webhook_endpoint_disabled = _webhook("webhook_endpoint.disabled")

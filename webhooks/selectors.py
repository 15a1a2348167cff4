"""Reads of webhook rows, always through the partner that owns them."""

from __future__ import annotations

from django.db.models import QuerySet

from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_list(*, partner) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(partner=partner).order_by("created_at")


def delivery_list(*, partner, endpoint_id=None) -> QuerySet[WebhookDelivery]:
    found = WebhookDelivery.objects.filter(endpoint__partner=partner).select_related("event", "endpoint")
    if endpoint_id is not None:
        found = found.filter(endpoint_id=endpoint_id)
    return found.order_by("-id")

"""Webhook services: emit an event (outbox), deliver what is due, manage endpoints, rotate secrets, redeliver.

`emit` writes the event and one delivery per subscribed endpoint in the caller's transaction and queues
the delivery task only once that transaction commits: a rolled-back change sends nothing, a committed one
is never lost (the sweep finds whatever the task did not send). Deliveries of one endpoint about one tenant
go out in the order they were made: a later one waits while an earlier one is still pending.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import secrets as secrets_lib
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from core.actor import SYSTEM, Actor
from core.exceptions import ApplicationError, Conflict
from core.tenancy import unscoped
from tenants.models import Partner, Tenant
from webhooks import client
from webhooks.events import EVENTS, rfc3339
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SWEEP_SECONDS = 120           # one sweep attempts deliveries for at most this long


def secret_generate() -> str:
    """A new signing secret: `whsec_` and 32 random bytes in base64 (Standard Webhooks: 24 to 64 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets_lib.token_bytes(32)).decode("ascii")


def _queue(delivery_ids: list[int]) -> None:
    from config.celery import app

    app.tasks["webhooks.tasks.deliver"].delay([int(i) for i in delivery_ids])


# ============================================================================ emit (the public entry point)

def emit(*, event_type: str, data: dict[str, Any], tenant: Tenant | Any = None, partner_id: Any = None,
         now: dt.datetime | None = None) -> WebhookEvent | None:
    """Write one event about `tenant` (or, for the partner's own set-up, `partner_id`) and its deliveries in
    the caller's transaction, when an enabled endpoint of the partner subscribes to it (None otherwise); the
    delivery task is queued when that transaction commits."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event type {event_type!r}: register it in webhooks.events.EVENTS")
    tenant_id = getattr(tenant, "pk", tenant)
    if tenant_id is not None:
        partner_id = getattr(tenant, "partner_id", None) or Tenant.objects.values_list(
            "partner_id", flat=True).get(pk=tenant_id)
    if partner_id is None:
        raise ValueError("emit needs a tenant or a partner")
    endpoints = [e for e in WebhookEndpoint.objects.filter(partner_id=partner_id, enabled=True)
                 if e.subscribes_to(event_type)]
    if not endpoints:
        return None             # nobody listens: nothing to keep or send
    now = now or timezone.now()
    event_id = uuid.uuid4()
    payload = {"id": f"msg_{event_id.hex}", "type": event_type, "timestamp": rfc3339(now), "data": data}
    with transaction.atomic():
        event = WebhookEvent.objects.create(id=event_id, partner_id=partner_id, tenant_id=tenant_id,
                                            type=event_type, payload=payload, created_at=now)
        deliveries = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(endpoint=e, event=event, tenant_id=tenant_id, next_attempt_at=now) for e in endpoints])
        ids = [d.pk for d in deliveries]
        # Robust: the change is committed; a queue failure is logged, never raised into it (the sweep sends later).
        transaction.on_commit(lambda: _queue(ids), robust=True)
    return event


# ============================================================================ delivery

def _body(event: WebhookEvent) -> bytes:
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _signing_secrets(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        found.append(endpoint.previous_secret)
    return found


def _retry_delay(attempts: int) -> dt.timedelta | None:
    """The wait after `attempts` failed attempts, or None when every retry is spent."""
    schedule = list(settings.WEBHOOK_RETRY_SCHEDULE)
    if attempts > len(schedule):
        return None
    return dt.timedelta(seconds=schedule[attempts - 1])


def _blocked(delivery: WebhookDelivery) -> bool:
    """An earlier delivery of the same endpoint about the same tenant is still pending."""
    return WebhookDelivery.objects.filter(endpoint_id=delivery.endpoint_id, tenant_id=delivery.tenant_id,
                                          status=WebhookDelivery.Status.PENDING, id__lt=delivery.pk).exists()


def _due_heads(*, now: dt.datetime, delivery_ids: list[int] | None, limit: int) -> list[int]:
    """The oldest pending delivery of each (endpoint, tenant) queue of an enabled endpoint, when it is due: what
    may be sent now, oldest first (Postgres DISTINCT ON keeps the first row of each queue, NULL tenants alike)."""
    heads = (WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, endpoint__enabled=True)
             .order_by("endpoint_id", "tenant_id", "id").distinct("endpoint_id", "tenant_id")
             .values_list("id", "next_attempt_at"))
    due = sorted(pk for pk, at in heads if at is not None and at <= now
                 and (delivery_ids is None or pk in delivery_ids))
    return due[:limit]


def deliveries_send_due(*, delivery_ids: list[int] | None = None, now: dt.datetime | None = None,
                        limit: int = 200) -> dict[str, int]:
    """Attempt every delivery whose time has come (only `delivery_ids` when given), oldest first, one queue
    (endpoint and tenant) in order: a later delivery goes once the earlier one is delivered or given up.
    Counts per outcome."""
    now = now or timezone.now()
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "waiting": 0}
    started = time.monotonic()
    with unscoped("the webhook sweep sends every partner's due deliveries"):
        _sweep(counts, started=started, now=now, delivery_ids=delivery_ids, limit=limit)
    return counts


def _sweep(counts: dict[str, int], *, started: float, now: dt.datetime, delivery_ids: list[int] | None,
           limit: int) -> None:
    while time.monotonic() - started < SWEEP_SECONDS:
        heads = _due_heads(now=now, delivery_ids=delivery_ids, limit=limit)
        moved = False
        for delivery_id in heads:
            if time.monotonic() - started > SWEEP_SECONDS:
                break           # slow endpoints: the next sweep carries on, well inside the task's time limit
            result = delivery_attempt(delivery_id=delivery_id, now=now)
            counts[result] += 1
            moved = moved or result in ("delivered", "failed")    # the next one of that queue may go now
        if not moved:
            break


def delivery_attempt(*, delivery_id: int, now: dt.datetime | None = None) -> str:
    """One attempt of one delivery, with its row locked (a second worker skips it): `delivered`, `retrying`,
    `failed` (every retry spent) or `waiting` (not due, taken, or an earlier one goes first)."""
    now = now or timezone.now()
    with unscoped("a delivery is found by id, whichever tenant it is about"), transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("endpoint", "event")
                    .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
                            endpoint__enabled=True).first())
        if delivery is None or _blocked(delivery):
            return "waiting"
        endpoint, event = delivery.endpoint, delivery.event
        body = _body(event)
        sent_at = timezone.now()      # the receiver checks the timestamp against its own clock
        headers = {"webhook-id": event.message_id, "webhook-timestamp": str(int(sent_at.timestamp())),
                   "webhook-signature": client.signature_header(secrets=_signing_secrets(endpoint, now),
                                                                message_id=event.message_id, timestamp=sent_at,
                                                                body=body)}
        outcome = client.post(url=endpoint.url, body=body, headers=headers)
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error[:500]
        if outcome.ok:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            result = "delivered"
        else:
            wait = _retry_delay(delivery.attempts)
            if wait is None:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
                result = "failed"
            else:
                delivery.next_attempt_at = now + wait
                result = "retrying"
            logger.warning("webhook delivery %s to endpoint %s failed (attempt %d): %s", delivery.pk, endpoint.pk,
                           delivery.attempts, outcome.status_code or "no answer")
        delivery.save(update_fields=["attempts", "last_attempt_at", "last_status_code", "last_error", "status",
                                     "delivered_at", "next_attempt_at"])
        _endpoint_health(endpoint_id=endpoint.pk, ok=outcome.ok, now=now)
    return result


def _endpoint_health(*, endpoint_id, ok: bool, now: dt.datetime) -> None:
    """Count the failure streak; an endpoint failing long enough is disabled, and the partner told."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if ok:
        if endpoint.failure_streak:
            endpoint.failure_streak, endpoint.failing_since = 0, None
            endpoint.save(update_fields=["failure_streak", "failing_since", "updated_at"])
        return
    endpoint.failure_streak += 1
    endpoint.failing_since = endpoint.failing_since or now
    fields = ["failure_streak", "failing_since", "updated_at"]
    long_enough = now - endpoint.failing_since >= dt.timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    if endpoint.enabled and endpoint.failure_streak >= settings.WEBHOOK_DISABLE_AFTER_FAILURES and long_enough:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = (f"disabled after {endpoint.failure_streak} failed attempts in a row since "
                                    f"{rfc3339(endpoint.failing_since)}")
        fields += ["enabled", "disabled_at", "disabled_reason"]
        audit.action("webhook_endpoint.disable", actor=SYSTEM, target_type="webhook_endpoint",
                     target_id=endpoint.pk, after={"enabled": False, "failures": endpoint.failure_streak})
        emit(event_type="webhook_endpoint.disabled", partner_id=endpoint.partner_id,
             data={"endpoint_id": str(endpoint.pk), "failures": endpoint.failure_streak,
                   "failing_since": rfc3339(endpoint.failing_since), "reason": endpoint.disabled_reason})
        logger.warning("webhook endpoint %s disabled after %d failures", endpoint.pk, endpoint.failure_streak)
    endpoint.save(update_fields=fields)


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery (same `webhook-id`, new log row)."""
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        raise Conflict("This webhook endpoint is disabled: enable it (PATCH the endpoint with "
                       "{\"enabled\": true}) before redelivering.", code="endpoint_disabled")
    now = timezone.now()
    again = WebhookDelivery.objects.create(endpoint=endpoint, event=delivery.event, tenant_id=delivery.tenant_id,
                                           next_attempt_at=now)
    audit.action("webhook_delivery.redeliver", actor=actor, tenant_id=delivery.tenant_id,
                 target_type="webhook_delivery", target_id=delivery.pk,
                 after={"delivery_id": again.pk, "event_type": delivery.event.type})
    transaction.on_commit(lambda: _queue([again.pk]), robust=True)
    return again


# ============================================================================ endpoints

def _url_check(url: str) -> None:
    problem = client.WEBHOOK_POLICY.configuration_problem(url)
    if problem:
        raise ApplicationError(f"This URL cannot receive webhooks: {problem}.", code="invalid_url",
                               fields={"url": [problem]})


def _event_types_check(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t in EVENTS for t in value):
        raise ApplicationError(f"event_types must be a list of event types among {', '.join(EVENTS)}.",
                               code="invalid_event_types", fields={"event_types": ["Unknown event type."]})
    return list(value)


def _view(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "description": endpoint.description, "event_types": list(endpoint.event_types),
            "enabled": endpoint.enabled}


@transaction.atomic
def endpoint_create(*, partner: Partner, data: dict, actor: Actor) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (answered once, then only ever stored encrypted)."""
    if WebhookEndpoint.objects.filter(partner=partner).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
        raise Conflict(f"A partner has at most {settings.WEBHOOK_MAX_ENDPOINTS} webhook endpoints: delete one "
                       f"first.", code="too_many_endpoints")
    _url_check(data["url"])
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(partner=partner, url=data["url"],
                                              description=data.get("description", ""),
                                              event_types=_event_types_check(data.get("event_types") or []),
                                              enabled=data.get("enabled", True), secret=secret)
    audit.action("webhook_endpoint.create", actor=actor, target_type="webhook_endpoint", target_id=endpoint.pk,
                 after=_view(endpoint))
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, data: dict, actor: Actor) -> WebhookEndpoint:
    """Change URL, description, event types or the enabled flag; enabling again resumes its pending deliveries."""
    before = _view(endpoint)
    if "url" in data and data["url"] != endpoint.url:
        _url_check(data["url"])
    if "event_types" in data:
        data = {**data, "event_types": _event_types_check(data["event_types"])}
    for name in ("url", "description", "event_types", "enabled"):
        if name in data:
            setattr(endpoint, name, data[name])
    if data.get("enabled") and not before["enabled"]:
        now = timezone.now()
        endpoint.failure_streak, endpoint.failing_since = 0, None
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        with unscoped("an endpoint's pending deliveries span the partner's tenants"):
            endpoint.deliveries.filter(status=WebhookDelivery.Status.PENDING).update(next_attempt_at=now)
    endpoint.save()
    after = _view(endpoint)
    if after != before:
        changed_before, changed_after = audit.changes(before, after)
        audit.action("webhook_endpoint.update", actor=actor, target_type="webhook_endpoint", target_id=endpoint.pk,
                     before=changed_before, after=changed_after)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    audit.action("webhook_endpoint.delete", actor=actor, target_type="webhook_endpoint", target_id=endpoint.pk,
                 before=_view(endpoint))
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor, now: dt.datetime | None = None) -> str:
    """A new signing secret; the current one keeps signing too (two signatures) for WEBHOOK_SECRET_OVERLAP_HOURS."""
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = secret_generate()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + dt.timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    audit.action("webhook_endpoint.rotate_secret", actor=actor, target_type="webhook_endpoint",
                 target_id=endpoint.pk,
                 after={"previous_secret_expires_at": rfc3339(endpoint.previous_secret_expires_at)})
    return secret

"""QuickBooks webhooks: signature check and both payload shapes (classic and CloudEvents)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from django.conf import settings

from core.parsers import depth_message, json_depth


class WebhookRejected(Exception):
    pass


@dataclass(frozen=True)
class EntityChange:
    realm_id: str
    entity: str        # "Vendor", "Account", "Department", ...
    entity_id: str
    operation: str     # "Create", "Update", "Delete", "Merge", "Void", "Emailed"
    last_updated: str | None = None


def signature_valid(*, body: bytes, signature: str | None, verifier_token: str) -> bool:
    if not signature or not verifier_token:
        return False
    expected = base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def _classic(payload: dict) -> list[EntityChange]:
    changes = []
    for notification in payload.get("eventNotifications") or []:
        realm = str(notification.get("realmId") or "")
        entities = (notification.get("dataChangeEvent") or {}).get("entities") or []
        for entity in entities:
            changes.append(EntityChange(
                realm_id=realm, entity=str(entity.get("name") or ""), entity_id=str(entity.get("id") or ""),
                operation=str(entity.get("operation") or ""), last_updated=entity.get("lastUpdated"),
            ))
    return changes


def _cloud_event(event: dict) -> EntityChange:
    # type: "qbo.vendor.updated.v1" -> entity "Vendor", operation "Update"
    parts = str(event.get("type") or "").split(".")
    if len(parts) < 3 or parts[0] != "qbo":
        raise WebhookRejected(f"Unknown CloudEvents type {event.get('type')!r}.")
    entity = parts[1][:1].upper() + parts[1][1:]
    verb = parts[2].lower()
    operation = {"created": "Create", "updated": "Update", "deleted": "Delete", "merged": "Merge",
                 "voided": "Void"}.get(verb, verb.capitalize())
    return EntityChange(
        realm_id=str(event.get("intuitaccountid") or ""), entity=entity,
        entity_id=str(event.get("intuitentityid") or ""), operation=operation, last_updated=event.get("time"),
    )


def parse_notification(body: bytes) -> list[EntityChange]:
    """Entity changes named by a webhook body, in either shape; WebhookRejected when it is neither."""
    if json_depth(body) > settings.API_MAX_JSON_DEPTH:
        raise WebhookRejected(depth_message(settings.API_MAX_JSON_DEPTH))
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WebhookRejected("The body is not JSON.")
    if isinstance(payload, dict) and "eventNotifications" in payload:
        changes = _classic(payload)
    elif isinstance(payload, list):
        if not all(isinstance(event, dict) for event in payload):
            raise WebhookRejected("A CloudEvents batch must be a list of event objects.")
        changes = [_cloud_event(event) for event in payload]
    elif isinstance(payload, dict) and "specversion" in payload:
        changes = [_cloud_event(payload)]
    else:
        raise WebhookRejected("Neither a classic nor a CloudEvents webhook payload.")
    if any(not change.realm_id or not change.entity or not change.entity_id for change in changes):
        raise WebhookRejected("An entity change lacks its realm, entity name or id.")
    return changes

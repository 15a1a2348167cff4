"""Connect links: support or the partner hands the customer's QuickBooks admin a signed, expiring, single-use
link; its hosted page shows the tenant, optionally takes the JAGGAER credentials, and starts Intuit's consent
(connections/qbo_authorization.py), which ends on our page saying what happened and where to go next."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core import signing
from django.db import transaction
from django.utils import timezone

import audit
from connections.jaggaer import jaggaer_connection_configure
from connections.models import ConnectLink
from connections.qbo_authorization import qbo_authorization_start, return_url_allowed
from core.actor import Actor, ActorKind
from core.exceptions import ApplicationError

SALT = "connections.connect-link"
DEFAULT_HOURS = 72
MAX_HOURS = 14 * 24


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def connect_link_actor(link: ConnectLink) -> Actor:
    return Actor(ActorKind.SYSTEM, "customer through a connect link", str(link.pk))


@transaction.atomic
def connect_link_create(*, tenant, actor, return_url: str = "", collect_jaggaer: bool = False,
                        hours: int = DEFAULT_HOURS) -> tuple[ConnectLink, str]:
    """A new link and its token (shown once; only its hash is kept). Audited as connection.connect_link.create."""
    return_url = (return_url or "").strip()
    if return_url and not return_url_allowed(return_url, tenant.partner.return_url_origins):
        message = (f"return_url must be on one of the partner's registered origins "
                   f"({', '.join(tenant.partner.return_url_origins) or 'none registered'}).")
        raise ApplicationError(message, code="validation_error", fields={"return_url": [message]})
    if not 1 <= int(hours) <= MAX_HOURS:
        message = f"A link lives between 1 and {MAX_HOURS} hours."
        raise ApplicationError(message, code="validation_error", fields={"expires_in_hours": [message]})
    raw = secrets.token_urlsafe(32)
    link = ConnectLink.objects.create(tenant=tenant, token_hash=_hash(raw), return_url=return_url,
                                      collect_jaggaer=collect_jaggaer, created_by=actor.label[:300],
                                      expires_at=timezone.now() + dt.timedelta(hours=int(hours)))
    audit.action("connection.connect_link.create", actor=actor, tenant=tenant, target_type="connect_link",
                 target_id=str(link.pk), after={"expires_at": link.expires_at.isoformat(), "return_url": return_url,
                                                "collect_jaggaer": collect_jaggaer})
    return link, signing.dumps(raw, salt=SALT)


class LinkRefused(ApplicationError):
    pass


REFUSALS = {
    "invalid": "This link is not valid: ask whoever sent it for a new one.",
    "expired": "This link has expired: ask whoever sent it for a new one.",
    "used": "This link was already used. If QuickBooks is not connected yet, ask for a new link.",
}


def connect_link_find(*, token: str, for_update: bool = False) -> ConnectLink:
    """The open link a token names; LinkRefused (code invalid, expired or used) otherwise."""
    try:
        raw = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkRefused(REFUSALS["invalid"], code="invalid", status_code=404) from None
    rows = ConnectLink.objects.select_related("tenant", "tenant__partner")
    link = (rows.select_for_update(of=("self",)) if for_update else rows).filter(token_hash=_hash(str(raw))).first()
    if link is None:
        raise LinkRefused(REFUSALS["invalid"], code="invalid", status_code=404)
    if link.used_at is not None:
        raise LinkRefused(REFUSALS["used"], code="used", status_code=410)
    if link.expires_at <= timezone.now():
        raise LinkRefused(REFUSALS["expired"], code="expired", status_code=410)
    return link


@transaction.atomic
def connect_link_use(*, token: str, finish_url: str, jaggaer: dict | None = None) -> str:
    """Use the link up and return Intuit's consent URL; with `jaggaer` ({api_base_url, client_id, client_secret})
    the JAGGAER connection is configured first (its host rule applies: a refused host leaves the link unused)."""
    link = connect_link_find(token=token, for_update=True)
    actor = connect_link_actor(link)
    if jaggaer:
        if not link.collect_jaggaer:
            raise ApplicationError("This link does not take JAGGAER credentials.", code="validation_error")
        jaggaer_connection_configure(tenant=link.tenant, actor=actor, **jaggaer)
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    audit.action("connection.connect_link.use", actor=actor, tenant=link.tenant, target_type="connect_link",
                 target_id=str(link.pk), data={"jaggaer": bool(jaggaer)})
    return qbo_authorization_start(tenant=link.tenant, actor=actor, return_url=finish_url, trusted_return_url=True)

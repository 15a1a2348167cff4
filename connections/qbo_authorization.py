"""Connecting QuickBooks Online: Intuit's authorization-code flow, the realm check, and disconnecting.

`qbo_authorization_start` signs a single-use, tenant-bound, short-lived `state` and answers Intuit's
consent URL; `qbo_authorization_complete` handles Intuit's redirect (state, code exchange, a read under
the new token that proves the realm, storage); `qbo_connection_disconnect` revokes at Intuit and
forgets. On any problem the stored connection is left exactly as it was. The token endpoint itself is
in `connections.tokens`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from connections.clients.http import json_body
from connections.events import connection_status_changed
from connections.exceptions import ConnectionFailure, CredentialsRejected, NeedsReauthorization, RemoteError
from connections.models import ConnectionStatus, QboConnection, QboOAuthState
from connections.tokens import QboTokenSet, basic_auth, qbo_exchange_code, qbo_oauth_http
from core.exceptions import ApplicationError, Conflict
from tenants.models import Tenant

logger = logging.getLogger(__name__)

STATE_SALT = "connections.qbo.oauth-state"


# ============================================================================ state and return URLs

class StateError(Exception):
    def __init__(self, reason: str, payload: dict | None = None):
        super().__init__(reason)
        self.reason = reason            # "invalid_state" | "state_expired"
        self.payload = payload or {}


def state_sign(*, tenant_id, nonce: str) -> str:
    return signing.dumps({"t": str(tenant_id), "n": nonce}, salt=STATE_SALT, compress=False)


def state_unsign(state: str, *, max_age: int | None = None) -> dict:
    """The payload {"t": tenant id, "n": nonce} of a state we signed; StateError when forged or too old."""
    max_age = settings.QBO_STATE_MAX_AGE if max_age is None else max_age
    try:
        payload = signing.loads(state, salt=STATE_SALT, max_age=max_age)
    except signing.SignatureExpired:
        payload = signing.loads(state, salt=STATE_SALT)
        raise StateError("state_expired", payload if isinstance(payload, dict) else None)
    except signing.BadSignature:
        raise StateError("invalid_state")
    if not isinstance(payload, dict) or not isinstance(payload.get("t"), str) or not isinstance(payload.get("n"), str):
        raise StateError("invalid_state")
    return payload


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` in lower case with default ports dropped; None for anything that is not http(s)."""
    try:
        split = urlsplit(url.strip())
        port = split.port
    except ValueError:
        return None
    scheme = split.scheme.lower()
    if scheme not in ("http", "https") or not split.hostname or split.username or split.password:
        return None
    host = split.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def return_url_allowed(url: str, allowed_origins: list[str]) -> bool:
    origin = origin_of(url)
    if origin is None:
        return False
    return origin in {origin_of(o) for o in allowed_origins or [] if isinstance(o, str)}


def url_with_query(url: str, **params: str) -> str:
    split = urlsplit(url)
    extra = urlencode(params)
    query = f"{split.query}&{extra}" if split.query else extra
    return urlunsplit((split.scheme, split.netloc, split.path, query, split.fragment))


# ============================================================================ Intuit's consent

def qbo_app_configured() -> bool:
    return bool(settings.QBO_CLIENT_ID and settings.QBO_CLIENT_SECRET)


def qbo_authorization_url(*, state: str) -> str:
    return url_with_query(settings.QBO_AUTHORIZE_URL, client_id=settings.QBO_CLIENT_ID, response_type="code",
                          scope=settings.QBO_SCOPE, redirect_uri=settings.QBO_REDIRECT_URI, state=state)


def _audit(code: str, *, actor, tenant_id, before: dict | None = None, after: dict | None = None,
           data: dict | None = None) -> None:
    audit.action(code, actor=actor, tenant_id=tenant_id, target_type="connection", target_id="qbo", before=before,
                 after=after, data=data)


@transaction.atomic
def qbo_authorization_start(*, tenant: Tenant, actor, return_url: str | None = None,
                            trusted_return_url: bool = False) -> str:
    """The Intuit URL to send the customer to; its `state` is signed, tenant-bound, single-use, short-lived.

    Audited as `connection.qbo.authorize` (the partner's portal through the API, or support staff's
    re-authorize link in the admin)."""
    if not qbo_app_configured():
        raise Conflict("The platform's QuickBooks app is not configured (QBO_CLIENT_ID and QBO_CLIENT_SECRET): "
                       "ask the ml-connector operator.", code="qbo_app_not_configured")
    return_url = (return_url or "").strip()
    # A return URL of our own (the connect link's finish page) is trusted; a partner's must be on its origins.
    if return_url and not trusted_return_url and not return_url_allowed(return_url, tenant.partner.return_url_origins):
        message = (f"return_url must be on one of your registered origins "
                   f"({', '.join(tenant.partner.return_url_origins) or 'none registered'}).")
        raise ApplicationError(message, code="validation_error", fields={"return_url": [message]})
    now = timezone.now()
    QboOAuthState.objects.filter(expires_at__lt=now - dt.timedelta(days=1)).delete()
    nonce = secrets.token_urlsafe(24)
    QboOAuthState.objects.create(nonce=nonce, tenant=tenant, return_url=return_url,
                                 expires_at=now + dt.timedelta(seconds=settings.QBO_STATE_MAX_AGE))
    _audit("connection.qbo.authorize", actor=actor, tenant_id=tenant.pk, data={"return_url": return_url})
    return qbo_authorization_url(state=state_sign(tenant_id=tenant.pk, nonce=nonce))


CALLBACK_MESSAGES = {
    "connected": "QuickBooks Online is connected.",
    "missing_state": "The answer from QuickBooks carries no state: start connecting again from your portal.",
    "invalid_state": "This answer was not started by ml-connector (its state does not verify): start connecting "
                     "again from your portal.",
    "state_expired": "The connection attempt took longer than allowed: start connecting again.",
    "state_already_used": "This connection attempt was already used: start connecting again if QuickBooks is not "
                          "connected.",
    "access_denied": "Access was declined in QuickBooks: nothing was connected. Start again and choose Connect.",
    "authorization_failed": "QuickBooks did not authorize the connection: start connecting again.",
    "missing_code": "QuickBooks answered without an authorization code: start connecting again.",
    "missing_realm_id": "QuickBooks did not say which company was chosen (realmId is missing): start connecting "
                        "again.",
    "realm_in_use": "This QuickBooks company is already connected to another tenant.",
    "realm_mismatch": "This tenant is connected to a different QuickBooks company: disconnect it first, then "
                      "connect the new one.",
    "code_rejected": "QuickBooks refused the authorization code (it expired or was already used): start connecting "
                     "again.",
    "app_credentials_rejected": "QuickBooks rejected ml-connector's app credentials: ask the ml-connector operator.",
    "token_exchange_failed": "QuickBooks could not be reached to finish connecting: try again in a few minutes.",
    "invalid_realm_id": "The company id (realmId) in the answer from QuickBooks is not valid: start connecting "
                        "again.",
    "realm_not_authorized": "QuickBooks did not confirm access to the company named in the answer (its realmId "
                            "does not match the consent): nothing was connected. Start connecting again.",
    "realm_check_failed": "QuickBooks could not confirm the company right now: nothing was connected. Try again in "
                          "a few minutes.",
}


@dataclass
class CallbackOutcome:
    reason: str                       # "connected" or an error reason from CALLBACK_MESSAGES
    return_url: str = ""
    tenant_id: Any = None
    realm_id: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason == "connected"

    @property
    def message(self) -> str:
        return CALLBACK_MESSAGES.get(self.reason, CALLBACK_MESSAGES["authorization_failed"])


def _consume_state(state: str) -> CallbackOutcome:
    """Check the state and use it up (atomically: of two concurrent callbacks only one gets it)."""
    if not state:
        return CallbackOutcome("missing_state")
    try:
        payload = state_unsign(state)
    except StateError as exc:
        outcome = CallbackOutcome(exc.reason)
        if exc.reason == "state_expired":
            row = QboOAuthState.objects.filter(nonce=exc.payload.get("n"), tenant_id=exc.payload.get("t")).first()
            outcome.return_url = row.return_url if row else ""
            outcome.tenant_id = row.tenant_id if row else None
        return outcome
    now = timezone.now()
    used = (QboOAuthState.objects.filter(nonce=payload["n"], tenant_id=payload["t"], used_at__isnull=True,
                                         expires_at__gt=now).update(used_at=now))
    row = QboOAuthState.objects.filter(nonce=payload["n"], tenant_id=payload["t"]).first()
    if row is None:
        return CallbackOutcome("invalid_state")
    outcome = CallbackOutcome("pending", return_url=row.return_url, tenant_id=row.tenant_id)
    if not used:
        outcome.reason = "state_expired" if row.used_at is None else "state_already_used"
    return outcome


def qbo_authorization_complete(*, params: dict[str, str], actor) -> CallbackOutcome:
    """Handle Intuit's redirect: on any problem the stored connection is left exactly as it was.

    Once the state names a tenant, the attempt is audited as `connection.qbo.connect` (after: `ok`, the
    realm, the reason); a success in the same transaction that stores the tokens."""
    outcome = _consume_state(params.get("state") or "")
    if outcome.reason != "pending":
        logger.warning("QuickBooks callback refused: %s", outcome.reason)
        _audit_failed_connect(outcome, actor=actor)
        return outcome
    error = params.get("error")
    code = params.get("code") or ""
    realm_id = (params.get("realmId") or "").strip()
    if error:
        outcome.reason = "access_denied" if error == "access_denied" else "authorization_failed"
    elif not code:
        outcome.reason = "missing_code"
    elif not realm_id:
        outcome.reason = "missing_realm_id"
    elif not _REALM_ID.match(realm_id):
        outcome.reason = "invalid_realm_id"
    else:
        outcome.realm_id = realm_id
        outcome.reason = _realm_conflict(tenant_id=outcome.tenant_id, realm_id=realm_id) or "pending"
    if outcome.reason == "pending":
        try:
            tokens = qbo_exchange_code(code=code)
        except ConnectionFailure as exc:
            outcome.reason = exc.reason if exc.reason in CALLBACK_MESSAGES else "token_exchange_failed"
        except RemoteError as exc:
            logger.warning("QuickBooks code exchange failed: %s", exc)
            outcome.reason = "token_exchange_failed"
        else:
            outcome.reason = (_qbo_confirm_realm(tenant_id=outcome.tenant_id, realm_id=realm_id, tokens=tokens)
                              or _qbo_store_new_tokens(tenant_id=outcome.tenant_id, realm_id=realm_id, tokens=tokens,
                                                       actor=actor))
            if not outcome.ok:
                _qbo_forget_tokens(tokens)
    if not outcome.ok:
        _audit_failed_connect(outcome, actor=actor)
    log = logger.info if outcome.ok else logger.warning
    log("QuickBooks callback for tenant %s, realm %s: %s", outcome.tenant_id, outcome.realm_id or "-", outcome.reason)
    return outcome


def _connect_audit_view(*, ok: bool, realm_id: str, reason: str) -> dict:
    return {"ok": ok, "realm_id": realm_id or None, "reason": reason}


def _audit_failed_connect(outcome: CallbackOutcome, *, actor) -> None:
    if outcome.tenant_id:
        _audit("connection.qbo.connect", actor=actor, tenant_id=outcome.tenant_id,
               after=_connect_audit_view(ok=False, realm_id=outcome.realm_id, reason=outcome.reason))


_REALM_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")


def _qbo_confirm_realm(*, tenant_id, realm_id: str, tokens: QboTokenSet) -> str | None:
    """None when the new token reads the company `realm_id` names (CompanyInfo), else the callback reason.

    The realmId travels in the browser's URL and can be changed there; only a read under the new token
    proves the consent was for that company."""
    from connections.clients.http import StaticTokenProvider
    from connections.clients.qbo import QboClient

    client = QboClient(api_base=settings.QBO_API_BASE, realm_id=realm_id, minor_version=settings.QBO_MINOR_VERSION,
                       tokens=StaticTokenProvider(tokens.access_token, system="qbo"), tenant_id=tenant_id)
    try:
        client.company_info()
    except (NeedsReauthorization, CredentialsRejected):
        return "realm_not_authorized"
    except RemoteError as exc:
        if exc.status in (401, 403):
            return "realm_not_authorized"
        logger.warning("confirming QuickBooks company %s failed: %s", realm_id, exc.code or exc.status)
        return "realm_check_failed"
    except ConnectionFailure:
        return "realm_check_failed"
    finally:
        client.close()
    return None


def _qbo_forget_tokens(tokens: QboTokenSet) -> None:
    """Tokens of a callback that stored nothing are revoked at once (best effort)."""
    try:
        qbo_revoke(token=tokens.refresh_token)
    except (RemoteError, ConnectionFailure) as exc:
        logger.warning("revoking unused QuickBooks tokens failed: %s", type(exc).__name__)


def _realm_conflict(*, tenant_id, realm_id: str) -> str | None:
    if QboConnection.objects.filter(realm_id=realm_id).exclude(tenant_id=tenant_id).exists():
        return "realm_in_use"
    current = QboConnection.objects.filter(tenant_id=tenant_id).values_list("realm_id", flat=True).first()
    if current and current != realm_id:
        return "realm_mismatch"
    return None


def _qbo_store_new_tokens(*, tenant_id, realm_id: str, tokens: QboTokenSet, actor) -> str:
    now = timezone.now()
    try:
        with transaction.atomic():
            connection, _ = QboConnection.objects.select_for_update().get_or_create(tenant_id=tenant_id)
            conflict = _realm_conflict(tenant_id=tenant_id, realm_id=realm_id)
            if conflict:
                return conflict
            connection.realm_id = realm_id
            connection.access_token = tokens.access_token
            connection.refresh_token = tokens.refresh_token
            connection.access_token_expires_at = tokens.access_token_expires_at
            connection.refresh_token_expires_at = tokens.refresh_token_expires_at
            connection.refresh_token_hard_expires_at = tokens.refresh_token_hard_expires_at
            connection.last_refreshed_at = now
            connection.connected_at = now
            connection.status = ConnectionStatus.CONNECTED
            connection.status_reason = ""
            connection.consecutive_failures = 0
            connection.last_success_at = now
            connection.save()
            connection_status_changed(tenant_id=tenant_id, system="qbo", status=ConnectionStatus.CONNECTED)
            _audit("connection.qbo.connect", actor=actor, tenant_id=tenant_id,
                   after=_connect_audit_view(ok=True, realm_id=realm_id, reason="connected"))
    except IntegrityError:   # another tenant stored this realm between our check and our write
        return "realm_in_use"
    return "connected"


def _disconnect_audit_view(connection: QboConnection | None) -> dict:
    if connection is None:
        return {"realm_id": "", "status": ConnectionStatus.NOT_CONFIGURED}
    return {"realm_id": connection.realm_id, "status": connection.status}


def qbo_connection_disconnect(*, tenant: Tenant, actor) -> dict:
    """Revoke the tokens at Intuit and forget them; the connection reads `not_configured` afterwards.

    Audited as `connection.qbo.disconnect` (also when nothing was connected: the person asked)."""
    with transaction.atomic():
        connection = QboConnection.objects.select_for_update().filter(tenant=tenant).first()
        before = _disconnect_audit_view(connection)
        if connection is None:
            _audit("connection.qbo.disconnect", actor=actor, tenant_id=tenant.pk, before=before, after=before)
            return {"disconnected": False, "revoked_at_intuit": None, "message": "QuickBooks was not connected."}
        token = connection.refresh_token or connection.access_token
        revoked: bool | None = None
        message = "QuickBooks is disconnected."
        if token:
            try:
                revoked = qbo_revoke(token=token)
            except (RemoteError, ConnectionFailure) as exc:
                logger.warning("revoking the QuickBooks tokens of tenant %s failed: %s", tenant.pk, exc)
                revoked = False
            if not revoked:
                message = ("QuickBooks is disconnected here, but Intuit could not confirm the revocation: the "
                           "company admin can also remove the app in QuickBooks (Settings > Apps).")
        realm_id = connection.realm_id
        connection.access_token = None
        connection.refresh_token = None
        connection.access_token_expires_at = None
        connection.refresh_token_expires_at = None
        connection.refresh_token_hard_expires_at = None
        connection.realm_id = ""
        connection.connected_at = None
        connection.status = ConnectionStatus.NOT_CONFIGURED
        connection.status_reason = f"disconnected from company {realm_id}" if realm_id else "disconnected"
        connection.save()
        _audit("connection.qbo.disconnect", actor=actor, tenant_id=tenant.pk, before=before,
               after=_disconnect_audit_view(connection), data={"revoked_at_intuit": revoked})
    logger.info("QuickBooks disconnected for tenant %s (revoked at Intuit: %s)", tenant.pk, revoked)
    return {"disconnected": True, "revoked_at_intuit": revoked, "message": message}


def qbo_revoke(*, token: str) -> bool:
    """Revoke a refresh (or access) token at Intuit; True when Intuit confirmed or already forgot it."""
    headers = {
        "Accept": "application/json",
        "Authorization": basic_auth(settings.QBO_CLIENT_ID, settings.QBO_CLIENT_SECRET),
    }
    with qbo_oauth_http() as http:
        response = http.request("POST", settings.QBO_REVOKE_URL, json={"token": token}, headers=headers)
    if response.ok:
        return True
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    # An unknown or already revoked token is what we wanted: it no longer works.
    if response.status_code == 400 and error in ("invalid_grant", "invalid_token", "invalid_request"):
        return True
    logger.warning("QuickBooks revoke answered HTTP %s (%s)", response.status_code, error or "no error code")
    return False

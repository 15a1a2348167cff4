"""The OAuth 2.0 protocol pieces: Intuit's authorization-code flow and JAGGAER's client credentials.

No database access here: `services` and `tokens` decide what to store. Every call goes through the
shared HTTP layer; secrets travel in the Authorization header or a form body, never in a URL, a log
line or an exception message.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.utils import timezone

from connections.clients.http import HttpClient, json_body
from connections.clients.jaggaer import oauth_error_code
from connections.clients.outbound import JAGGAER_POLICY
from connections.exceptions import (
    SYSTEM_NAMES,
    ConnectionFailure,
    CredentialsRejected,
    JaggaerError,
    NeedsReauthorization,
    QboFault,
    RemoteError,
)

logger = logging.getLogger(__name__)

STATE_SALT = "connections.qbo.oauth-state"
JAGGAER_TOKEN_PATH = "/auth/realms/J1p-integrations/protocol/openid-connect/token"
# Token calls hold the realm's row lock: a few quick retries, not the API's patient schedule.
TOKEN_CALL_ATTEMPTS = 3


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


# ============================================================================ Intuit

def qbo_app_configured() -> bool:
    return bool(settings.QBO_CLIENT_ID and settings.QBO_CLIENT_SECRET)


def qbo_authorization_url(*, state: str) -> str:
    return url_with_query(settings.QBO_AUTHORIZE_URL, client_id=settings.QBO_CLIENT_ID, response_type="code",
                          scope=settings.QBO_SCOPE, redirect_uri=settings.QBO_REDIRECT_URI, state=state)


@dataclass(frozen=True)
class QboTokenSet:
    access_token: str
    refresh_token: str
    access_token_expires_at: dt.datetime
    refresh_token_expires_at: dt.datetime | None
    refresh_token_hard_expires_at: dt.datetime | None

    def __repr__(self) -> str:  # never print the tokens
        return f"QboTokenSet(expires_at={self.access_token_expires_at.isoformat()})"


def _basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")


def _seconds(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _qbo_token_set(body: Any, *, now: dt.datetime) -> QboTokenSet:
    if not isinstance(body, dict) or not body.get("access_token") or not body.get("refresh_token"):
        raise QboFault("QuickBooks answered the token request without tokens", status=200, code="malformed_token")
    expires_in = _seconds(body.get("expires_in")) or 3600
    refresh_in = _seconds(body.get("x_refresh_token_expires_in"))
    hard_in = _seconds(body.get("x_refresh_token_hard_expires_in"))
    return QboTokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]),
        access_token_expires_at=now + dt.timedelta(seconds=expires_in),
        refresh_token_expires_at=now + dt.timedelta(seconds=refresh_in) if refresh_in else None,
        refresh_token_hard_expires_at=now + dt.timedelta(seconds=hard_in) if hard_in else None,
    )


def _qbo_oauth_http() -> HttpClient:
    return HttpClient("qbo", max_attempts=TOKEN_CALL_ATTEMPTS)


def _qbo_token_call(form: dict[str, str], *, purpose: str) -> QboTokenSet:
    """POST the token endpoint (form-encoded, HTTP Basic); map Intuit's OAuth errors to ours."""
    now = timezone.now()
    headers = {
        "Accept": "application/json",
        "Authorization": _basic_auth(settings.QBO_CLIENT_ID, settings.QBO_CLIENT_SECRET),
        "x-include-refresh-token-hard-expires-in": "true",
    }
    with _qbo_oauth_http() as http:
        response = http.request("POST", settings.QBO_TOKEN_URL, data=form, headers=headers)
    body = json_body(response)
    if response.ok:
        return _qbo_token_set(body, now=now)
    error = body.get("error") if isinstance(body, dict) else None
    if error == "invalid_grant":
        if purpose == "exchange":
            raise NeedsReauthorization(
                "QuickBooks refused the authorization code (it expired or was already used): start the "
                "connection again", system="qbo", reason="code_rejected")
        raise NeedsReauthorization(
            "QuickBooks no longer accepts this connection's refresh token (access was revoked, or the token "
            "expired or was replaced): reconnect QuickBooks", system="qbo")
    if error == "invalid_client" or response.status_code == 401:
        raise CredentialsRejected(
            "QuickBooks rejected ml-connector's app credentials (invalid_client): the platform operator must "
            "check QBO_CLIENT_ID and QBO_CLIENT_SECRET", system="qbo", reason="app_credentials_rejected")
    raise QboFault(f"QuickBooks answered the token request with HTTP {response.status_code}"
                   + (f" ({error})" if isinstance(error, str) else ""),
                   status=response.status_code, code=error if isinstance(error, str) else None,
                   intuit_tid=response.headers.get("intuit_tid"),
                   transient=response.status_code == 429 or response.status_code >= 500)


def qbo_exchange_code(*, code: str) -> QboTokenSet:
    return _qbo_token_call({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": settings.QBO_REDIRECT_URI}, purpose="exchange")


def qbo_refresh(*, refresh_token: str) -> QboTokenSet:
    return _qbo_token_call({"grant_type": "refresh_token", "refresh_token": refresh_token}, purpose="refresh")


def qbo_revoke(*, token: str) -> bool:
    """Revoke a refresh (or access) token at Intuit; True when Intuit confirmed or already forgot it."""
    headers = {
        "Accept": "application/json",
        "Authorization": _basic_auth(settings.QBO_CLIENT_ID, settings.QBO_CLIENT_SECRET),
    }
    with _qbo_oauth_http() as http:
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


# ============================================================================ JAGGAER

@dataclass(frozen=True)
class JaggaerToken:
    access_token: str
    expires_at: dt.datetime

    def __repr__(self) -> str:
        return f"JaggaerToken(expires_at={self.expires_at.isoformat()})"


def jaggaer_fetch_token(*, api_base_url: str, client_id: str, client_secret: str,
                        token_path: str = JAGGAER_TOKEN_PATH, tenant_id=None) -> JaggaerToken:
    """A new access token by client credentials (form-encoded, as the J1P contract says).

    The host is the customer's: the call follows the outbound policy, and errors name the class of
    failure and JAGGAER's documented OAuth error code, never the text of the answer."""
    name = SYSTEM_NAMES["jaggaer"]
    now = timezone.now()
    with HttpClient("jaggaer", api_base_url, max_attempts=TOKEN_CALL_ATTEMPTS, tenant_id=tenant_id,
                    policy=JAGGAER_POLICY) as http:
        response = http.request("POST", token_path, headers={"Accept": "application/json"}, data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
    body = json_body(response)
    error = oauth_error_code(body.get("error")) if isinstance(body, dict) else None
    if response.ok:
        if not isinstance(body, dict) or not body.get("access_token"):
            raise JaggaerError(f"{name} answered the token request without a token: check the API base URL",
                               status=response.status_code, code="malformed_token")
        expires_in = _seconds(body.get("expires_in")) or 300
        return JaggaerToken(str(body["access_token"]), now + dt.timedelta(seconds=expires_in))
    if error in ("invalid_client", "unauthorized_client") or response.status_code == 401:
        raise CredentialsRejected(
            f"{name} rejected the client id or client secret ({error or 'HTTP 401'}): check both and save "
            f"them again", system="jaggaer")
    if response.status_code in (404, 405):
        raise ConnectionFailure(
            f"{name} has no token endpoint at {urlsplit(api_base_url).netloc or api_base_url} "
            f"(HTTP {response.status_code}): check the API base URL", system="jaggaer", reason="wrong_base_url")
    raise JaggaerError(f"{name} answered the token request with HTTP {response.status_code}"
                       + (f" ({error})" if isinstance(error, str) else ""),
                       status=response.status_code, code=error if isinstance(error, str) else None,
                       transient=response.status_code == 429 or response.status_code >= 500)


__all__ = [
    "JaggaerToken", "QboTokenSet", "RemoteError", "StateError", "jaggaer_fetch_token", "origin_of",
    "qbo_app_configured", "qbo_authorization_url", "qbo_exchange_code", "qbo_refresh", "qbo_revoke",
    "return_url_allowed", "state_sign", "state_unsign", "url_with_query",
]

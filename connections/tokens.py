"""Tokens: the token endpoints of both systems, the providers the clients use, and the QBO keep-alive.

Both providers follow the `TokenProvider` protocol of docs/CLIENT_INTERFACE.md: `access_token()`
answers a token that is good for a while, `renew(rejected)` answers a new one after a 401 (or the one
another caller already obtained). A QuickBooks refresh rotates the refresh token and retires the old
one at once, so exactly one refresh per realm may run at a time, across processes and machines: the
refresh runs while holding `SELECT ... FOR UPDATE` on the connection row, re-reads the row, and commits
the new refresh token before anyone uses the new access token.

The token endpoint calls go through the shared HTTP layer (retries, the outbound call log, timeouts,
the outbound policy for JAGGAER's customer-given host); secrets travel in the Authorization header or
a form body, never in a URL, a log line or an exception message.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from connections import selectors
from connections.clients.http import HttpClient, json_body
from connections.clients.jaggaer import JaggaerClient, oauth_error_code
from connections.clients.limiter import realm_limiter
from connections.clients.outbound import JAGGAER_POLICY
from connections.clients.qbo import QboClient
from connections.events import connection_status_changed
from connections.exceptions import (
    SYSTEM_NAMES,
    ConnectionFailure,
    CredentialsRejected,
    JaggaerError,
    NeedsReauthorization,
    NotConfigured,
    QboFault,
    RemoteError,
)
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from core.tenancy import unscoped

logger = logging.getLogger(__name__)

JAGGAER_TOKEN_PATH = "/auth/realms/J1p-integrations/protocol/openid-connect/token"
# Token calls hold the realm's row lock: a few quick retries, not the API's patient schedule.
TOKEN_CALL_ATTEMPTS = 3


# ============================================================================ token endpoints: Intuit

@dataclass(frozen=True)
class QboTokenSet:
    access_token: str
    refresh_token: str
    access_token_expires_at: dt.datetime
    refresh_token_expires_at: dt.datetime | None
    refresh_token_hard_expires_at: dt.datetime | None

    def __repr__(self) -> str:  # never print the tokens
        return f"QboTokenSet(expires_at={self.access_token_expires_at.isoformat()})"


def basic_auth(client_id: str, client_secret: str) -> str:
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


def qbo_oauth_http() -> HttpClient:
    return HttpClient("qbo", max_attempts=TOKEN_CALL_ATTEMPTS)


def _qbo_token_call(form: dict[str, str], *, purpose: str) -> QboTokenSet:
    """POST the token endpoint (form-encoded, HTTP Basic); map Intuit's OAuth errors to ours."""
    now = timezone.now()
    headers = {
        "Accept": "application/json",
        "Authorization": basic_auth(settings.QBO_CLIENT_ID, settings.QBO_CLIENT_SECRET),
        "x-include-refresh-token-hard-expires-in": "true",
    }
    with qbo_oauth_http() as http:
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


# ============================================================================ token endpoints: JAGGAER

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


# ============================================================================ providers

class TokenProvider(Protocol):
    def access_token(self) -> str: ...

    def renew(self, rejected: str) -> str: ...


_HEALTH_FIELDS = ["status", "status_reason", "last_success_at", "last_error_code", "last_error_message",
                  "last_error_at", "consecutive_failures"]


def _mark_success(row, now) -> list[str]:
    row.status = ConnectionStatus.CONNECTED
    row.status_reason = ""
    row.last_success_at = now
    row.consecutive_failures = 0
    return ["status", "status_reason", "last_success_at", "consecutive_failures"]


def _mark_failure(row, now, *, code: str, message: str, status: str | None = None) -> list[str]:
    row.last_error_code = code[:64]
    row.last_error_message = message
    row.last_error_at = now
    row.consecutive_failures += 1
    fields = ["last_error_code", "last_error_message", "last_error_at", "consecutive_failures"]
    if status:
        if row.status != status:
            connection_status_changed(tenant_id=row.tenant_id, system=row.system, status=status, code=code)
        row.status = status
        row.status_reason = message
        fields += ["status", "status_reason"]
    return fields


def _copy(source, target, fields) -> None:
    for name in fields:
        setattr(target, name, getattr(source, name))


# ============================================================================ QuickBooks

_QBO_TOKEN_FIELDS = ["realm_id", "access_token", "refresh_token", "access_token_expires_at",
                     "refresh_token_expires_at", "refresh_token_hard_expires_at", "last_refreshed_at"]


class QboTokenProvider:
    """Access tokens for one QBO connection (one realm).

    Call it outside any transaction: the refresh commits on its own (`atomic(durable=True)`), because a
    rotated refresh token rolled back with an outer transaction would lock the customer out.
    """

    system = "qbo"

    def __init__(self, connection: QboConnection, *, margin_seconds: int | None = None):
        self.connection = connection
        self.margin = settings.QBO_REFRESH_MARGIN_SECONDS if margin_seconds is None else margin_seconds
        self.refresh_calls = 0      # refreshes this provider made itself (the others found one already done)

    def access_token(self) -> str:
        conn = self.connection
        self._check_usable(conn)
        if conn.access_token_valid_for(self.margin):
            return conn.access_token
        return self._refresh(lambda row: row.access_token_valid_for(self.margin))

    def renew(self, rejected: str) -> str:
        # Someone else refreshed since `rejected` was handed out: their token is the one to use.
        return self._refresh(lambda row: row.access_token != rejected and row.access_token_valid_for(0))

    def refresh(self, *, unless_refreshed_since=None, actor=None) -> str:
        """Refresh now (the keep-alive), unless another caller refreshed after `unless_refreshed_since`.

        With `actor` (a person asked for it) the outcome is audited as `connection.qbo.refresh`, in the
        transaction that holds the row lock and saves the new tokens or the failure."""
        def fresh_enough(row: QboConnection) -> bool:
            return bool(unless_refreshed_since and row.last_refreshed_at
                        and row.last_refreshed_at > unless_refreshed_since and row.access_token)
        return self._refresh(fresh_enough, actor=actor)

    # ---- internals
    def _check_usable(self, conn: QboConnection) -> None:
        if conn.status == ConnectionStatus.NEEDS_REAUTHORIZATION:
            raise NeedsReauthorization(conn.status_reason or "QuickBooks needs to be reconnected", system="qbo")
        if not conn.refresh_token:
            raise NotConfigured("QuickBooks is not connected for this tenant: connect it first", system="qbo")

    def _refresh(self, good_enough: Callable[[QboConnection], bool], *, actor=None) -> str:
        failure: Exception | None = None
        token = ""
        with transaction.atomic(durable=True):
            row = QboConnection.objects.select_for_update().get(pk=self.connection.pk)
            try:
                self._check_usable(row)
            except ConnectionFailure as exc:
                failure = exc
            else:
                if good_enough(row):
                    token = row.access_token
                else:
                    token, failure = self._refresh_locked(row)
            if actor is not None:
                outcome = {"ok": failure is None}
                if failure is not None:
                    outcome["code"] = getattr(failure, "reason", None) or type(failure).__name__
                audit.action("connection.qbo.refresh", actor=actor, tenant_id=row.tenant_id, target_type="connection",
                             target_id="qbo", after=outcome)
        _copy(row, self.connection, _QBO_TOKEN_FIELDS + _HEALTH_FIELDS)
        if failure is not None:
            raise failure
        return token

    def _refresh_locked(self, row: QboConnection) -> tuple[str, Exception | None]:
        """Refresh with the row locked; every outcome is saved before the lock is released."""
        now = timezone.now()
        self.refresh_calls += 1
        try:
            tokens = qbo_refresh(refresh_token=row.refresh_token)
        except NeedsReauthorization as exc:
            # The refresh token is dead for good: forget it, stop the syncs, and never retry it.
            row.access_token = None
            row.refresh_token = None
            row.access_token_expires_at = None
            fields = _mark_failure(row, now, code="needs_reauthorization", message=exc.message,
                                   status=ConnectionStatus.NEEDS_REAUTHORIZATION)
            row.save(update_fields=[*fields, "access_token", "refresh_token", "access_token_expires_at",
                                    "updated_at"])
            logger.warning("QuickBooks refused the refresh token of realm %s: needs reauthorization", row.realm_id)
            return "", exc
        except CredentialsRejected as exc:
            fields = _mark_failure(row, now, code=exc.reason, message=exc.message, status=ConnectionStatus.ERROR)
            row.save(update_fields=[*fields, "updated_at"])
            logger.error("QuickBooks rejected the app credentials while refreshing realm %s", row.realm_id)
            return "", exc
        except RemoteError as exc:
            message = f"refreshing the QuickBooks token failed: {exc}"
            fields = _mark_failure(row, now, code=f"token_refresh_{exc.code or exc.status or 'failed'}",
                                   message=message)
            row.save(update_fields=[*fields, "updated_at"])
            logger.warning("refreshing the QuickBooks token of realm %s failed: %s", row.realm_id, exc)
            failure = ConnectionFailure(message, system="qbo", reason="token_refresh_failed")
            failure.__cause__ = exc
            failure.counted = True          # the failure streak already has it
            return "", failure
        row.access_token = tokens.access_token
        row.refresh_token = tokens.refresh_token
        row.access_token_expires_at = tokens.access_token_expires_at
        if tokens.refresh_token_expires_at:
            row.refresh_token_expires_at = tokens.refresh_token_expires_at
        if tokens.refresh_token_hard_expires_at:
            row.refresh_token_hard_expires_at = tokens.refresh_token_hard_expires_at
        row.last_refreshed_at = now
        fields = _mark_success(row, now)
        row.save(update_fields=[*_QBO_TOKEN_FIELDS, *fields, "updated_at"])
        logger.info("refreshed the QuickBooks token of realm %s", row.realm_id)
        return row.access_token, None


# ============================================================================ JAGGAER

_JAGGAER_TOKEN_FIELDS = ["access_token", "access_token_expires_at"]


class JaggaerTokenProvider:
    """Client-credentials tokens for one JAGGAER connection, cached encrypted on the row."""

    system = "jaggaer"

    def __init__(self, connection: JaggaerConnection, *, margin_seconds: int | None = None):
        self.connection = connection
        self.margin = settings.JAGGAER_TOKEN_MARGIN_SECONDS if margin_seconds is None else margin_seconds
        self.token_calls = 0

    def access_token(self) -> str:
        conn = self.connection
        self._check_usable(conn)
        if conn.access_token_valid_for(self.margin):
            return conn.access_token
        return self._fetch(lambda row: row.access_token_valid_for(self.margin))

    def renew(self, rejected: str) -> str:
        return self._fetch(lambda row: row.access_token != rejected and row.access_token_valid_for(0))

    def fetch_new(self) -> str:
        """A new token whatever is cached (the ping proves the credentials work now)."""
        return self._fetch(lambda row: False)

    def _check_usable(self, conn: JaggaerConnection) -> None:
        if not conn.is_configured:
            raise NotConfigured(f"{SYSTEM_NAMES['jaggaer']} is not configured for this tenant: set the API base "
                                f"URL, client id and client secret", system="jaggaer")

    def _fetch(self, good_enough: Callable[[JaggaerConnection], bool]) -> str:
        failure: Exception | None = None
        token = ""
        with transaction.atomic():
            row = JaggaerConnection.objects.select_for_update().get(pk=self.connection.pk)
            self._check_usable(row)
            if good_enough(row):
                token = row.access_token
            else:
                token, failure = self._fetch_locked(row)
        _copy(row, self.connection, _JAGGAER_TOKEN_FIELDS + _HEALTH_FIELDS)
        if failure is not None:
            raise failure
        return token

    def _fetch_locked(self, row: JaggaerConnection) -> tuple[str, Exception | None]:
        now = timezone.now()
        self.token_calls += 1
        try:
            token = jaggaer_fetch_token(api_base_url=row.api_base_url, client_id=row.client_id,
                                              client_secret=row.client_secret,
                                              token_path=jaggaer_token_path(row.dialect), tenant_id=row.tenant_id)
        except ConnectionFailure as exc:
            row.access_token = None
            row.access_token_expires_at = None
            fields = _mark_failure(row, now, code=exc.reason, message=exc.message, status=ConnectionStatus.ERROR)
            row.save(update_fields=[*fields, *_JAGGAER_TOKEN_FIELDS, "updated_at"])
            logger.warning("JAGGAER refused a token for tenant %s: %s", row.tenant_id, exc.reason)
            return "", exc
        except RemoteError as exc:
            fields = _mark_failure(row, now, code=f"token_{exc.code or exc.status or 'failed'}",
                                   message=f"getting a JAGGAER token failed: {exc}")
            row.save(update_fields=[*fields, "updated_at"])
            exc.counted = True              # the failure streak already has it
            return "", exc
        row.access_token = token.access_token
        row.access_token_expires_at = token.expires_at
        fields = _mark_success(row, now)
        row.save(update_fields=[*_JAGGAER_TOKEN_FIELDS, *fields, "updated_at"])
        return row.access_token, None


def jaggaer_token_path(dialect: Any) -> str:
    """Where the client secret is posted: the dialect's `token_path`, or JAGGAER's default."""
    path = dialect.get("token_path") if isinstance(dialect, dict) else None
    return path if isinstance(path, str) and path.startswith("/") else JAGGAER_TOKEN_PATH


# ============================================================================ keep-alive

@unscoped("the keep-alive refreshes every idle connection")
def qbo_connections_keep_alive(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Refresh every connected QBO connection idle for QBO_KEEPALIVE_AFTER_HOURS, so no refresh token lapses."""
    now = now or timezone.now()
    idle_for = dt.timedelta(hours=settings.QBO_KEEPALIVE_AFTER_HOURS)
    counts = {"refreshed": 0, "already_fresh": 0, "failed": 0}
    ids = list(selectors.qbo_connections_due_for_keep_alive(idle_for=idle_for, now=now)
               .values_list("pk", flat=True))
    for pk in ids:
        connection = QboConnection.objects.get(pk=pk)
        provider = QboTokenProvider(connection)
        try:
            provider.refresh(unless_refreshed_since=now - idle_for)
        except ConnectionFailure as exc:
            counts["failed"] += 1
            logger.warning("keep-alive refresh of realm %s failed: %s", connection.realm_id, exc.reason)
            continue
        counts["refreshed" if provider.refresh_calls else "already_fresh"] += 1
    return counts


def qbo_connection_refresh(*, connection: QboConnection, actor) -> str:
    """Refresh the access token now because a person asked (the admin's action); audited as
    `connection.qbo.refresh` whatever the outcome. Raises ConnectionFailure when it did not work."""
    return QboTokenProvider(connection).refresh(actor=actor)


# ============================================================================ a tenant's clients

def jaggaer_client_for_tenant(tenant) -> JaggaerClient:
    """The client of a tenant's JAGGAER connection, with its token provider; NotConfigured when there is none."""
    connection = getattr(tenant, "jaggaer_connection", None)
    if connection is None or not connection.is_configured:
        raise NotConfigured("JAGGAER is not connected for this tenant: enter its API URL, client id and secret",
                            system="jaggaer")
    return JaggaerClient(api_base_url=connection.api_base_url, tokens=JaggaerTokenProvider(connection),
                         dialect=connection.dialect or None, tenant_id=tenant.pk)


def qbo_client_for_tenant(tenant) -> QboClient:
    """The client of a tenant's connected company, with its token provider and the realm's budget;
    NotConfigured / NeedsReauthorization otherwise."""
    connection = getattr(tenant, "qbo_connection", None)
    status = getattr(connection, "status", ConnectionStatus.NOT_CONFIGURED)
    if connection is None or status == ConnectionStatus.NOT_CONFIGURED or not connection.realm_id:
        raise NotConfigured("QuickBooks Online is not connected for this tenant: connect it from the portal",
                            system="qbo")
    if status == ConnectionStatus.NEEDS_REAUTHORIZATION:
        raise NeedsReauthorization("QuickBooks Online needs to be reconnected: the authorization was revoked "
                                   "or has expired", system="qbo")
    return QboClient(api_base=settings.QBO_API_BASE, realm_id=connection.realm_id,
                     tokens=QboTokenProvider(connection), minor_version=settings.QBO_MINOR_VERSION,
                     limiter=realm_limiter(connection.realm_id), tenant_id=tenant.pk)

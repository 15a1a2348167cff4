"""Writes to connections: configure, connect, disconnect, ping, keep-alive, and the health bookkeeping.

Secrets come in through these functions and never go out of them: answers, log lines and error
messages carry statuses, codes and the last four characters of a client id at most.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

import audit
from connections import oauth, selectors
from connections.clients.outbound import BLOCKED_CODE, JAGGAER_POLICY, REDIRECT_CODE, is_this_machine
from connections.exceptions import (
    SYSTEM_NAMES,
    ConnectionFailure,
    CredentialsRejected,
    NeedsReauthorization,
    NotConfigured,
    RemoteError,
    TransportError,
)
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection, QboOAuthState
from connections.tokens import JaggaerTokenProvider, QboTokenProvider
from core.actor import Actor
from core.exceptions import ApplicationError, Conflict
from tenants.models import Tenant

logger = logging.getLogger(__name__)

_UNSET = object()

# A failure with one of these codes says the connection itself is unusable: its status follows.
_STATUS_FOR_CODE = {
    "needs_reauthorization": ConnectionStatus.NEEDS_REAUTHORIZATION,
    "consent_revoked": ConnectionStatus.NEEDS_REAUTHORIZATION,
    "credentials_rejected": ConnectionStatus.ERROR,
    "app_credentials_rejected": ConnectionStatus.ERROR,
    "wrong_base_url": ConnectionStatus.ERROR,
}


# ============================================================================ health bookkeeping

def connection_record_success(*, connection: JaggaerConnection | QboConnection) -> None:
    """A call on this connection worked: it is connected, and the failure streak ends."""
    if connection.pk is None:
        return
    now = timezone.now()
    changes: dict[str, Any] = {"last_success_at": now, "consecutive_failures": 0, "updated_at": now}
    if connection.status in (ConnectionStatus.ERROR, ConnectionStatus.CONNECTED):
        changes.update(status=ConnectionStatus.CONNECTED, status_reason="")
    type(connection).objects.filter(pk=connection.pk).update(**changes)
    for name, value in changes.items():
        setattr(connection, name, value)


def connection_record_failure(*, connection: JaggaerConnection | QboConnection, code: str, message: str,
                              status: str | None = None, count: bool = True) -> None:
    """A call failed: remember the error; a connection-level code (or `status`) also changes the status.

    `count=False` when this failure was already counted (the token provider records its own)."""
    if connection.pk is None:
        return
    now = timezone.now()
    status = status or _STATUS_FOR_CODE.get(code)
    changes: dict[str, Any] = {"last_error_code": code[:64], "last_error_message": message, "last_error_at": now,
                               "updated_at": now}
    if status:
        changes.update(status=status, status_reason=message)
    model = type(connection)
    if count:
        changes["consecutive_failures"] = F("consecutive_failures") + 1
    model.objects.filter(pk=connection.pk).update(**changes)
    for name, value in changes.items():
        setattr(connection, name, value)
    connection.consecutive_failures = model.objects.values_list("consecutive_failures", flat=True).get(
        pk=connection.pk)


# ============================================================================ JAGGAER configuration

def jaggaer_api_base_url_error(url: str) -> str | None:
    """Why `url` cannot be a JAGGAER API base URL, or None: its form, then the outbound policy (public hosts
    only, https in production, JAGGAER_ALLOWED_HOSTS when set), checked against what the name resolves to now."""
    try:
        split = urlsplit(url)
        split.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "Enter a valid URL such as https://acme.api.jaggaer.com."
    host = (split.hostname or "").lower()
    if split.scheme not in ("http", "https") or not host:
        return "Enter a valid URL such as https://acme.api.jaggaer.com."
    if split.username or split.password:
        return "Do not put credentials in the URL: send client_id and client_secret."
    if split.query or split.fragment:
        return "The API base URL takes no query string or fragment."
    if split.scheme != "https" and not is_this_machine(host):
        return "Use https:// (plain http is accepted only for 127.0.0.1 and localhost, in development)."
    problem = JAGGAER_POLICY.configuration_problem(url)
    if problem:
        return f"{problem[:1].upper()}{problem[1:]}: enter the public https:// address of your JAGGAER instance."
    return None


def _token_path_of(dialect: Any) -> str:
    path = (dialect or {}).get("token_path") if isinstance(dialect, dict) else None
    return path if isinstance(path, str) and path.startswith("/") else oauth.JAGGAER_TOKEN_PATH


def jaggaer_secret_destination_changes(*, connection: JaggaerConnection, api_base_url: Any = _UNSET,
                                       dialect: Any = _UNSET) -> list[str]:
    """The settings among `api_base_url` and the dialect's `token_path` that would change where the client
    secret is posted (empty when neither changes)."""
    changed = []
    if api_base_url is not _UNSET and connection.api_base_url and \
            str(api_base_url).strip().rstrip("/") != connection.api_base_url:
        changed.append("api_base_url")
    if dialect is not _UNSET and connection.api_base_url and \
            _token_path_of(dialect) != _token_path_of(connection.dialect):
        changed.append("dialect.token_path")
    return changed


SECRET_FOLLOWS_HOST_MESSAGE = ("Changing {fields} changes where the client secret is sent: send client_secret in "
                               "the same request (the stored secret never goes to a new address).")


def jaggaer_secret_follows_host_error(*, connection: JaggaerConnection, api_base_url: Any = _UNSET,
                                      dialect: Any = _UNSET, secret_given: bool) -> str | None:
    """Credentials follow their host: a change of the base URL or token path needs the secret again."""
    changed = jaggaer_secret_destination_changes(connection=connection, api_base_url=api_base_url,
                                                 dialect=dialect)
    if changed and not secret_given:
        return SECRET_FOLLOWS_HOST_MESSAGE.format(fields=" and ".join(changed))
    return None


def _default_dialect() -> dict:
    from connections.clients.jaggaer import DEFAULT_DIALECT

    return DEFAULT_DIALECT


def jaggaer_dialect_errors(overrides: Any) -> dict[str, list[str]]:
    """Problems of a dialect override document, by key (empty when it is valid).

    Only keys of the client's DEFAULT_DIALECT are known; a value has the type of its default; paths
    start with "/"; the page size is a whole number from 1 to 1000; the client gets the last word.
    """
    from connections.clients.jaggaer import effective_dialect

    if not isinstance(overrides, dict):
        return {"dialect": ["Send an object of overrides, e.g. {\"page_size\": 100}."]}
    defaults = _default_dialect()
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    for key, value in overrides.items():
        if key not in defaults:
            add(key, f"Unknown setting. Known: {', '.join(sorted(defaults))}.")
            continue
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                add(key, "Must be an object.")
                continue
            for sub, sub_value in value.items():
                if sub not in default:
                    add(f"{key}.{sub}", f"Unknown key. Known: {', '.join(sorted(default))}.")
                elif not isinstance(sub_value, str) or not sub_value.strip():
                    add(f"{key}.{sub}", "Must be a non-empty string.")
                elif key == "paths" and not sub_value.startswith("/"):
                    add(f"{key}.{sub}", "Must be a path starting with '/'.")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                add(key, "Must be true or false.")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                add(key, "Must be a whole number.")
            elif key == "page_size" and not 1 <= value <= 1000:
                add(key, "Must be between 1 and 1000.")
            elif value < 0:
                add(key, "Must not be negative.")
        elif isinstance(default, str):
            if not isinstance(value, str) or not value.strip():
                add(key, "Must be a non-empty string.")
            elif key.endswith("_path") and not value.startswith("/"):
                add(key, "Must be a path starting with '/'.")
        elif not isinstance(value, type(default)):
            add(key, f"Must be of type {type(default).__name__}.")
    if not errors:
        try:
            effective_dialect(overrides)
        except ValueError as exc:
            add("dialect", str(exc))
    return errors


@transaction.atomic
def jaggaer_connection_configure(*, tenant: Tenant, api_base_url: Any = _UNSET, client_id: Any = _UNSET,
                                 client_secret: Any = _UNSET, dialect: Any = _UNSET) -> JaggaerConnection:
    """Set some or all of the JAGGAER settings; a changed host or credential drops the cached token.

    The stored client secret never follows a new base URL or token path: such a change needs the secret in
    the same call (ApplicationError otherwise)."""
    connection, _ = JaggaerConnection.objects.select_for_update().get_or_create(tenant=tenant)
    secret_error = jaggaer_secret_follows_host_error(
        connection=connection, api_base_url=api_base_url, dialect=dialect,
        secret_given=client_secret is not _UNSET and bool(client_secret))
    if secret_error:
        raise ApplicationError(secret_error, code="client_secret_required",
                               fields={"client_secret": [secret_error]})
    credentials_changed = False
    if api_base_url is not _UNSET:
        error = api_base_url and jaggaer_api_base_url_error(api_base_url)
        if error:
            raise ApplicationError(error, code="validation_error", fields={"api_base_url": [error]})
        new_url = api_base_url.rstrip("/")
        credentials_changed |= new_url != connection.api_base_url
        connection.api_base_url = new_url
    if client_id is not _UNSET:
        credentials_changed |= client_id != connection.client_id
        connection.client_id = client_id
    if client_secret is not _UNSET:
        credentials_changed = True
        connection.client_secret = client_secret or None
    if dialect is not _UNSET:
        errors = jaggaer_dialect_errors(dialect)
        if errors:
            raise ApplicationError(next(iter(errors.values()))[0], code="validation_error",
                                   fields={"dialect": errors})
        credentials_changed |= (dialect or {}).get("token_path") != (connection.dialect or {}).get("token_path")
        connection.dialect = dialect or {}
    if credentials_changed:
        connection.access_token = None
        connection.access_token_expires_at = None
        # The previous verdict was about other settings; the next call or ping gives a new one.
        connection.status = ConnectionStatus.CONNECTED if connection.is_configured else ConnectionStatus.NOT_CONFIGURED
        connection.status_reason = "" if connection.is_configured else "API base URL, client id or secret missing"
        connection.consecutive_failures = 0
    connection.save()
    logger.info("JAGGAER connection of tenant %s configured (client id ...%s)", tenant.pk, connection.client_id_last4)
    return connection


@transaction.atomic
def jaggaer_connection_clear(*, tenant: Tenant) -> JaggaerConnection:
    """Forget the JAGGAER credentials and token (the row and its history stay)."""
    connection, _ = JaggaerConnection.objects.select_for_update().get_or_create(tenant=tenant)
    connection.client_secret = None
    connection.access_token = None
    connection.access_token_expires_at = None
    connection.client_id = ""
    connection.status = ConnectionStatus.NOT_CONFIGURED
    connection.status_reason = "credentials removed"
    connection.save()
    return connection


# ============================================================================ QBO authorization

def qbo_authorization_start(*, tenant: Tenant, return_url: str | None = None, actor: Actor | None = None) -> str:
    """The Intuit URL to send the customer to; its `state` is signed, tenant-bound, single-use, short-lived.
    With `actor`, audited as connection.qbo.authorize with the state it stores."""
    if not oauth.qbo_app_configured():
        raise Conflict("The platform's QuickBooks app is not configured (QBO_CLIENT_ID and QBO_CLIENT_SECRET): "
                       "ask the ml-connector operator.", code="qbo_app_not_configured")
    return_url = (return_url or "").strip()
    if return_url and not oauth.return_url_allowed(return_url, tenant.partner.return_url_origins):
        message = (f"return_url must be on one of your registered origins "
                   f"({', '.join(tenant.partner.return_url_origins) or 'none registered'}).")
        raise ApplicationError(message, code="validation_error", fields={"return_url": [message]})
    now = timezone.now()
    QboOAuthState.objects.filter(expires_at__lt=now - dt.timedelta(days=1)).delete()
    nonce = secrets.token_urlsafe(24)
    with transaction.atomic():
        QboOAuthState.objects.create(nonce=nonce, tenant=tenant, return_url=return_url,
                                     expires_at=now + dt.timedelta(seconds=settings.QBO_STATE_MAX_AGE))
        if actor is not None:
            audit.action("connection.qbo.authorize", actor=actor, tenant=tenant, target_type="connection",
                         target_id="qbo", data={"return_url": return_url})
    return oauth.qbo_authorization_url(state=oauth.state_sign(tenant_id=tenant.pk, nonce=nonce))


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
        payload = oauth.state_unsign(state)
    except oauth.StateError as exc:
        outcome = CallbackOutcome(exc.reason)
        if exc.reason == "state_expired":
            row = QboOAuthState.objects.filter(nonce=exc.payload.get("n"), tenant_id=exc.payload.get("t")).first()
            outcome.return_url = row.return_url if row else ""
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


def qbo_authorization_complete(*, params: dict[str, str]) -> CallbackOutcome:
    """Handle Intuit's redirect: on any problem the stored connection is left exactly as it was."""
    outcome = _consume_state(params.get("state") or "")
    if outcome.reason != "pending":
        logger.warning("QuickBooks callback refused: %s", outcome.reason)
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
            tokens = oauth.qbo_exchange_code(code=code)
        except ConnectionFailure as exc:
            outcome.reason = exc.reason if exc.reason in CALLBACK_MESSAGES else "token_exchange_failed"
        except RemoteError as exc:
            logger.warning("QuickBooks code exchange failed: %s", exc)
            outcome.reason = "token_exchange_failed"
        else:
            outcome.reason = (_qbo_confirm_realm(tenant_id=outcome.tenant_id, realm_id=realm_id, tokens=tokens)
                              or _qbo_store_new_tokens(tenant_id=outcome.tenant_id, realm_id=realm_id, tokens=tokens))
            if not outcome.ok:
                _qbo_forget_tokens(tokens)
    log = logger.info if outcome.ok else logger.warning
    log("QuickBooks callback for tenant %s, realm %s: %s", outcome.tenant_id, outcome.realm_id or "-", outcome.reason)
    return outcome


_REALM_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")


def _qbo_confirm_realm(*, tenant_id, realm_id: str, tokens: oauth.QboTokenSet) -> str | None:
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
        _close(client)
    return None


def _qbo_forget_tokens(tokens: oauth.QboTokenSet) -> None:
    """Tokens of a callback that stored nothing are revoked at once (best effort)."""
    try:
        oauth.qbo_revoke(token=tokens.refresh_token)
    except (RemoteError, ConnectionFailure) as exc:
        logger.warning("revoking unused QuickBooks tokens failed: %s", type(exc).__name__)


def _realm_conflict(*, tenant_id, realm_id: str) -> str | None:
    if QboConnection.objects.filter(realm_id=realm_id).exclude(tenant_id=tenant_id).exists():
        return "realm_in_use"
    current = QboConnection.objects.filter(tenant_id=tenant_id).values_list("realm_id", flat=True).first()
    if current and current != realm_id:
        return "realm_mismatch"
    return None


def _qbo_store_new_tokens(*, tenant_id, realm_id: str, tokens: oauth.QboTokenSet) -> str:
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
    except IntegrityError:   # another tenant stored this realm between our check and our write
        return "realm_in_use"
    return "connected"


def qbo_connection_disconnect(*, tenant: Tenant) -> dict:
    """Revoke the tokens at Intuit and forget them; the connection reads `not_configured` afterwards."""
    with transaction.atomic():
        connection = QboConnection.objects.select_for_update().filter(tenant=tenant).first()
        if connection is None:
            return {"disconnected": False, "revoked_at_intuit": None, "message": "QuickBooks was not connected."}
        token = connection.refresh_token or connection.access_token
        revoked: bool | None = None
        message = "QuickBooks is disconnected."
        if token:
            try:
                revoked = oauth.qbo_revoke(token=token)
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
    logger.info("QuickBooks disconnected for tenant %s (revoked at Intuit: %s)", tenant.pk, revoked)
    return {"disconnected": True, "revoked_at_intuit": revoked, "message": message}


# ============================================================================ keep-alive

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


# ============================================================================ ping

def _problem(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _transport_problem(exc: TransportError) -> dict:
    codes = {"dns": "dns", "refused": "connection_refused", "tls": "tls", "connect_timeout": "timeout",
             "read_timeout": "timeout", "invalid_url": "wrong_base_url", BLOCKED_CODE: BLOCKED_CODE,
             REDIRECT_CODE: REDIRECT_CODE}
    return _problem(codes.get(exc.code or "", "unreachable"), exc.message[:1].upper() + exc.message[1:] + ".")


def _failure_problem(exc: Exception, system: str) -> dict:
    name = SYSTEM_NAMES[system]
    if isinstance(exc, NotConfigured):
        return _problem("not_configured", exc.message)
    if isinstance(exc, NeedsReauthorization):
        return _problem("consent_revoked" if system == "qbo" else exc.reason,
                        f"{exc.message}. Reconnect QuickBooks (POST .../connections/qbo/authorize)."
                        if system == "qbo" else exc.message)
    if isinstance(exc, CredentialsRejected):
        if system == "jaggaer":
            return _problem("wrong_client_credentials", exc.message)
        return _problem(exc.reason, exc.message)
    if isinstance(exc, ConnectionFailure):
        cause = exc.__cause__
        if isinstance(cause, TransportError):
            return _transport_problem(cause)
        return _problem(exc.reason, exc.message)
    if isinstance(exc, TransportError):
        return _transport_problem(exc)
    if isinstance(exc, RemoteError):
        if exc.status in (404, 405):
            what = "API base URL and the dialect paths" if system == "jaggaer" else "QBO_API_BASE setting"
            return _problem("wrong_base_url", f"{name} has nothing at this address (HTTP {exc.status}): check the "
                                              f"{what}.")
        if exc.status in (401, 403):
            return _problem("access_denied", f"{name} refused the call (HTTP {exc.status}): {exc}. Check that the "
                                             f"credentials may use this API.")
        return _problem(f"remote_error_{exc.status or 'unknown'}", f"{name} answered with an error: {exc}.")
    raise exc


@dataclass
class PingResult:
    system: str
    ok: bool = True
    steps: list[dict] = field(default_factory=list)
    problem: dict | None = None

    def step(self, name: str, ok: bool, **detail) -> None:
        self.steps.append({"step": name, "ok": ok, **detail})

    def fail(self, name: str, problem: dict) -> None:
        self.ok = False
        self.problem = problem
        self.step(name, False, code=problem["code"], message=problem["message"])

    def as_dict(self, checked_at: dt.datetime) -> dict:
        return {"system": self.system, "ok": self.ok, "checked_at": checked_at.isoformat(), "steps": self.steps,
                "problem": self.problem}


def _ping_store(connection, result: PingResult) -> dict:
    now = timezone.now()
    answer = result.as_dict(now)
    if connection.pk is None:
        return answer
    type(connection).objects.filter(pk=connection.pk).update(last_ping_at=now, last_ping_ok=result.ok,
                                                             last_ping_result=answer)
    connection.last_ping_at, connection.last_ping_ok, connection.last_ping_result = now, result.ok, answer
    if result.ok:
        connection_record_success(connection=connection)
    elif result.problem and result.problem["code"] != "not_configured":
        connection_record_failure(connection=connection, code=result.problem["code"],
                                  message=result.problem["message"])
    return answer


def jaggaer_connection_ping(*, tenant: Tenant) -> dict:
    """A new token and a one-row supplier list: the lightest calls that prove the whole set-up."""
    from connections.clients.jaggaer import JaggaerClient

    connection = selectors.jaggaer_connection_get(tenant=tenant)
    result = PingResult("jaggaer")
    if not connection.is_configured:
        result.fail("configuration", _problem(
            "not_configured", "JAGGAER is not configured: set api_base_url, client_id and client_secret "
                              "(PUT .../connections/jaggaer)."))
        return _ping_store(connection, result)
    result.step("configuration", True)
    provider = JaggaerTokenProvider(connection)
    try:
        provider.fetch_new()
    except (ConnectionFailure, RemoteError) as exc:
        result.fail("token", _failure_problem(exc, "jaggaer"))
        return _ping_store(connection, result)
    result.step("token", True)
    client = JaggaerClient(api_base_url=connection.api_base_url, tokens=provider, dialect=connection.dialect or None,
                           tenant_id=tenant.pk)
    try:
        total = client.count("suppliers")
    except (ConnectionFailure, RemoteError) as exc:
        result.fail("supplier_list", _failure_problem(exc, "jaggaer"))
    else:
        result.step("supplier_list", True, suppliers=total)
    finally:
        _close(client)
    return _ping_store(connection, result)


def qbo_connection_ping(*, tenant: Tenant) -> dict:
    """CompanyInfo: one read that proves the token, the consent and the company."""
    from connections.clients.qbo import QboClient

    connection = selectors.qbo_connection_get(tenant=tenant)
    result = PingResult("qbo")
    if connection.pk is None or not connection.realm_id or connection.status == ConnectionStatus.NOT_CONFIGURED:
        result.fail("configuration", _problem(
            "not_configured", "QuickBooks is not connected: connect it (POST .../connections/qbo/authorize)."))
        return _ping_store(connection, result)
    result.step("configuration", True, realm_id=connection.realm_id)
    provider = QboTokenProvider(connection)
    try:
        provider.access_token()
    except (ConnectionFailure, RemoteError) as exc:
        result.fail("token", _failure_problem(exc, "qbo"))
        return _ping_store(connection, result)
    result.step("token", True)
    client = QboClient(api_base=settings.QBO_API_BASE, realm_id=connection.realm_id, tokens=provider,
                       minor_version=settings.QBO_MINOR_VERSION, tenant_id=tenant.pk)
    try:
        info = client.company_info()
    except (ConnectionFailure, RemoteError) as exc:
        result.fail("company_info", _failure_problem(exc, "qbo"))
    else:
        result.step("company_info", True, company_name=info.get("CompanyName") or "")
    finally:
        _close(client)
    return _ping_store(connection, result)


def _close(client) -> None:
    close = getattr(client, "close", None)
    if close:
        close()


def connection_ping(*, tenant: Tenant, system: str, actor: Actor | None = None) -> dict:
    """Test a connection; with `actor` (a person asked), audited as connection.ping with whether it answered."""
    from tenants.services import tenant_require_active

    tenant_require_active(tenant=tenant)  # a deactivated tenant's hosts are not called
    if system == "jaggaer":
        answer = jaggaer_connection_ping(tenant=tenant)
    elif system == "qbo":
        answer = qbo_connection_ping(tenant=tenant)
    else:
        raise ApplicationError(f"Unknown system {system!r}: use 'jaggaer' or 'qbo'.", code="not_found",
                               status_code=404)
    if actor is not None:
        audit.action("connection.ping", actor=actor, tenant=tenant, target_type="connection", target_id=system,
                     after={"ok": answer["ok"]})
    return answer

"""Connection health: the success/failure bookkeeping every call feeds, and the ping that says what to fix.

A failure with a connection-level code changes the connection's status; any other failure only
counts. The ping makes the lightest real calls (a new token and a one-row list for JAGGAER,
CompanyInfo for QuickBooks) and answers each step, the problem and what to do about it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

import audit
from connections import selectors
from connections.clients.jaggaer import JaggaerClient
from connections.clients.outbound import BLOCKED_CODE, REDIRECT_CODE
from connections.clients.qbo import QboClient
from connections.events import connection_status_changed
from connections.exceptions import (
    SYSTEM_NAMES,
    ConnectionFailure,
    CredentialsRejected,
    NeedsReauthorization,
    NotConfigured,
    RemoteError,
    TransportError,
)
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from connections.tokens import JaggaerTokenProvider, QboTokenProvider
from core.api import rfc3339
from core.exceptions import ApplicationError
from tenants.models import Tenant

logger = logging.getLogger(__name__)

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
    with transaction.atomic():
        before = model.objects.select_for_update().values_list("status", flat=True).get(pk=connection.pk)
        model.objects.filter(pk=connection.pk).update(**changes)
        if status and status != before:
            connection_status_changed(tenant_id=connection.tenant_id, system=connection.system, status=status,
                                      code=code)
    for name, value in changes.items():
        setattr(connection, name, value)
    connection.consecutive_failures = model.objects.values_list("consecutive_failures", flat=True).get(
        pk=connection.pk)


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
        return {"system": self.system, "ok": self.ok, "checked_at": rfc3339(checked_at), "steps": self.steps,
                "problem": self.problem}


@transaction.atomic
def _ping_store(connection, result: PingResult, *, actor) -> dict:
    """Keep the answer on the connection, feed the health bookkeeping, and audit `connection.ping`."""
    now = timezone.now()
    answer = result.as_dict(now)
    audit.action("connection.ping", actor=actor, tenant_id=connection.tenant_id, target_type="connection",
                 target_id=result.system,
                 after={"ok": result.ok, **({"code": result.problem["code"]} if result.problem else {})})
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


def jaggaer_connection_ping(*, tenant: Tenant, actor) -> dict:
    """A new token and a one-row supplier list: the lightest calls that prove the whole set-up."""
    connection = selectors.jaggaer_connection_get(tenant=tenant)
    result = PingResult("jaggaer")
    if not connection.is_configured:
        result.fail("configuration", _problem(
            "not_configured", "JAGGAER is not configured: set api_base_url, client_id and client_secret "
                              "(PUT .../connections/jaggaer)."))
        return _ping_store(connection, result, actor=actor)
    result.step("configuration", True)
    provider = JaggaerTokenProvider(connection)
    try:
        provider.fetch_new()
    except (ConnectionFailure, RemoteError) as exc:
        result.fail("token", _failure_problem(exc, "jaggaer"))
        return _ping_store(connection, result, actor=actor)
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
        client.close()
    return _ping_store(connection, result, actor=actor)


def qbo_connection_ping(*, tenant: Tenant, actor) -> dict:
    """CompanyInfo: one read that proves the token, the consent and the company."""
    connection = selectors.qbo_connection_get(tenant=tenant)
    result = PingResult("qbo")
    if connection.pk is None or not connection.realm_id or connection.status == ConnectionStatus.NOT_CONFIGURED:
        result.fail("configuration", _problem(
            "not_configured", "QuickBooks is not connected: connect it (POST .../connections/qbo/authorize)."))
        return _ping_store(connection, result, actor=actor)
    result.step("configuration", True, realm_id=connection.realm_id)
    provider = QboTokenProvider(connection)
    try:
        provider.access_token()
    except (ConnectionFailure, RemoteError) as exc:
        result.fail("token", _failure_problem(exc, "qbo"))
        return _ping_store(connection, result, actor=actor)
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
        client.close()
    return _ping_store(connection, result, actor=actor)


def connection_ping(*, tenant: Tenant, system: str, actor) -> dict:
    """Ping one side of a tenant (`jaggaer` or `qbo`) for `actor`: the API, the admin and its tenant action."""
    from tenants.services import tenant_require_active

    tenant_require_active(tenant=tenant)  # a deactivated tenant's hosts are not called
    if system == "jaggaer":
        return jaggaer_connection_ping(tenant=tenant, actor=actor)
    if system == "qbo":
        return qbo_connection_ping(tenant=tenant, actor=actor)
    raise ApplicationError(f"Unknown system {system!r}: use 'jaggaer' or 'qbo'.", code="not_found", status_code=404)


# ============================================================================ usable before a run is asked for

def connections_usable_check(*, tenant: Tenant) -> None:
    """Both connections can be used by a run now; else a 409 naming the connection and what to do."""
    prefix = f"/api/v1/tenants/{tenant.pk}/connections"
    jaggaer_connection = selectors.jaggaer_connection_get(tenant=tenant)
    qbo_connection = selectors.qbo_connection_get(tenant=tenant)
    problems = []
    if not jaggaer_connection.is_configured:
        problems.append(("jaggaer", ConnectionStatus.NOT_CONFIGURED,
                         f"JAGGAER is not connected: set its API URL and client credentials (PUT {prefix}/jaggaer)."))
    elif jaggaer_connection.status == ConnectionStatus.ERROR:
        problems.append(("jaggaer", jaggaer_connection.status,
                         f"The JAGGAER connection is in error ({jaggaer_connection.status_reason or 'see its status'}):"
                         f" fix its settings (PUT {prefix}/jaggaer), then check it (POST {prefix}/jaggaer/ping)."))
    status = qbo_connection.status
    if status == ConnectionStatus.NOT_CONFIGURED or not qbo_connection.realm_id:
        problems.append(("qbo", ConnectionStatus.NOT_CONFIGURED,
                         f"QuickBooks Online is not connected: send the customer through consent (POST "
                         f"{prefix}/qbo/authorize)."))
    elif status == ConnectionStatus.NEEDS_REAUTHORIZATION:
        problems.append(("qbo", status, f"QuickBooks Online needs to be re-authorized by the customer: send them "
                                        f"through consent again (POST {prefix}/qbo/authorize)."))
    elif status == ConnectionStatus.ERROR:
        problems.append(("qbo", status, f"The QuickBooks Online connection is in error "
                                        f"({qbo_connection.status_reason or 'see its status'}): check it "
                                        f"(POST {prefix}/qbo/ping) and reconnect it if the ping says so."))
    if problems:
        system, state, message = problems[0]
        raise ApplicationError(" ".join(p[2] for p in problems), code="connection_not_usable", status_code=409,
                               extra={"connection": {"system": system, "status": state},
                                      "connections": [{"system": s, "status": st} for s, st, _ in problems]})

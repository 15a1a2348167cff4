"""Fixtures and helpers for the connection tests (imported by the test modules that use them).

`secret_guard` collects every secret a test could have leaked (both sandboxes' client secrets and every
token they issued during the test) and fails the test if any captured log line contains one.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import connection as db
from django.utils import timezone

from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from sandbox.jaggaer.app import DEFAULT_CLIENT_ID as JAGGAER_CLIENT_ID
from sandbox.jaggaer.app import DEFAULT_CLIENT_SECRET as JAGGAER_CLIENT_SECRET
from sandbox.qbo.app import AUTHORIZE_PATH, DEFAULT_REALM, REVOKE_PATH, TOKEN_PATH
from sandbox.qbo.oauth import DEFAULT_CLIENT_ID as QBO_CLIENT_ID
from sandbox.qbo.oauth import DEFAULT_CLIENT_SECRET as QBO_CLIENT_SECRET

__all__ = ["DEFAULT_REALM", "JAGGAER_CLIENT_ID", "JAGGAER_CLIENT_SECRET", "QBO_CLIENT_ID", "QBO_CLIENT_SECRET",
           "TOKEN_PATH", "assert_no_secret", "connected_qbo", "configured_jaggaer", "database_text", "fast_http",
           "issued_secrets", "jaggaer_app", "qbo_app", "secret_guard", "token_calls"]

REDIRECT_URI = "http://testserver/oauth/qbo/callback"


def qbo_settings_for(url: str) -> dict:
    return {
        "QBO_CLIENT_ID": QBO_CLIENT_ID,
        "QBO_CLIENT_SECRET": QBO_CLIENT_SECRET,
        "QBO_REDIRECT_URI": REDIRECT_URI,
        "QBO_AUTHORIZE_URL": url + AUTHORIZE_PATH,
        "QBO_TOKEN_URL": url + TOKEN_PATH,
        "QBO_REVOKE_URL": url + REVOKE_PATH,
        "QBO_API_BASE": url,
    }


@pytest.fixture
def fast_http(settings):
    """Retries keep their number but not their waiting: failure tests stay fast."""
    settings.HTTP_BACKOFF_BASE = 0.001
    settings.HTTP_BACKOFF_CAP = 0.01
    settings.HTTP_THROTTLE_DEFAULT_WAIT = 0.01
    settings.HTTP_CONNECT_TIMEOUT = 2
    settings.HTTP_READ_TIMEOUT = 5
    return settings


@pytest.fixture
def qbo_app(settings, qbo_sandbox, fast_http):
    """The QBO sandbox, with ml-connector's QuickBooks app settings pointing at it."""
    for name, value in qbo_settings_for(qbo_sandbox.url).items():
        setattr(settings, name, value)
    return qbo_sandbox


@pytest.fixture
def jaggaer_app(jaggaer_sandbox, fast_http):
    return jaggaer_sandbox


def issued_secrets(*servers) -> set[str]:
    """The client secrets and every token the given sandboxes know of."""
    found = {QBO_CLIENT_SECRET, JAGGAER_CLIENT_SECRET}
    for server in servers:
        app = server.app
        oauth = getattr(app, "oauth", None)
        if oauth is not None:
            found.update(oauth.access)
            found.update(oauth.refresh)
            for grant in oauth.grants.values():
                found.update(grant.retired)
                found.update(grant.access_tokens)
        found.update(getattr(app, "_tokens", {}) or {})
    return {s for s in found if s}


class SecretGuard:
    def __init__(self):
        self.servers = []
        self.extra: set[str] = set()

    def watch(self, *servers) -> None:
        self.servers.extend(servers)

    def add(self, *values: str) -> None:
        self.extra.update(v for v in values if v)

    def secrets(self) -> set[str]:
        from django.conf import settings

        configured = {settings.CREDENTIALS_KEY, settings.QBO_CLIENT_SECRET, settings.SECRET_KEY}
        return issued_secrets(*self.servers) | self.extra | {s for s in configured if s}


def assert_no_secret(text: str | bytes, secrets: set[str], where: str = "") -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:4]}…) appears in {where or 'the text'}"


@pytest.fixture
def secret_guard(caplog, request):
    """Fails the test when a log line captured during it carries a secret the sandboxes know of."""
    caplog.set_level(logging.DEBUG)
    guard = SecretGuard()
    for name in ("qbo_sandbox", "jaggaer_sandbox"):
        if name in request.fixturenames:
            guard.watch(request.getfixturevalue(name))
    yield guard
    secrets = guard.secrets()
    assert secrets, "the guard must know at least the client secrets"
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert_no_secret(text, secrets, f"the log line {record.name}: {text[:80]!r}")


def token_calls(server, status: int | None = None) -> int:
    """Requests to the sandbox's token endpoint (QBO or JAGGAER) logged since the last reset."""
    return sum(1 for e in server.log.entries()
               if e["method"] == "POST" and e["path"].endswith(("/tokens/bearer", "/openid-connect/token"))
               and (status is None or e["status"] == status))


def connected_qbo(tenant, qbo_server, *, realm_id: str = DEFAULT_REALM, expires_in: int = 3600) -> QboConnection:
    """A QBO connection holding a fresh sandbox grant, as the callback would have stored it."""
    tokens = qbo_server.app.issue_tokens(realm_id)
    now = timezone.now()
    return QboConnection.objects.create(
        tenant=tenant, realm_id=realm_id, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
        access_token_expires_at=now + dt.timedelta(seconds=expires_in),
        refresh_token_expires_at=now + dt.timedelta(seconds=tokens["x_refresh_token_expires_in"]),
        last_refreshed_at=now, connected_at=now, status=ConnectionStatus.CONNECTED)


def configured_jaggaer(tenant, jaggaer_server, **overrides) -> JaggaerConnection:
    values = {"api_base_url": jaggaer_server.url, "client_id": JAGGAER_CLIENT_ID,
              "client_secret": JAGGAER_CLIENT_SECRET, "status": ConnectionStatus.CONNECTED, **overrides}
    return JaggaerConnection.objects.create(tenant=tenant, **values)


def database_text() -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every non-null value of every table, read with raw SQL."""
    out = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")  # noqa: S608
            columns = [c.name for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    out.append((table, column, text))
    return out

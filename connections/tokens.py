"""Token providers for the clients: QuickBooks (refresh under a row lock) and JAGGAER (client credentials).

Both follow the `TokenProvider` protocol of docs/CLIENT_INTERFACE.md: `access_token()` answers a token
that is good for a while, `renew(rejected)` answers a new one after a 401 (or the one another caller
already obtained). A QuickBooks refresh rotates the refresh token and retires the old one at once, so
exactly one refresh per realm may run at a time, across processes and machines: the refresh runs
while holding `SELECT ... FOR UPDATE` on the connection row, re-reads the row, and commits the new
refresh token before anyone uses the new access token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connections import oauth
from connections.exceptions import (
    SYSTEM_NAMES,
    ConnectionFailure,
    CredentialsRejected,
    NeedsReauthorization,
    NotConfigured,
    RemoteError,
)
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection

logger = logging.getLogger(__name__)

__all__ = ["JaggaerTokenProvider", "QboTokenProvider", "TokenProvider"]


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

    def refresh(self, *, unless_refreshed_since=None) -> str:
        """Refresh now (the keep-alive), unless another caller refreshed after `unless_refreshed_since`."""
        def fresh_enough(row: QboConnection) -> bool:
            return bool(unless_refreshed_since and row.last_refreshed_at
                        and row.last_refreshed_at > unless_refreshed_since and row.access_token)
        return self._refresh(fresh_enough)

    # ---- internals
    def _check_usable(self, conn: QboConnection) -> None:
        if conn.status == ConnectionStatus.NEEDS_REAUTHORIZATION:
            raise NeedsReauthorization(conn.status_reason or "QuickBooks needs to be reconnected", system="qbo")
        if not conn.refresh_token:
            raise NotConfigured("QuickBooks is not connected for this tenant: connect it first", system="qbo")

    def _refresh(self, good_enough: Callable[[QboConnection], bool]) -> str:
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
        _copy(row, self.connection, _QBO_TOKEN_FIELDS + _HEALTH_FIELDS)
        if failure is not None:
            raise failure
        return token

    def _refresh_locked(self, row: QboConnection) -> tuple[str, Exception | None]:
        """Refresh with the row locked; every outcome is saved before the lock is released."""
        now = timezone.now()
        self.refresh_calls += 1
        try:
            tokens = oauth.qbo_refresh(refresh_token=row.refresh_token)
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
            token = oauth.jaggaer_fetch_token(api_base_url=row.api_base_url, client_id=row.client_id,
                                              client_secret=row.client_secret,
                                              token_path=_jaggaer_token_path(row), tenant_id=row.tenant_id)
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


def _jaggaer_token_path(row: JaggaerConnection) -> str:
    path = (row.dialect or {}).get("token_path")
    return path if isinstance(path, str) and path.startswith("/") else oauth.JAGGAER_TOKEN_PATH

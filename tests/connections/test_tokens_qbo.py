"""QboTokenProvider against the QBO sandbox, which rotates the refresh token on every refresh and
refuses the previous one at once (as Intuit does)."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from connections import health, tokens
from connections.clients.qbo import QboClient
from connections.exceptions import ConnectionFailure, NeedsReauthorization, NotConfigured
from connections.models import ConnectionStatus, QboConnection
from connections.tokens import QboTokenProvider, qbo_client_for_tenant
from core.actor import SYSTEM
from tests.connections.support import (
    DEFAULT_REALM,
    connected_qbo,
    token_calls,
)
from tests.factories import TenantFactory

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]


def expiring(connection, seconds=60):
    QboConnection.objects.filter(pk=connection.pk).update(
        access_token_expires_at=timezone.now() + dt.timedelta(seconds=seconds))
    connection.refresh_from_db()
    return connection


def client_for(connection, qbo_app, provider=None):
    return QboClient(api_base=qbo_app.url, realm_id=connection.realm_id,
                     tokens=provider or QboTokenProvider(connection))


def test_a_fresh_token_is_used_as_is(tenant, qbo_app, secret_guard):
    connection = connected_qbo(tenant, qbo_app)
    token = connection.access_token
    provider = QboTokenProvider(connection)
    assert provider.access_token() == token
    assert client_for(connection, qbo_app, provider).company_info()
    assert token_calls(qbo_app) == 0


def test_a_token_with_less_than_the_margin_left_is_refreshed_and_persisted_first(tenant, qbo_app, secret_guard):
    connection = expiring(connected_qbo(tenant, qbo_app), seconds=599)
    old_access, old_refresh = connection.access_token, connection.refresh_token
    provider = QboTokenProvider(connection)
    token = provider.access_token()
    assert token != old_access and provider.refresh_calls == 1
    stored = QboConnection.objects.get(pk=connection.pk)
    assert stored.access_token == token
    assert stored.refresh_token not in ("", None, old_refresh)
    assert stored.access_token_expires_at > timezone.now() + dt.timedelta(minutes=59)
    assert stored.refresh_token_expires_at and stored.refresh_token_hard_expires_at
    assert stored.last_refreshed_at > timezone.now() - dt.timedelta(seconds=30)
    assert client_for(stored, qbo_app).company_info()
    # the sandbox has retired the old refresh token, so only the stored one can continue the chain
    assert provider.access_token() == token
    assert token_calls(qbo_app) == 1


def test_the_margin_is_a_setting(tenant, qbo_app, settings):
    settings.QBO_REFRESH_MARGIN_SECONDS = 30
    connection = expiring(connected_qbo(tenant, qbo_app), seconds=60)
    assert QboTokenProvider(connection).access_token() == connection.access_token
    assert token_calls(qbo_app) == 0


def test_a_401_refreshes_once_and_the_call_is_repeated(tenant, qbo_app, secret_guard):
    connection = connected_qbo(tenant, qbo_app)
    qbo_app.app.expire_tokens(DEFAULT_REALM)           # the access token dies early (revoked, clock skew...)
    provider = QboTokenProvider(connection)
    assert client_for(connection, qbo_app, provider).company_info()["CompanyName"]
    assert provider.refresh_calls == 1 and token_calls(qbo_app) == 1


def test_renew_hands_out_a_token_someone_else_already_obtained(tenant, qbo_app):
    connection = connected_qbo(tenant, qbo_app)
    rejected = connection.access_token
    first = QboTokenProvider(QboConnection.objects.get(pk=connection.pk))
    second = QboTokenProvider(QboConnection.objects.get(pk=connection.pk))
    new = first.renew(rejected)
    assert second.renew(rejected) == new
    assert (first.refresh_calls, second.refresh_calls) == (1, 0)
    assert token_calls(qbo_app) == 1


def test_invalid_grant_needs_reauthorization_and_nothing_retries_it(tenant, qbo_app, secret_guard):
    connection = expiring(connected_qbo(tenant, qbo_app))
    qbo_app.app.expire_tokens(DEFAULT_REALM, refresh=True)   # the refresh token is dead at Intuit
    with pytest.raises(NeedsReauthorization):
        QboTokenProvider(connection).access_token()
    stored = QboConnection.objects.get(pk=connection.pk)
    assert stored.status == ConnectionStatus.NEEDS_REAUTHORIZATION
    assert "reconnect" in stored.status_reason.lower()
    assert stored.last_error_code == "needs_reauthorization" and stored.consecutive_failures == 1
    assert stored.refresh_token is None and stored.access_token is None
    assert token_calls(qbo_app) == 1

    calls = len(qbo_app.log.entries())
    for attempt in (lambda: QboTokenProvider(QboConnection.objects.get(pk=connection.pk)).access_token(),
                    lambda: QboTokenProvider(QboConnection.objects.get(pk=connection.pk)).renew("x"),
                    lambda: qbo_client_for_tenant(tenant),
                    lambda: tokens.qbo_connections_keep_alive(now=timezone.now() + dt.timedelta(days=2))):
        try:
            attempt()
        except NeedsReauthorization:
            pass
    assert len(qbo_app.log.entries()) == calls
    ping = health.qbo_connection_ping(tenant=tenant, actor=SYSTEM)
    assert ping["problem"]["code"] == "consent_revoked"
    assert len(qbo_app.log.entries()) == calls


def test_a_stale_provider_does_not_refresh_a_connection_marked_for_reauthorization(tenant, qbo_app):
    connection = expiring(connected_qbo(tenant, qbo_app))
    stale = QboTokenProvider(QboConnection.objects.get(pk=connection.pk))
    QboConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.NEEDS_REAUTHORIZATION,
                                                          status_reason="refresh token refused")
    with pytest.raises(NeedsReauthorization):
        stale.access_token()
    assert token_calls(qbo_app) == 0


def test_a_transient_token_endpoint_failure_keeps_the_tokens(tenant, qbo_app):
    connection = expiring(connected_qbo(tenant, qbo_app))
    refresh_token = connection.refresh_token
    qbo_app.faults.inject("503", count=3, path="/oauth2/v1/tokens/bearer")
    with pytest.raises(ConnectionFailure) as raised:
        QboTokenProvider(connection).access_token()
    assert raised.value.reason == "token_refresh_failed"
    stored = QboConnection.objects.get(pk=connection.pk)
    assert stored.refresh_token == refresh_token and stored.status == ConnectionStatus.CONNECTED
    assert stored.consecutive_failures == 1 and stored.last_error_code.startswith("token_refresh")
    assert QboTokenProvider(stored).access_token() != connection.access_token   # the next attempt works


def test_a_connection_without_tokens_is_not_configured(tenant, qbo_app):
    connection = QboConnection.objects.create(tenant=tenant)
    with pytest.raises(NotConfigured):
        QboTokenProvider(connection).access_token()


def test_a_refresh_refuses_to_run_inside_an_outer_transaction(tenant, qbo_app):
    """A rotated refresh token rolled back with someone's transaction would lock the customer out."""
    connection = expiring(connected_qbo(tenant, qbo_app))
    with pytest.raises(RuntimeError, match="durable"):
        with transaction.atomic():
            QboTokenProvider(connection).access_token()
    assert token_calls(qbo_app) == 0


def test_the_keep_alive_refreshes_connections_idle_for_20_hours(tenant, qbo_app, secret_guard):
    idle = connected_qbo(tenant, qbo_app)
    busy = connected_qbo(TenantFactory(partner=tenant.partner), qbo_app, realm_id="9130355000000002")
    qbo_app.app.create_realm("9130355000000002")
    dead = connected_qbo(TenantFactory(partner=tenant.partner), qbo_app, realm_id="9130355000000003")
    now = timezone.now()
    QboConnection.objects.filter(pk=idle.pk).update(last_refreshed_at=now - dt.timedelta(hours=20, minutes=1))
    QboConnection.objects.filter(pk=busy.pk).update(last_refreshed_at=now - dt.timedelta(hours=19))
    QboConnection.objects.filter(pk=dead.pk).update(last_refreshed_at=now - dt.timedelta(hours=30),
                                                    status=ConnectionStatus.NEEDS_REAUTHORIZATION)
    from connections.tokens import qbo_connections_keep_alive
    assert qbo_connections_keep_alive() == {"refreshed": 1, "already_fresh": 0, "failed": 0}
    assert token_calls(qbo_app) == 1
    idle.refresh_from_db()
    assert idle.last_refreshed_at > now - dt.timedelta(minutes=1)
    assert qbo_connections_keep_alive() == {"refreshed": 0, "already_fresh": 0, "failed": 0}


def test_the_keep_alive_records_a_refused_refresh(tenant, qbo_app):
    connection = connected_qbo(tenant, qbo_app)
    QboConnection.objects.filter(pk=connection.pk).update(last_refreshed_at=timezone.now() - dt.timedelta(days=1))
    qbo_app.app.expire_tokens(DEFAULT_REALM, refresh=True)
    assert tokens.qbo_connections_keep_alive()["failed"] == 1
    assert QboConnection.objects.get(pk=connection.pk).status == ConnectionStatus.NEEDS_REAUTHORIZATION

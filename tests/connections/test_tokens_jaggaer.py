"""JaggaerTokenProvider against the JAGGAER sandbox: one client-credentials token, cached encrypted on the
connection until 60 s before it expires, replaced once on a 401."""

import pytest
from django.db import connection as db

from connections import jaggaer
from connections.clients.jaggaer import JaggaerClient
from connections.exceptions import ConnectionFailure, CredentialsRejected, NotConfigured
from connections.models import ConnectionStatus, JaggaerConnection
from connections.tokens import JaggaerTokenProvider
from core.actor import SYSTEM
from tests.connections.support import configured_jaggaer, token_calls

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]


def client_for(connection, **dialect):
    return JaggaerClient(api_base_url=connection.api_base_url, tokens=JaggaerTokenProvider(connection),
                         dialect=dialect or None)


def test_one_token_serves_many_calls_and_other_workers(tenant, jaggaer_app, secret_guard):
    connection = configured_jaggaer(tenant, jaggaer_app)
    client = client_for(connection, page_size=5)
    suppliers = [row for page in client.iter_pages("suppliers") for row in page]
    for row in suppliers[:3]:
        client.get("suppliers", row["companyId"])
    api_calls = jaggaer_app.log.count(method="GET", status=200)
    assert api_calls >= 10
    assert token_calls(jaggaer_app) == 1
    # another worker (a fresh provider on a fresh row) reuses the cached token
    other = client_for(JaggaerConnection.objects.get(pk=connection.pk))
    assert other.count("departments") > 0
    assert token_calls(jaggaer_app) == 1


def test_the_cached_token_is_stored_encrypted(tenant, jaggaer_app):
    connection = configured_jaggaer(tenant, jaggaer_app)
    token = JaggaerTokenProvider(connection).access_token()
    stored = JaggaerConnection.objects.get(pk=connection.pk)
    assert stored.access_token == token and stored.access_token_expires_at
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token FROM connections_jaggaerconnection WHERE id = %s", [connection.pk])
        raw = bytes(cursor.fetchone()[0])
    assert token.encode() not in raw


def test_a_token_within_60_seconds_of_expiry_is_not_used(tenant, jaggaer_app):
    jaggaer_app.app.set_token_lifetime(59)
    connection = configured_jaggaer(tenant, jaggaer_app)
    provider = JaggaerTokenProvider(connection)
    first = provider.access_token()
    assert provider.access_token() != first
    assert token_calls(jaggaer_app) == 2
    jaggaer_app.app.set_token_lifetime(120)
    third = provider.access_token()
    assert provider.access_token() == third
    assert token_calls(jaggaer_app) == 3


def test_a_401_gets_one_new_token_and_the_call_is_repeated(tenant, jaggaer_app, secret_guard):
    connection = configured_jaggaer(tenant, jaggaer_app)
    client = client_for(connection)
    total = client.count("suppliers")
    jaggaer_app.app.expire_tokens()
    assert client.count("suppliers") == total
    assert jaggaer_app.log.count(status=401) == 1
    assert token_calls(jaggaer_app) == 2


def test_renew_hands_out_a_token_someone_else_already_fetched(tenant, jaggaer_app):
    connection = configured_jaggaer(tenant, jaggaer_app)
    rejected = JaggaerTokenProvider(connection).access_token()
    first = JaggaerTokenProvider(JaggaerConnection.objects.get(pk=connection.pk))
    second = JaggaerTokenProvider(JaggaerConnection.objects.get(pk=connection.pk))
    new = first.renew(rejected)
    assert new != rejected and second.renew(rejected) == new
    assert token_calls(jaggaer_app) == 2


def test_invalid_client_is_credentials_rejected_and_puts_the_connection_in_error(tenant, jaggaer_app,
                                                                                secret_guard):
    connection = configured_jaggaer(tenant, jaggaer_app, client_secret="not-the-secret-at-all")
    secret_guard.add("not-the-secret-at-all")
    with pytest.raises(CredentialsRejected) as raised:
        JaggaerTokenProvider(connection).access_token()
    assert "client secret" in raised.value.message
    assert "not-the-secret" not in str(raised.value)
    stored = JaggaerConnection.objects.get(pk=connection.pk)
    assert stored.status == ConnectionStatus.ERROR
    assert "client secret" in stored.status_reason
    assert stored.last_error_code == "credentials_rejected" and stored.consecutive_failures == 1
    assert token_calls(jaggaer_app) == 1   # one try: invalid_client is not retried


def test_new_credentials_drop_the_cached_token_and_the_error(tenant, jaggaer_app):
    connection = configured_jaggaer(tenant, jaggaer_app, client_secret="wrong")
    with pytest.raises(CredentialsRejected):
        JaggaerTokenProvider(connection).access_token()
    fixed = jaggaer.jaggaer_connection_configure(tenant=tenant, actor=SYSTEM,
                                                 client_secret=jaggaer_app.app._client_secret)
    assert fixed.status == ConnectionStatus.CONNECTED and fixed.access_token is None
    assert JaggaerTokenProvider(fixed).access_token()
    assert JaggaerConnection.objects.get(pk=connection.pk).status == ConnectionStatus.CONNECTED


def test_an_incomplete_connection_is_not_configured(tenant, jaggaer_app):
    connection = configured_jaggaer(tenant, jaggaer_app, client_secret=None)
    with pytest.raises(NotConfigured):
        JaggaerTokenProvider(connection).access_token()
    assert token_calls(jaggaer_app) == 0


def test_the_token_path_follows_the_dialect(tenant, jaggaer_app):
    connection = configured_jaggaer(tenant, jaggaer_app, dialect={"token_path": "/elsewhere/token"})
    with pytest.raises(ConnectionFailure) as raised:
        JaggaerTokenProvider(connection).access_token()
    assert raised.value.reason == "wrong_base_url"
    assert jaggaer_app.log.entries()[-1]["path"] == "/elsewhere/token"

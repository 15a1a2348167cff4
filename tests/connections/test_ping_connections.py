"""Ping: the lightest real call on each connection, and for each way it can fail, what the customer fixes."""

import socket

import pytest
import requests

from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from tests.connections.support import (
    DEFAULT_REALM,
    QBO_CLIENT_ID,
    QBO_CLIENT_SECRET,
    assert_no_secret,
    configured_jaggaer,
    connected_qbo,
    token_calls,
)

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]


def ping(alice, tenant, system, secret_guard=None):
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/{system}/ping")
    assert response.status_code == 200, response.content
    if secret_guard is not None:
        assert_no_secret(response.content, secret_guard.secrets(), "the ping answer")
    return response.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def failed_step(answer) -> dict:
    assert answer["ok"] is False
    return answer["steps"][-1]


# ============================================================================ JAGGAER

def test_a_working_jaggaer_connection_answers_every_step(alice, tenant, jaggaer_app, secret_guard):
    configured_jaggaer(tenant, jaggaer_app)
    answer = ping(alice, tenant, "jaggaer", secret_guard)
    assert answer["ok"] is True and answer["problem"] is None
    assert [s["step"] for s in answer["steps"]] == ["configuration", "token", "supplier_list"]
    assert answer["steps"][-1]["suppliers"] == jaggaer_app.app.count("suppliers")
    # one token and one one-row list: the lightest real calls
    assert token_calls(jaggaer_app) == 1
    lists = [e for e in jaggaer_app.log.entries() if e["method"] == "GET"]
    assert len(lists) == 1
    stored = JaggaerConnection.objects.get()
    assert stored.last_ping_ok is True and stored.last_ping_result == answer and stored.last_success_at


def test_a_ping_fetches_a_new_token_even_when_one_is_cached(alice, tenant, jaggaer_app):
    configured_jaggaer(tenant, jaggaer_app)
    ping(alice, tenant, "jaggaer")
    ping(alice, tenant, "jaggaer")
    assert token_calls(jaggaer_app) == 2


def test_jaggaer_not_configured(alice, tenant, jaggaer_app):
    answer = ping(alice, tenant, "jaggaer")
    assert answer["problem"]["code"] == "not_configured"
    assert "client_secret" in answer["problem"]["message"]
    assert jaggaer_app.log.entries() == []


def test_a_wrong_client_secret(alice, tenant, jaggaer_app, secret_guard):
    configured_jaggaer(tenant, jaggaer_app, client_secret="wrong-secret-123")
    secret_guard.add("wrong-secret-123")
    answer = ping(alice, tenant, "jaggaer", secret_guard)
    step = failed_step(answer)
    assert step["step"] == "token" and answer["problem"]["code"] == "wrong_client_credentials"
    assert "client secret" in answer["problem"]["message"]
    stored = JaggaerConnection.objects.get()
    assert stored.status == ConnectionStatus.ERROR and stored.last_ping_ok is False
    assert stored.last_ping_result["problem"]["code"] == "wrong_client_credentials"


def test_a_wrong_base_url(alice, tenant, jaggaer_app):
    configured_jaggaer(tenant, jaggaer_app, api_base_url=jaggaer_app.url + "/not-the-api")
    answer = ping(alice, tenant, "jaggaer")
    assert failed_step(answer)["step"] == "token"
    assert answer["problem"]["code"] == "wrong_base_url"
    assert "API base URL" in answer["problem"]["message"]


def test_a_wrong_supplier_path(alice, tenant, jaggaer_app):
    configured_jaggaer(tenant, jaggaer_app, dialect={"paths": {"suppliers": "/j1p/api/nope"}})
    answer = ping(alice, tenant, "jaggaer")
    assert failed_step(answer)["step"] == "supplier_list"
    assert answer["problem"]["code"] == "wrong_base_url"
    assert "dialect paths" in answer["problem"]["message"]


def test_an_unknown_host(alice, tenant, jaggaer_app):
    configured_jaggaer(tenant, jaggaer_app, api_base_url="https://no-such-host.invalid")
    answer = ping(alice, tenant, "jaggaer")
    assert answer["problem"]["code"] == "dns"
    assert "resolve host no-such-host.invalid" in answer["problem"]["message"]


def test_connection_refused(alice, tenant, jaggaer_app):
    port = free_port()
    configured_jaggaer(tenant, jaggaer_app, api_base_url=f"http://127.0.0.1:{port}")
    answer = ping(alice, tenant, "jaggaer")
    assert answer["problem"]["code"] == "connection_refused"
    assert f"127.0.0.1:{port} refused the connection" in answer["problem"]["message"]


def test_tls_failure(alice, tenant, jaggaer_app):
    configured_jaggaer(tenant, jaggaer_app, api_base_url=jaggaer_app.url.replace("http://", "https://"))
    answer = ping(alice, tenant, "jaggaer")
    assert answer["problem"]["code"] == "tls"
    assert "TLS" in answer["problem"]["message"]


def test_jaggaer_down(alice, tenant, jaggaer_app):
    configured_jaggaer(tenant, jaggaer_app)
    jaggaer_app.faults.inject("503", count=10)
    answer = ping(alice, tenant, "jaggaer")
    assert answer["problem"]["code"] == "remote_error_503"
    stored = JaggaerConnection.objects.get()
    assert stored.status == ConnectionStatus.CONNECTED and stored.consecutive_failures >= 1


# ============================================================================ QuickBooks

def test_a_working_qbo_connection_reads_company_info(alice, tenant, qbo_app, secret_guard):
    connected_qbo(tenant, qbo_app)
    answer = ping(alice, tenant, "qbo", secret_guard)
    assert answer["ok"] is True
    assert [s["step"] for s in answer["steps"]] == ["configuration", "token", "company_info"]
    assert answer["steps"][-1]["company_name"] == qbo_app.app.realm(DEFAULT_REALM).company_name
    assert qbo_app.log.count(method="GET") == 1 and token_calls(qbo_app) == 0
    assert QboConnection.objects.get().last_ping_ok is True


def test_qbo_not_connected(alice, tenant, qbo_app):
    answer = ping(alice, tenant, "qbo")
    assert answer["problem"]["code"] == "not_configured"
    assert "qbo/authorize" in answer["problem"]["message"]


def test_consent_revoked_in_quickbooks(alice, tenant, qbo_app):
    connection = connected_qbo(tenant, qbo_app)
    # the company admin removes the app in QuickBooks: Intuit revokes the grant
    revoked = requests.post(qbo_app.url + "/v2/oauth2/tokens/revoke", auth=(QBO_CLIENT_ID, QBO_CLIENT_SECRET),
                            json={"token": connection.refresh_token}, timeout=5)
    assert revoked.status_code == 200
    answer = ping(alice, tenant, "qbo")
    assert failed_step(answer)["step"] == "company_info"
    assert answer["problem"]["code"] == "consent_revoked"
    assert "Reconnect QuickBooks" in answer["problem"]["message"]
    stored = QboConnection.objects.get()
    assert stored.status == ConnectionStatus.NEEDS_REAUTHORIZATION
    calls = len(qbo_app.log.entries())
    assert ping(alice, tenant, "qbo")["problem"]["code"] == "consent_revoked"
    assert len(qbo_app.log.entries()) == calls       # nothing retries a dead authorization


def test_quickbooks_unreachable(alice, tenant, qbo_app, settings):
    connected_qbo(tenant, qbo_app)
    settings.QBO_API_BASE = f"http://127.0.0.1:{free_port()}"
    answer = ping(alice, tenant, "qbo")
    assert answer["problem"]["code"] == "connection_refused"
    assert QboConnection.objects.get().status == ConnectionStatus.CONNECTED


def test_the_platform_app_credentials_rejected(alice, tenant, qbo_app, settings):
    connected_qbo(tenant, qbo_app, expires_in=10)       # needs a refresh, which Intuit refuses
    settings.QBO_CLIENT_SECRET = "not-the-app-secret"
    answer = ping(alice, tenant, "qbo")
    assert failed_step(answer)["step"] == "token"
    assert answer["problem"]["code"] == "app_credentials_rejected"
    assert "QBO_CLIENT_SECRET" in answer["problem"]["message"]

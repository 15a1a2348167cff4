"""The connection endpoints: configure JAGGAER, show both connections, disconnect QuickBooks.

Every answer is checked for secrets: the client secret and tokens go in, and never come out.
"""

import json

import pytest
import requests

from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from connections.tokens import JaggaerTokenProvider, QboTokenProvider
from tests.connections.support import (
    DEFAULT_REALM,
    JAGGAER_CLIENT_ID,
    JAGGAER_CLIENT_SECRET,
    QBO_CLIENT_ID,
    QBO_CLIENT_SECRET,
    assert_no_secret,
    configured_jaggaer,
    connected_qbo,
)

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]


def url(tenant, rest=""):
    return f"/api/v1/tenants/{tenant.id}/connections{rest}"


@pytest.fixture
def answers(secret_guard):
    """Every answer the test received, checked for secrets at the end."""
    seen = []
    yield seen
    for response in seen:
        assert_no_secret(response.content, secret_guard.secrets(), f"the answer to {response.request['PATH_INFO']}")


def call(answers, client, method, path, body=None):
    response = client.generic(method, path, "" if body is None else json.dumps(body),
                              content_type="application/json")
    answers.append(response)
    return response


def jaggaer_body(server, **changes):
    return {"api_base_url": server.url, "client_id": JAGGAER_CLIENT_ID, "client_secret": JAGGAER_CLIENT_SECRET,
            **changes}


def test_a_new_tenant_reads_as_not_configured_without_creating_rows(alice, tenant, answers):
    response = call(answers, alice.client, "GET", url(tenant))
    assert response.status_code == 200
    body = response.json()
    assert body["jaggaer"]["status"] == body["qbo"]["status"] == "not_configured"
    assert body["jaggaer"]["client_secret_set"] is False and body["qbo"]["refresh_token_set"] is False
    assert not JaggaerConnection.objects.exists() and not QboConnection.objects.exists()


def test_put_configures_jaggaer_and_the_answer_hides_the_secret(alice, tenant, jaggaer_app, answers):
    response = call(answers, alice.client, "PUT", url(tenant, "/jaggaer"),
                    jaggaer_body(jaggaer_app, dialect={"page_size": 50, "paths": {"suppliers": "/x/suppliers"}}))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "connected"
    assert body["client_id_last4"] == JAGGAER_CLIENT_ID[-4:] and body["client_id_set"] is True
    assert body["client_secret_set"] is True and "client_secret" not in body and "client_id" not in body
    assert body["dialect"] == {"page_size": 50, "paths": {"suppliers": "/x/suppliers"}}
    stored = JaggaerConnection.objects.get(tenant=tenant)
    assert stored.client_secret == JAGGAER_CLIENT_SECRET and stored.client_id == JAGGAER_CLIENT_ID
    assert call(answers, alice.client, "GET", url(tenant, "/jaggaer")).json() == body


def test_put_needs_a_secret_the_first_time_and_keeps_it_afterwards(alice, tenant, jaggaer_app, answers):
    body = jaggaer_body(jaggaer_app)
    del body["client_secret"]
    refused = call(answers, alice.client, "PUT", url(tenant, "/jaggaer"), body)
    assert refused.status_code == 400 and "client_secret" in refused.json()["error"]["fields"]
    assert call(answers, alice.client, "PUT", url(tenant, "/jaggaer"), jaggaer_body(jaggaer_app)).status_code == 200
    assert call(answers, alice.client, "PUT", url(tenant, "/jaggaer"), body).status_code == 200
    assert JaggaerConnection.objects.get().client_secret == JAGGAER_CLIENT_SECRET


def test_patch_changes_only_what_it_names(alice, tenant, jaggaer_app, answers):
    connection = configured_jaggaer(tenant, jaggaer_app, dialect={"page_size": 10})
    JaggaerTokenProvider(connection).access_token()
    response = call(answers, alice.client, "PATCH", url(tenant, "/jaggaer"), {"dialect": {"page_size": 20}})
    assert response.status_code == 200 and response.json()["access_token_cached"] is True
    stored = JaggaerConnection.objects.get()
    assert stored.dialect == {"page_size": 20} and stored.client_secret == JAGGAER_CLIENT_SECRET
    response = call(answers, alice.client, "PATCH", url(tenant, "/jaggaer"), {"client_secret": "new-secret-value"})
    assert response.json()["access_token_cached"] is False      # a new secret drops the cached token
    assert JaggaerConnection.objects.get().client_secret == "new-secret-value"


@pytest.mark.parametrize("base_url, ok", [
    ("https://acme.api.jaggaer.com", True),
    ("https://acme.api.jaggaer.com/", True),
    ("http://127.0.0.1:8099", True),
    ("http://localhost:8099", True),
    ("http://[::1]:8099", True),
    ("http://acme.api.jaggaer.com", False),
    ("http://127.0.0.1.nip.io", False),
    ("ftp://acme.example", False),
    ("acme.api.jaggaer.com", False),
    ("https://user:pw@acme.api.jaggaer.com", False),
    ("https://acme.api.jaggaer.com?x=1", False),
])
def test_the_api_base_url_must_be_https_except_on_this_machine(alice, tenant, answers, base_url, ok):
    response = call(answers, alice.client, "PUT", url(tenant, "/jaggaer"),
                    {"api_base_url": base_url, "client_id": "id", "client_secret": "s"})
    assert (response.status_code == 200) is ok, response.content
    if not ok:
        assert response.json()["error"]["fields"]["api_base_url"]
    else:
        assert not JaggaerConnection.objects.get().api_base_url.endswith("/")


@pytest.mark.parametrize("dialect, field", [
    ({"colour": "blue"}, "colour"),
    ({"paths": {"widgets": "/w"}}, "paths.widgets"),
    ({"paths": {"suppliers": "no-slash"}}, "paths.suppliers"),
    ({"paths": "/x"}, "paths"),
    ({"list_keys": {"suppliers": ""}}, "list_keys.suppliers"),
    ({"page_size": 0}, "page_size"),
    ({"page_size": 5000}, "page_size"),
    ({"page_size": "50"}, "page_size"),
    ({"page_size": True}, "page_size"),
    ({"filter_field": ""}, "filter_field"),
    ({"gl_segment": 7}, "gl_segment"),
    ({"token_path": "token"}, "token_path"),
    (["page_size", 5], "dialect"),
])
def test_dialect_overrides_accept_known_keys_only(alice, tenant, jaggaer_app, answers, dialect, field):
    response = call(answers, alice.client, "PUT", url(tenant, "/jaggaer"), jaggaer_body(jaggaer_app, dialect=dialect))
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]["dialect"]
    assert not JaggaerConnection.objects.exists()


def test_every_known_dialect_key_is_accepted(alice, tenant, jaggaer_app, answers):
    dialect = {"paths": {"invoices": "/custom/invoices"}, "list_keys": {"invoices": "rows"}, "page_size": 100,
               "filter_field": "UPDATED", "gl_segment": "GLAccount", "department_segment": "CostCenter",
               "params": {"start": "offset"}, "token_path": "/oauth/token"}
    response = call(answers, alice.client, "PUT", url(tenant, "/jaggaer"), jaggaer_body(jaggaer_app, dialect=dialect))
    assert response.status_code == 200, response.content
    assert JaggaerConnection.objects.get().dialect == dialect


def test_delete_forgets_the_jaggaer_credentials(alice, tenant, jaggaer_app, answers):
    connection = configured_jaggaer(tenant, jaggaer_app)
    JaggaerTokenProvider(connection).access_token()
    response = call(answers, alice.client, "DELETE", url(tenant, "/jaggaer"))
    assert response.status_code == 200 and response.json()["status"] == "not_configured"
    stored = JaggaerConnection.objects.get()
    assert stored.client_secret is None and stored.access_token is None and stored.client_id == ""


def test_the_qbo_connection_reads_without_tokens(alice, tenant, qbo_app, answers):
    connected_qbo(tenant, qbo_app)
    body = call(answers, alice.client, "GET", url(tenant, "/qbo")).json()
    assert body["status"] == "connected" and body["realm_id"] == DEFAULT_REALM
    assert body["access_token_set"] is True and body["refresh_token_set"] is True
    assert "access_token" not in body and "refresh_token" not in body


@pytest.mark.parametrize("method, rest", [("DELETE", "/qbo"), ("POST", "/qbo/disconnect")])
def test_disconnect_revokes_at_intuit_and_forgets_the_tokens(alice, tenant, qbo_app, answers, method, rest):
    connection = connected_qbo(tenant, qbo_app)
    access, refresh = connection.access_token, connection.refresh_token
    response = call(answers, alice.client, method, url(tenant, rest))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["disconnected"] is True and body["revoked_at_intuit"] is True
    assert body["connection"]["status"] == "not_configured" and body["connection"]["refresh_token_set"] is False
    stored = QboConnection.objects.get()
    assert stored.access_token is None and stored.refresh_token is None and stored.realm_id == ""
    assert qbo_app.log.count(method="POST", endpoint="/v2/oauth2/tokens/revoke", status=200) == 1
    # Intuit no longer honours either token
    api = requests.get(f"{qbo_app.url}/v3/company/{DEFAULT_REALM}/companyinfo/{DEFAULT_REALM}",
                       headers={"Authorization": f"Bearer {access}", "Accept": "application/json"}, timeout=5)
    assert api.status_code == 401
    grant = requests.post(f"{qbo_app.url}/oauth2/v1/tokens/bearer", auth=(QBO_CLIENT_ID, QBO_CLIENT_SECRET),
                          data={"grant_type": "refresh_token", "refresh_token": refresh}, timeout=5)
    assert grant.json()["error"] == "invalid_grant"


def test_disconnect_forgets_the_tokens_even_when_intuit_is_down(alice, tenant, qbo_app, answers):
    connected_qbo(tenant, qbo_app)
    qbo_app.faults.inject("503", count=10, path="/v2/oauth2/tokens/revoke")
    body = call(answers, alice.client, "DELETE", url(tenant, "/qbo")).json()
    assert body["disconnected"] is True and body["revoked_at_intuit"] is False
    assert "Settings > Apps" in body["message"]
    assert QboConnection.objects.get().refresh_token is None


def test_disconnecting_a_tenant_never_connected_is_harmless(alice, tenant, qbo_app, answers):
    body = call(answers, alice.client, "POST", url(tenant, "/qbo/disconnect")).json()
    assert body["disconnected"] is False and body["connection"]["status"] == "not_configured"
    assert qbo_app.log.entries() == []


def test_a_disconnected_connection_cannot_hand_out_tokens(alice, tenant, qbo_app, answers):
    connection = connected_qbo(tenant, qbo_app)
    call(answers, alice.client, "DELETE", url(tenant, "/qbo"))
    from connections.exceptions import NotConfigured
    with pytest.raises(NotConfigured):
        QboTokenProvider(QboConnection.objects.get(pk=connection.pk)).access_token()


def test_an_outsider_cannot_configure_another_partners_tenant(bob, tenant, jaggaer_app):
    response = bob.client.put(url(tenant, "/jaggaer"), jaggaer_body(jaggaer_app), format="json")
    assert response.status_code == 404
    assert not JaggaerConnection.objects.exists()


def test_status_and_errors_show_in_the_overview(alice, tenant, jaggaer_app, qbo_app, answers):
    configured_jaggaer(tenant, jaggaer_app, status=ConnectionStatus.ERROR, last_error_code="credentials_rejected",
                       last_error_message="JAGGAER rejected the client id or client secret",
                       consecutive_failures=3)
    JaggaerConnection.objects.update(last_error_at="2026-11-20T10:00:00Z")
    body = call(answers, alice.client, "GET", url(tenant)).json()["jaggaer"]
    assert body["status"] == "error" and body["consecutive_failures"] == 3
    assert body["last_error"]["code"] == "credentials_rejected"
    assert body["last_error"]["at"].startswith("2026-11-20T10:00:00")

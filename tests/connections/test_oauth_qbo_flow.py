"""Connecting QuickBooks: the API hands out Intuit's URL, the sandbox consents, the callback stores the tokens.

Every way the callback can go wrong (forged, replayed or expired state, no realmId, declined consent, a
company already taken) ends in a clear error and leaves the stored connection exactly as it was.
"""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.core import signing

from connections import qbo_authorization
from connections.models import ConnectionStatus, QboConnection, QboOAuthState
from connections.tokens import QboTokenProvider
from tests.connections.support import (
    DEFAULT_REALM,
    assert_no_secret,
    connected_qbo,
    token_calls,
)
from tests.factories import TenantFactory

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]

RETURN_URL = "https://portal.example/tenants/acme/qbo?tab=connections"


def authorize(alice, tenant, **body):
    return alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/qbo/authorize", body, format="json")


def consent(authorization_url: str, **extra) -> str:
    """What the customer's browser does at Intuit: consent, then follow the redirect to our callback."""
    if extra:
        authorization_url = f"{authorization_url}&{urlencode(extra)}"
    answer = requests.get(authorization_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/oauth/qbo/callback"
    return f"{location.path}?{location.query}"


def callback_params(path: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


def with_params(path: str, drop=(), **changes) -> str:
    params = {k: v for k, v in callback_params(path).items() if k not in drop}
    params.update(changes)
    return f"/oauth/qbo/callback?{urlencode(params)}"


def redirect_query(response) -> dict:
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://portal.example/tenants/acme/qbo"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def stored(tenant) -> dict:
    row = QboConnection.objects.filter(tenant=tenant).values(
        "realm_id", "access_token", "refresh_token", "status", "access_token_expires_at", "last_refreshed_at").first()
    return row


def test_the_full_connect_flow_through_the_api_and_the_callback(alice, tenant, anon_client, qbo_app, secret_guard):
    answer = authorize(alice, tenant, return_url=RETURN_URL)
    assert answer.status_code == 201, answer.content
    url = answer.json()["authorization_url"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(qbo_app.url + "/connect/oauth2?")
    assert query["scope"] == ["com.intuit.quickbooks.accounting"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/oauth/qbo/callback"]
    assert query["client_id"] == ["ml-sandbox-client"] and "client_secret" not in query

    response = anon_client.get(consent(url))
    assert redirect_query(response) == {"tab": "connections", "status": "connected", "tenant_id": str(tenant.pk)}

    connection = QboConnection.objects.get(tenant=tenant)
    assert connection.status == ConnectionStatus.CONNECTED and connection.realm_id == DEFAULT_REALM
    assert connection.refresh_token and connection.access_token and connection.connected_at
    assert connection.refresh_token_expires_at and connection.refresh_token_hard_expires_at
    assert connection.refresh_token_hard_expires_at > connection.refresh_token_expires_at
    assert token_calls(qbo_app, 200) == 1
    # the stored token works against the API
    from connections.clients.qbo import QboClient
    client = QboClient(api_base=qbo_app.url, realm_id=connection.realm_id, tokens=QboTokenProvider(connection))
    assert client.company_info()["CompanyName"]
    # the connection reads as connected through the API, without its tokens
    shown = alice.client.get(f"/api/v1/tenants/{tenant.id}/connections/qbo")
    assert shown.json()["status"] == "connected" and shown.json()["refresh_token_set"] is True
    assert_no_secret(shown.content, secret_guard.secrets(), "the API answer")


def test_without_a_return_url_the_callback_answers_json_or_html(alice, tenant, anon_client, qbo_app):
    url = authorize(alice, tenant).json()["authorization_url"]
    path = consent(url)
    response = anon_client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "connected", "reason": "connected", "realm_id": DEFAULT_REALM,
                               "tenant_id": str(tenant.pk), "message": "QuickBooks Online is connected."}
    again = anon_client.get(path, HTTP_ACCEPT="text/html")
    assert again.status_code == 400 and again["Content-Type"].startswith("text/html")
    assert b"already used" in again.content


def test_a_replayed_state_is_refused_and_the_connection_untouched(alice, tenant, anon_client, qbo_app):
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    anon_client.get(path)
    before = stored(tenant)
    replay = anon_client.get(path)
    assert redirect_query(replay)["code"] == "state_already_used"
    assert stored(tenant) == before
    assert token_calls(qbo_app) == 1


def test_a_forged_state_is_refused_without_following_any_return_url(alice, tenant, anon_client, qbo_app):
    connected_qbo(tenant, qbo_app)
    before = stored(tenant)
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    state = callback_params(path)["state"]
    forged = state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB")
    response = anon_client.get(with_params(path, state=forged))
    assert response.status_code == 400
    assert response.json()["reason"] == "invalid_state"
    missing = anon_client.get(with_params(path, drop=("state",)))
    assert missing.status_code == 400 and missing.json()["reason"] == "missing_state"
    assert stored(tenant) == before
    assert token_calls(qbo_app) == 0


def test_a_state_is_bound_to_its_tenant(alice, tenant, anon_client, qbo_app):
    other = TenantFactory(partner=alice.partner)
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    nonce = QboOAuthState.objects.get(tenant=tenant).nonce
    swapped = qbo_authorization.state_sign(tenant_id=other.id, nonce=nonce)
    response = anon_client.get(with_params(path, state=swapped))
    assert response.status_code == 400 and response.json()["reason"] == "invalid_state"
    assert not QboConnection.objects.filter(tenant=other).exists()
    # the genuine state was not used up by the attempt
    assert redirect_query(anon_client.get(path))["status"] == "connected"


def test_an_expired_state_is_refused(alice, tenant, anon_client, qbo_app, settings):
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    settings.QBO_STATE_MAX_AGE = -1
    assert redirect_query(anon_client.get(path)) == {"tab": "connections", "status": "error",
                                                     "code": "state_expired", "tenant_id": str(tenant.pk)}
    assert not QboConnection.objects.filter(tenant=tenant).exists()
    assert token_calls(qbo_app) == 0


def test_a_state_past_its_row_expiry_is_refused(alice, tenant, anon_client, qbo_app):
    from django.utils import timezone
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    QboOAuthState.objects.update(expires_at=timezone.now())
    assert redirect_query(anon_client.get(path))["code"] == "state_expired"


def test_a_callback_without_realm_id_leaves_the_connection_untouched(alice, tenant, anon_client, qbo_app):
    connected_qbo(tenant, qbo_app)
    before = stored(tenant)
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    response = anon_client.get(with_params(path, drop=("realmId",)))
    assert redirect_query(response) == {"tab": "connections", "status": "error", "code": "missing_realm_id",
                                        "tenant_id": str(tenant.pk)}
    assert stored(tenant) == before
    assert token_calls(qbo_app) == 0


def test_declined_consent_is_a_clear_error(alice, tenant, anon_client, qbo_app):
    connected_qbo(tenant, qbo_app)
    before = stored(tenant)
    url = authorize(alice, tenant).json()["authorization_url"]
    path = consent(url, realmId="999999999")        # the sandbox answers error=access_denied for this company
    assert callback_params(path)["error"] == "access_denied"
    response = anon_client.get(path)
    assert response.status_code == 400
    assert response.json()["reason"] == "access_denied" and response.json()["status"] == "denied"
    assert "declined" in response.json()["message"]
    assert stored(tenant) == before


def test_declined_consent_returns_to_the_portal_as_denied_with_the_tenant(alice, tenant, anon_client, qbo_app):
    url = authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"]
    response = anon_client.get(consent(url, realmId="999999999"))
    assert redirect_query(response) == {"tab": "connections", "status": "denied", "code": "access_denied",
                                        "tenant_id": str(tenant.pk)}


def test_a_company_connected_to_another_tenant_is_refused_before_the_code_is_used(alice, tenant, anon_client,
                                                                                  qbo_app):
    other = TenantFactory(partner=alice.partner)
    connected_qbo(other, qbo_app)
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    assert redirect_query(anon_client.get(path))["code"] == "realm_in_use"
    assert not QboConnection.objects.filter(tenant=tenant).exists()
    assert token_calls(qbo_app) == 0


def test_switching_company_needs_a_disconnect_first(alice, tenant, anon_client, qbo_app):
    qbo_app.app.create_realm("9130355000000002", company_name="Second Co")
    connected_qbo(tenant, qbo_app)
    before = stored(tenant)
    url = authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"]
    assert redirect_query(anon_client.get(consent(url, realmId="9130355000000002")))["code"] == "realm_mismatch"
    assert stored(tenant) == before
    alice.client.delete(f"/api/v1/tenants/{tenant.id}/connections/qbo")
    url = authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"]
    assert redirect_query(anon_client.get(consent(url, realmId="9130355000000002")))["status"] == "connected"
    assert QboConnection.objects.get(tenant=tenant).realm_id == "9130355000000002"


def test_a_used_code_is_refused_by_intuit(alice, tenant, anon_client, qbo_app):
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    code = callback_params(path)["code"]
    first = anon_client.get(path)
    assert redirect_query(first)["status"] == "connected"
    QboConnection.objects.all().delete()
    path2 = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    response = anon_client.get(with_params(path2, code=code))
    assert redirect_query(response)["code"] == "code_rejected"
    assert not QboConnection.objects.filter(tenant=tenant).exists()


def test_reconnecting_the_same_company_replaces_dead_tokens(alice, tenant, anon_client, qbo_app):
    connection = connected_qbo(tenant, qbo_app)
    QboConnection.objects.filter(pk=connection.pk).update(
        status=ConnectionStatus.NEEDS_REAUTHORIZATION, status_reason="refresh token refused")
    path = consent(authorize(alice, tenant, return_url=RETURN_URL).json()["authorization_url"])
    assert redirect_query(anon_client.get(path))["status"] == "connected"
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED and connection.status_reason == ""
    assert QboTokenProvider(connection).access_token()


@pytest.mark.parametrize("return_url", [
    "https://evil.example/steal",
    "https://portal.example:8443/x",
    "http://portal.example/x",
    "javascript:alert(1)",
    "https://user:pw@portal.example/x",
    "//portal.example/x",
])
def test_a_return_url_off_the_allow_list_is_refused(alice, tenant, qbo_app, return_url):
    response = authorize(alice, tenant, return_url=return_url)
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["return_url"]
    assert not QboOAuthState.objects.exists()


def test_the_allow_list_matches_origins_loosely_but_exactly(alice, tenant, qbo_app):
    alice.partner.return_url_origins = ["https://Portal.Example:443/"]
    alice.partner.save()
    assert authorize(alice, tenant, return_url="https://portal.example/ok").status_code == 201


def test_authorize_needs_the_platform_app_to_be_configured(alice, tenant, settings):
    settings.QBO_CLIENT_ID = ""
    response = authorize(alice, tenant)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "qbo_app_not_configured"


def test_the_state_is_signed_and_carries_no_secret(alice, tenant, qbo_app):
    url = authorize(alice, tenant).json()["authorization_url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    payload = signing.loads(state, salt=qbo_authorization.STATE_SALT)
    assert payload == {"t": str(tenant.id), "n": QboOAuthState.objects.get().nonce}

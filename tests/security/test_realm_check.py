"""The QuickBooks callback trusts no realmId from the browser: the new token must read the company's
CompanyInfo before anything is stored. A tampered realmId neither connects the tenant nor blocks the
company's real owner."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from connections.clients.http import StaticTokenProvider
from connections.clients.qbo import QboClient
from connections.exceptions import QboFault
from connections.models import QboConnection
from tests.connections.support import DEFAULT_REALM
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

VICTIM_REALM = "9130355000000777"


def authorize(alice, tenant) -> str:
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/qbo/authorize", {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["authorization_url"]


def consent(authorization_url: str, **extra) -> str:
    """The customer's browser at Intuit: consent, then the redirect to our callback (path and query)."""
    if extra:
        authorization_url = f"{authorization_url}&{urlencode(extra)}"
    answer = requests.get(authorization_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    return f"{location.path}?{location.query}"


def tampered(path: str, realm_id: str) -> str:
    params = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    assert params["realmId"] != realm_id
    params["realmId"] = realm_id
    return f"/oauth/qbo/callback?{urlencode(params)}"


@pytest.fixture
def victim_realm(qbo_app):
    qbo_app.app.create_realm(VICTIM_REALM, company_name="Victim Co")
    return VICTIM_REALM


def test_a_tampered_realm_id_connects_nothing_and_does_not_block_the_owner(alice, tenant, anon_client, qbo_app,
                                                                          victim_realm):
    grants_before = set(qbo_app.app.oauth.grants)
    response = anon_client.get(tampered(consent(authorize(alice, tenant)), victim_realm))
    assert response.status_code == 400
    assert response.json()["reason"] == "realm_not_authorized"
    assert "nothing was connected" in response.json()["message"]
    assert not QboConnection.objects.filter(realm_id=victim_realm).exists()
    assert not QboConnection.objects.filter(tenant=tenant).exclude(realm_id="").exists()
    # The grant issued for the attacker's own company was revoked at once: nothing lingers.
    new_grants = [g for key, g in qbo_app.app.oauth.grants.items() if key not in grants_before]
    assert len(new_grants) == 1 and new_grants[0].revoked

    owner = TenantFactory(partner=alice.partner)
    response = anon_client.get(consent(authorize(alice, owner), realmId=victim_realm))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "connected"
    assert QboConnection.objects.get(tenant=owner).realm_id == victim_realm


def test_the_untampered_callback_still_connects(alice, tenant, anon_client, qbo_app):
    response = anon_client.get(consent(authorize(alice, tenant)))
    assert response.json()["status"] == "connected"
    assert QboConnection.objects.get(tenant=tenant).realm_id == DEFAULT_REALM
    companyinfo = [e for e in qbo_app.log.entries() if "/companyinfo/" in e["path"]]
    assert [e["status"] for e in companyinfo] == [200]


def test_a_failed_check_stores_nothing(alice, tenant, anon_client, qbo_app):
    path = consent(authorize(alice, tenant))
    qbo_app.faults.inject("503", count=20, path=".*/companyinfo/.*")
    response = anon_client.get(path)
    assert response.status_code == 400
    assert response.json()["reason"] == "realm_check_failed"
    assert not QboConnection.objects.filter(tenant=tenant).exclude(realm_id="").exists()


@pytest.mark.parametrize("realm_id", ["1" * 33, "12;DROP", "../../x"])
def test_a_realm_id_that_is_not_an_id_is_refused(alice, tenant, anon_client, qbo_app, realm_id):
    response = anon_client.get(tampered(consent(authorize(alice, tenant)), realm_id))
    assert response.status_code == 400 and response.json()["reason"] == "invalid_realm_id"


def test_the_sandbox_refuses_a_token_on_another_realm_as_qbo_does(qbo_app, victim_realm):
    """The check relies on QBO binding a token to its realm; the sandbox does it with 403 AuthorizationFailed."""
    tokens = qbo_app.app.issue_tokens(DEFAULT_REALM)
    client = QboClient(api_base=qbo_app.url, realm_id=victim_realm,
                       tokens=StaticTokenProvider(tokens["access_token"], system="qbo"))
    with pytest.raises(QboFault) as err:
        client.company_info()
    assert err.value.status == 403
    own = QboClient(api_base=qbo_app.url, realm_id=DEFAULT_REALM,
                    tokens=StaticTokenProvider(tokens["access_token"], system="qbo"))
    assert own.company_info()["CompanyName"]

"""The outbound address policy: a JAGGAER base URL can never make ml-connector call this machine or a
private network, in any spelling, at configuration time (PUT/PATCH, 400 saying what to fix) or at call
time (a refused call, code blocked_address, before any connection is attempted)."""

from __future__ import annotations

import json

import pytest
import requests

from audit.models import ApiCall
from connections.clients.calls import record_calls
from connections.clients.http import HttpClient
from connections.clients.outbound import (
    JAGGAER_POLICY,
    OutboundBlocked,
    address_problem,
    host_literal,
    normalize_host,
)
from connections.exceptions import TransportError
from connections.models import JaggaerConnection
from tests.connections.support import configured_jaggaer
from tests.security.conftest import PUBLIC_IP

pytestmark = pytest.mark.django_db

# The addresses of the issue, then their IPv6 and encoded variants. Each is refused at PUT and at call time.
SSRF_URLS = [
    "http://127.0.0.1:6379",
    "http://localhost:5432",
    "http://[::1]:8080",
    "https://169.254.169.254/latest/meta-data",
    "https://10.255.255.1",
    "https://2130706433:6379/",
    "https://0x7f000001:6379/",
    # every other spelling of loopback
    "https://127.1:6379",
    "https://0177.0.0.1",
    "https://017700000001",
    "https://0x7f.0.0.1",
    "https://127.0.0.1.",
    "https://localhost.",
    "https://LOCALHOST",
    "https://api.localhost",
    "https://[::ffff:127.0.0.1]",
    "https://[::ffff:7f00:1]",
    "https://[0:0:0:0:0:ffff:7f00:1]",
    "https://[::127.0.0.1]",
    # private, shared, link-local, unspecified, broadcast, multicast, reserved, documentation
    "https://192.168.1.10",
    "https://172.16.0.1",
    "https://3232235786",              # 192.168.1.10 as a number
    "https://100.64.0.1",
    "https://169.254.0.1",
    "https://0.0.0.0",
    "https://0",
    "https://255.255.255.255",
    "https://224.0.0.1",
    "https://240.0.0.1",
    "https://192.0.2.1",
    "https://198.18.0.1",
    "https://[fc00::1]",
    "https://[fd12:3456::1]",
    "https://[fe80::1]",
    "https://[fe80::1%25eth0]",
    "https://[::]",
    "https://[ff02::1]",
    "https://[fec0::1]",
    "https://[2001:db8::1]",
    "https://[::ffff:169.254.169.254]",
    "https://[::ffff:10.0.0.1]",
    "https://[64:ff9b::a9fe:a9fe]",    # NAT64 of 169.254.169.254
    "https://[64:ff9b::7f00:1]",       # NAT64 of 127.0.0.1
    "https://[2002:7f00:1::1]",        # 6to4 of 127.0.0.1
    # names that only mean something inside a network
    "https://redis",
    "https://metadata.google.internal",
    "https://nas.local",
    # names whose DNS answer is private (fake_dns below)
    "https://intranet.acme-corp.com",
    "https://rebound.acme-corp.com",
    "https://mixed.acme-corp.com",
]

PRIVATE_NAMES = {
    "intranet.acme-corp.com": ["10.1.2.3"],
    "rebound.acme-corp.com": ["::1"],
    "mixed.acme-corp.com": [PUBLIC_IP, "192.168.0.5"],     # one private answer is enough to refuse
}


@pytest.fixture
def dns(fake_dns):
    for name, addresses in PRIVATE_NAMES.items():
        fake_dns.add(name, addresses)
    fake_dns.add("acme.jaggaer.com", [PUBLIC_IP])
    return fake_dns


def put(alice, tenant, base_url: str):
    return alice.client.put(f"/api/v1/tenants/{tenant.id}/connections/jaggaer",
                            {"api_base_url": base_url, "client_id": "id", "client_secret": "secret"}, format="json")


@pytest.mark.parametrize("url", SSRF_URLS)
def test_put_refuses_every_private_address_in_production(alice, tenant, production, dns, url):
    response = put(alice, tenant, url)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"]["api_base_url"], error
    assert not JaggaerConnection.objects.filter(tenant=tenant).exclude(api_base_url="").exists()


@pytest.mark.parametrize("url", SSRF_URLS)
def test_a_call_to_a_private_address_is_refused_without_connecting(production, dns, dialled, url):
    http = HttpClient("jaggaer", url, max_attempts=3)
    with record_calls() as calls, pytest.raises(OutboundBlocked) as err:
        http.request("POST", "/auth/realms/J1p-integrations/protocol/openid-connect/token",
                     data={"client_secret": "never-sent"})
    assert dialled == []
    assert err.value.code == "blocked_address" and err.value.transient is False
    assert "refused before connecting" in err.value.message
    assert [(c.code, c.status, c.attempt) for c in calls] == [("blocked_address", None, 1)]


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "https://0x7f000001:6379/", "https://[::ffff:127.0.0.1]",
                                 "https://intranet.acme-corp.com"])
def test_a_stored_private_address_is_refused_at_ping_and_logged_as_such(alice, tenant, production, dns, url):
    """A row written before the policy (or by hand) is still refused when it is used."""
    JaggaerConnection.objects.create(tenant=tenant, api_base_url=url, client_id="id", client_secret="secret",
                                     status="connected")
    answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/jaggaer/ping").json()
    assert answer["ok"] is False
    assert answer["problem"]["code"] == "blocked_address"
    assert "never calls" in answer["problem"]["message"]
    stored = JaggaerConnection.objects.get(tenant=tenant)
    assert stored.last_error_code == "blocked_address" and stored.consecutive_failures >= 1
    assert list(ApiCall.objects.values_list("code", "status")) == [("blocked_address", None)]


def test_production_ignores_the_allow_private_switch(alice, tenant, settings, dns):
    settings.ENVIRONMENT = "production"
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = True
    assert put(alice, tenant, "https://127.0.0.1:8443").status_code == 400
    with pytest.raises(OutboundBlocked):
        HttpClient("jaggaer", "https://10.0.0.1").request("GET", "/x")


def test_production_calls_only_https(alice, tenant, production, dns):
    response = put(alice, tenant, "http://acme.jaggaer.com")
    assert response.status_code == 400
    assert "https://" in response.json()["error"]["fields"]["api_base_url"][0]
    with pytest.raises(OutboundBlocked) as err:
        HttpClient("jaggaer", "http://acme.jaggaer.com").request("GET", "/x")
    assert "only https://" in err.value.message


def test_a_public_host_is_accepted(alice, tenant, production, dns):
    response = put(alice, tenant, "https://acme.jaggaer.com/")
    assert response.status_code == 200, response.content
    assert response.json()["api_base_url"] == "https://acme.jaggaer.com"


def test_a_name_that_does_not_resolve_yet_is_accepted_and_the_call_says_dns(alice, tenant, production, fake_dns):
    assert put(alice, tenant, "https://jaggaer.acme-corp.com").status_code == 200
    with pytest.raises(TransportError) as err:
        HttpClient("jaggaer", "https://jaggaer.acme-corp.com", max_attempts=1).request("GET", "/x")
    assert err.value.code == "dns"


def test_the_put_error_says_what_to_fix(alice, tenant, production, dns):
    message = put(alice, tenant, "https://2130706433:6379/").json()["error"]["fields"]["api_base_url"][0]
    assert "2130706433 (127.0.0.1) is a loopback address" in message
    assert "public https:// address of your JAGGAER instance" in message
    message = put(alice, tenant, "https://intranet.acme-corp.com").json()["error"]["fields"]["api_base_url"][0]
    assert "resolves to a private address" in message and "10.1.2.3" not in message


def test_patch_is_checked_as_well(alice, tenant, production, dns):
    assert put(alice, tenant, "https://acme.jaggaer.com").status_code == 200
    response = alice.client.patch(f"/api/v1/tenants/{tenant.id}/connections/jaggaer",
                                  {"api_base_url": "https://[::1]:6379", "client_secret": "s2"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["fields"]["api_base_url"]
    assert JaggaerConnection.objects.get(tenant=tenant).api_base_url == "https://acme.jaggaer.com"


# ---------------------------------------------------------------------------- DNS rebinding


def test_the_connection_goes_to_the_address_that_was_checked(production, fake_dns, dialled):
    """First answer public, second private: one lookup per connection, and the public address is dialled."""
    fake_dns.add("rebind.jaggaer.com", [PUBLIC_IP], ["127.0.0.1"])
    http = HttpClient("jaggaer", "https://rebind.jaggaer.com", max_attempts=1)
    with pytest.raises(TransportError) as err:
        http.request("GET", "/j1p/api/public/ja/v1/companyprofiles")
    assert fake_dns.lookups == ["rebind.jaggaer.com"]
    assert dialled == [(PUBLIC_IP, 443)]
    assert err.value.code == "refused"


def test_a_name_that_turns_private_after_configuration_is_refused_at_call_time(alice, tenant, production,
                                                                                 fake_dns, dialled):
    fake_dns.add("flip.jaggaer.com", [PUBLIC_IP])
    assert put(alice, tenant, "https://flip.jaggaer.com").status_code == 200
    fake_dns.add("flip.jaggaer.com", ["10.0.0.7"])
    with pytest.raises(OutboundBlocked) as err:
        HttpClient("jaggaer", "https://flip.jaggaer.com").request("GET", "/x")
    assert "flip.jaggaer.com resolves to a private address" in err.value.message
    assert dialled == []


def test_tls_keeps_the_host_name(production, fake_dns):
    """The connection dials the checked address but verifies the certificate and sends SNI for the name."""
    from connections.clients.http import GuardedAdapter

    http = HttpClient("jaggaer", "https://acme.jaggaer.com")
    adapter = http.session.get_adapter("https://acme.jaggaer.com")
    assert isinstance(adapter, GuardedAdapter)
    pool = adapter.poolmanager.connection_from_url("https://acme.jaggaer.com/x")
    connection = pool._new_conn()
    assert connection.host == "acme.jaggaer.com" and connection.outbound_policy is JAGGAER_POLICY
    assert http.session.trust_env is False


# ---------------------------------------------------------------------------- redirects


def test_a_redirect_to_a_private_host_is_never_followed(alice, tenant, remote, fast_http):
    """In the test settings private hosts are allowed, so the redirect itself is what is refused."""
    internal = remote(lambda method, path, body: (200, {}, b'{"access_token": "internal"}'))
    redirector = remote(lambda method, path, body: (302, {"Location": f"{internal.url}/secret-place"}, b""))
    configured_jaggaer(tenant, redirector)
    answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/jaggaer/ping").json()
    assert answer["problem"]["code"] == "redirect_refused"
    assert "never follows" in answer["problem"]["message"]
    assert "secret-place" not in json.dumps(answer)
    assert internal.requests == []
    assert len(redirector.requests) == 1
    call = ApiCall.objects.get()
    assert (call.status, call.code) == (302, "redirect_refused") and "secret-place" not in call.error


def test_a_redirect_is_refused_in_production_too(production, fake_dns, monkeypatch):
    """Production mode with the DNS answer public; the answer of the (public) host is a 302 to 127.0.0.1."""
    fake_dns.add("acme.jaggaer.com", [PUBLIC_IP])

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = 302
        response.headers["Location"] = "http://127.0.0.1:6379/"
        response.request, response.url = request, request.url
        return response

    monkeypatch.setattr("requests.adapters.HTTPAdapter.send", send)
    with pytest.raises(TransportError) as err:
        HttpClient("jaggaer", "https://acme.jaggaer.com").request("GET", "/x")
    assert err.value.code == "redirect_refused" and err.value.status == 302
    assert "6379" not in err.value.message


# ---------------------------------------------------------------------------- allow-list


@pytest.mark.parametrize("url, ok", [
    ("https://acme.jaggaer.com", True),
    ("https://eu.acme.jaggaer.com", True),
    ("https://ACME.JAGGAER.COM.", True),
    ("https://jaggaer.com", False),
    ("https://jaggaer.com.evil.net", False),
    ("https://acme-jaggaer.com", False),
    ("https://evil.net", False),
])
def test_the_allow_list_is_enforced_at_configuration(alice, tenant, production, fake_dns, url, ok):
    production.JAGGAER_ALLOWED_HOSTS = ["*.jaggaer.com"]
    for name in ("acme.jaggaer.com", "eu.acme.jaggaer.com", "jaggaer.com", "jaggaer.com.evil.net",
                 "acme-jaggaer.com", "evil.net"):
        fake_dns.add(name, [PUBLIC_IP])
    response = put(alice, tenant, url)
    assert (response.status_code == 200) is ok, response.content
    if not ok:
        assert "JAGGAER_ALLOWED_HOSTS" in response.json()["error"]["fields"]["api_base_url"][0]


def test_the_allow_list_is_enforced_at_call_time(alice, tenant, production, fake_dns, dialled):
    fake_dns.add("evil.net", [PUBLIC_IP])
    assert put(alice, tenant, "https://evil.net").status_code == 200   # before the allow-list was set
    production.JAGGAER_ALLOWED_HOSTS = ["*.jaggaer.com"]
    lookups_before = fake_dns.lookups.count("evil.net")
    answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/jaggaer/ping").json()
    assert "JAGGAER_ALLOWED_HOSTS" in answer["problem"]["message"]
    assert answer["problem"]["code"] == "blocked_address"
    assert dialled == [] and fake_dns.lookups.count("evil.net") == lookups_before   # refused before any lookup


def test_the_allow_list_does_not_open_private_addresses(alice, tenant, production, fake_dns):
    production.JAGGAER_ALLOWED_HOSTS = ["*.jaggaer.com"]
    fake_dns.add("internal.jaggaer.com", ["10.9.8.7"])
    assert put(alice, tenant, "https://internal.jaggaer.com").status_code == 400


# ---------------------------------------------------------------------------- the classification itself


@pytest.mark.parametrize("host, address", [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("10.0x10.0.1", "10.16.0.1"), ("[::1]", "::1"),
    ("127.0.0.1.", "127.0.0.1"), ("[FE80::1%25en0]", "fe80::1"),
])
def test_every_spelling_of_an_address_is_read_as_that_address(host, address):
    assert str(host_literal(normalize_host(host))) == address


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "127.0.0.999", "08.0.0.1", "[::1::]"])
def test_a_broken_numeric_host_is_refused(production, host):
    assert "neither a valid host name nor a valid IP address" in JAGGAER_POLICY.host_problem("https", host)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert address_problem(host_literal(address)) is None

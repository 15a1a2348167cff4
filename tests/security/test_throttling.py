"""Throttles: per API key, per client address for failed authentication, tighter for pings and sync requests.

Counters live in the shared cache (Redis in the test settings); every test uses its own client address and
keys, and removes its counters afterwards. Rates are set low here with override_settings.
"""

import random

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from core.throttles import FailedAuthenticationThrottle
from tenants.models import PartnerAPIKey
from tests.factories import connections_stored

pytestmark = pytest.mark.django_db
URL = "/api/v1/tenants"


@pytest.fixture
def address():
    ip = f"198.51.100.{random.randint(1, 254)}"
    yield ip
    cache.delete(FailedAuthenticationThrottle.cache_format % {"scope": "auth_failures", "ident": ip})


def client_from(ip: str, key: str | None = None) -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def assert_throttled(response) -> int:
    assert response.status_code == 429, response.content
    body = response.json()["error"]
    assert body["code"] == "throttled" and "retry after" in body["message"] and body["fields"] == {}
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    return wait


def test_the_counters_are_kept_in_the_shared_cache():
    from django.core.cache import caches

    assert caches["default"].__class__.__name__ == "RedisCache"


@override_settings(API_THROTTLE_AUTH_FAILURES="10/minute")
def test_bad_api_keys_from_one_address_hit_429_early_then_even_a_good_key_waits(alice, address):
    client = client_from(address)
    statuses = []
    for n in range(300):
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key wrong{n}.{'x' * 32}")
        statuses.append(client.get(URL).status_code)
        if statuses[-1] == 429:
            break
    assert statuses == [401] * 10 + [429]
    assert_throttled(client.get(URL))
    assert_throttled(client_from(address, alice.key).get(URL))        # the address waits, whatever it sends
    assert client_from("203.0.113.7", alice.key).get(URL).status_code == 200  # other addresses are not held
    assert len(cache.get(FailedAuthenticationThrottle.cache_format % {"scope": "auth_failures", "ident": address}))


@override_settings(API_THROTTLE_AUTH_FAILURES="3/minute")
def test_requests_without_any_key_count_as_failures_too(address):
    client = client_from(address)
    answers = [client.get(URL) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 401]
    # each 401 tells the address's budget of failures
    assert [(a["RateLimit-Limit"], a["RateLimit-Remaining"]) for a in answers] == [("3", "2"), ("3", "1"), ("3", "0")]
    assert all(0 < int(a["RateLimit-Reset"]) <= 60 for a in answers)
    throttled = client.get(URL)
    assert_throttled(throttled)
    assert throttled["RateLimit-Remaining"] == "0"


@override_settings(API_THROTTLE_AUTH_FAILURES="3/minute")
def test_successful_calls_do_not_count_against_the_address(alice, address):
    client = client_from(address, alice.key)
    assert {client.get(URL).status_code for _ in range(6)} == {200}


@override_settings(API_THROTTLE_PARTNER="4/minute")
def test_each_api_key_has_its_own_budget(alice, bob, address):
    client = client_from(address, alice.key)
    assert [client.get(URL).status_code for _ in range(4)] == [200] * 4
    assert_throttled(client.get(URL))
    assert client_from(address, bob.key).get(URL).status_code == 200
    _, second_key = PartnerAPIKey.objects.create_key(partner=alice.partner, name="second")
    assert client_from(address, second_key).get(URL).status_code == 200


@override_settings(API_THROTTLE_PING="2/minute")
def test_pings_have_their_own_tighter_rate(alice, tenant, address):
    client = client_from(address, alice.key)
    url = f"{URL}/{tenant.pk}/connections/jaggaer/ping"
    assert [client.post(url).status_code for _ in range(2)] == [200, 200]
    assert_throttled(client.post(url))
    assert client.get(f"{URL}/{tenant.pk}").status_code == 200     # other calls go on


@override_settings(API_THROTTLE_SYNC="1/minute")
def test_sync_requests_have_their_own_tighter_rate(alice, tenant, address):
    connections_stored(tenant)
    client = client_from(address, alice.key)
    url = f"{URL}/{tenant.pk}/syncs"
    assert client.post(url, {}, format="json").status_code == 202
    assert_throttled(client.post(url, {}, format="json"))
    assert client.get(url).status_code == 200                      # following a run is not starting one
    replay = client.post(f"{URL}/{tenant.pk}/records/purchase_orders/PO-1/replay")
    assert_throttled(replay)                                       # replays share the sync budget

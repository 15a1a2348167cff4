from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import PartnerAPIKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants"


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) >= {"code", "message", "fields"}
    return body["error"]


def test_it_answers_401_without_a_key(anon_client):
    response = anon_client.get(URL)
    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"
    assert "Api-Key" in response["WWW-Authenticate"]


@pytest.mark.parametrize("header", ["Bearer abc", "Api-Key", "Api-Key not-a-key", "Api-Key abc.def"])
def test_it_answers_401_for_a_malformed_or_unknown_key(alice, header):
    response = _client(header).get(URL)
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_api_key"


def test_it_answers_401_for_a_key_with_the_right_prefix_but_wrong_secret(alice):
    prefix = alice.key.partition(".")[0]
    response = _client(f"Api-Key {prefix}.wrongsecretwrongsecretwrongsecret").get(URL)
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_api_key"


def test_it_answers_401_for_a_revoked_key(alice):
    PartnerAPIKey.objects.filter(partner=alice.partner).update(revoked=True)
    response = alice.client.get(URL)
    assert response.status_code == 401
    error = _error(response)
    assert error["code"] == "api_key_revoked"
    assert "revoked" in error["message"]


def test_it_answers_401_for_an_expired_key(alice):
    PartnerAPIKey.objects.filter(partner=alice.partner).update(expiry_date=timezone.now() - timedelta(minutes=1))
    response = alice.client.get(URL)
    assert response.status_code == 401
    assert _error(response)["code"] == "api_key_expired"


def test_a_key_with_a_future_expiry_still_works(alice):
    PartnerAPIKey.objects.filter(partner=alice.partner).update(expiry_date=timezone.now() + timedelta(days=1))
    assert alice.client.get(URL).status_code == 200


def test_it_answers_403_for_a_disabled_partner(alice):
    alice.partner.is_active = False
    alice.partner.save()
    response = alice.client.get(URL)
    assert response.status_code == 403
    assert _error(response)["code"] == "permission_denied"


def test_the_key_is_stored_hashed(alice):
    stored = PartnerAPIKey.objects.get(partner=alice.partner)
    secret = alice.key.partition(".")[2]
    assert secret not in stored.hashed_key
    assert secret not in stored.id

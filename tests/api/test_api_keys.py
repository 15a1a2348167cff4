"""A partner rotates its own keys: add one (shown once), list them, revoke the old one; capped and audited."""

import pytest
from rest_framework.test import APIClient

from audit.models import Action
from tenants.models import PartnerAPIKey

pytestmark = pytest.mark.django_db
URL = "/api/v1/api-keys"


def _client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_rotation_add_list_move_revoke(alice, bob):
    added = alice.client.post(URL, {"name": "production 2026"}, format="json")
    assert added.status_code == 201, added.content
    new = added.json()
    assert new["key"].startswith(new["prefix"] + ".") and new["current"] is False
    assert Action.objects.get(action="api_key.create").after["prefix"] == new["prefix"]

    listed = alice.client.get(URL).json()
    assert [k["name"] for k in listed] == ["production 2026", "Alice Portal key"]
    old = listed[1]
    assert old["current"] is True and old["last_used_at"].endswith("Z") and old["id"] == old["prefix"]
    assert "key" not in old and all("hashed" not in field for field in old)
    assert len(bob.client.get(URL).json()) == 1                    # another partner's keys never show

    moved = _client(new["key"])
    revoked = moved.post(f"{URL}/{old['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert alice.client.get(URL).status_code == 401                 # the old key stopped working
    assert moved.get(URL).status_code == 200
    audit_row = Action.objects.get(action="api_key.revoke")
    assert audit_row.data["prefix"] == old["prefix"] and audit_row.actor_label.startswith(f"api-key:{new['prefix']}")


def test_the_last_active_key_cannot_revoke_itself(alice):
    own = alice.client.get(URL).json()[0]
    refused = alice.client.post(f"{URL}/{own['id']}/revoke")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "last_api_key"
    assert alice.client.get(URL).status_code == 200


def test_at_most_n_active_keys(alice, settings):
    settings.PARTNER_MAX_ACTIVE_KEYS = 2
    assert alice.client.post(URL, {"name": "second"}, format="json").status_code == 201
    third = alice.client.post(URL, {"name": "third"}, format="json")
    assert third.status_code == 409 and third.json()["error"]["code"] == "too_many_api_keys"
    assert PartnerAPIKey.objects.filter(partner=alice.partner).count() == 2


def test_another_partners_key_is_a_404(alice, bob):
    theirs = bob.client.get(URL).json()[0]
    assert alice.client.post(f"{URL}/{theirs['id']}/revoke").status_code == 404
    assert not PartnerAPIKey.objects.get(prefix=theirs["id"]).revoked

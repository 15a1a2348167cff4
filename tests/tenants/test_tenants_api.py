import pytest

from tenants.models import Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants"


def test_a_partner_onboards_a_tenant(alice):
    response = alice.client.post(
        URL, {"name": "Dayton Castings", "slug": "dayton-castings", "time_zone": "America/New_York",
              "sync_hour": 3}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Dayton Castings"
    assert body["is_active"] is True
    assert Tenant.objects.get(pk=body["id"]).partner == alice.partner


def test_it_lists_only_the_partners_tenants_paginated(alice, bob, outsider_tenant):
    TenantFactory.create_batch(3, partner=alice.partner)
    response = alice.client.get(URL, {"page_size": 2})
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]
    assert outsider_tenant.slug not in {row["slug"] for row in body["results"]}


def test_it_filters_tenants(alice):
    TenantFactory(partner=alice.partner, name="Ohio Foundry", slug="ohio")
    TenantFactory(partner=alice.partner, name="Texas Plastics", slug="texas", is_active=False)
    assert [t["slug"] for t in alice.client.get(URL, {"name": "foundry"}).json()["results"]] == ["ohio"]
    assert [t["slug"] for t in alice.client.get(URL, {"is_active": "false"}).json()["results"]] == ["texas"]


def test_it_updates_and_deactivates_a_tenant(alice, tenant):
    response = alice.client.patch(f"{URL}/{tenant.id}", {"sync_hour": 5}, format="json")
    assert response.status_code == 200
    assert response.json()["sync_hour"] == 5
    response = alice.client.post(f"{URL}/{tenant.id}/deactivate")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    tenant.refresh_from_db()
    assert tenant.is_active is False
    assert alice.client.post(f"{URL}/{tenant.id}/activate").json()["is_active"] is True


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"slug": "x"}, "name"),
        ({"name": "X"}, "slug"),
        ({"name": "X", "slug": "has spaces"}, "slug"),
        ({"name": "X", "slug": "x", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "X", "slug": "x", "sync_hour": 24}, "sync_hour"),
        ({"name": "X", "slug": "x", "sync_hour": "noon"}, "sync_hour"),
    ],
)
def test_it_explains_each_invalid_field(alice, payload, field):
    response = alice.client.post(URL, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert field in error["message"]


def test_slugs_are_per_partner_another_partners_slug_is_free_and_never_confirmed(alice, outsider_tenant):
    response = alice.client.post(URL, {"name": "X", "slug": outsider_tenant.slug}, format="json")
    assert response.status_code == 201
    again = alice.client.post(URL, {"name": "Y", "slug": outsider_tenant.slug}, format="json")
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "slug_taken" and "slug" in error["fields"] and "You already have" in error["message"]


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"a string"', "application/json"),
        ("null", "application/json"),
        ("\xff\xfe", "application/json"),
        ('{"name": {"nested": true}, "slug": ["a"]}', "application/json"),
    ],
)
def test_a_malformed_body_is_a_400_never_a_500(alice, body, content_type):
    response = alice.client.generic("POST", URL, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"malformed_body", "validation_error"}


def test_a_non_json_body_is_a_415(alice):
    response = alice.client.generic("POST", URL, "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_an_unknown_tenant_id_is_a_404(alice):
    for tenant_id in ["00000000-0000-0000-0000-000000000000", "not-a-uuid"]:
        response = alice.client.get(f"{URL}/{tenant_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_address_is_a_json_404(alice):
    response = alice.client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_changing_the_hour_or_zone_makes_the_scheduler_recompute(alice, tenant):
    from django.utils import timezone

    Tenant.objects.filter(pk=tenant.pk).update(next_sync_at=timezone.now())
    alice.client.patch(f"{URL}/{tenant.id}", {"name": "Renamed"}, format="json")
    tenant.refresh_from_db()
    assert tenant.next_sync_at is not None
    response = alice.client.patch(f"{URL}/{tenant.id}", {"time_zone": "Europe/Berlin"}, format="json")
    assert response.status_code == 200
    tenant.refresh_from_db()
    assert tenant.next_sync_at is None


def test_a_partner_pauses_the_daily_schedule(alice, tenant):
    response = alice.client.patch(f"{URL}/{tenant.id}", {"schedule_paused": True}, format="json")
    assert response.status_code == 200
    assert response.json()["schedule_paused"] is True


def test_resuming_the_schedule_recomputes_the_next_run_as_in_the_admin(alice, tenant):
    """A date left over from before the pause would fire at once: the service (API and admin) clears it."""
    from django.utils import timezone

    Tenant.objects.filter(pk=tenant.pk).update(schedule_paused=True, next_sync_at=timezone.now())
    alice.client.patch(f"{URL}/{tenant.id}", {"schedule_paused": True, "name": "Still paused"}, format="json")
    tenant.refresh_from_db()
    assert tenant.next_sync_at is not None
    response = alice.client.patch(f"{URL}/{tenant.id}", {"schedule_paused": False}, format="json")
    assert response.status_code == 200 and response.json()["next_sync_at"] is None


@pytest.mark.parametrize("query", ["name=a%00b", "slug=%00"])
def test_a_nul_in_the_query_string_is_a_400(alice, query):
    response = alice.client.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_characters"


def test_a_nul_in_a_json_string_is_a_400_not_a_database_error(alice):
    response = alice.client.generic("POST", URL, '{"name": "A\\u0000B", "slug": "nul"}',
                                    content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    assert not Tenant.objects.filter(slug="nul").exists()

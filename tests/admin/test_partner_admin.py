"""Partners, their API keys and tenants written from the admin and the command go through the tenants
services, each into the people audit (never a key)."""

import io

import pytest
from django.core.management import call_command

from audit.models import Action
from tenants.models import Partner, PartnerAPIKey, Tenant
from tests.admin.test_tenants_admin import messages_of

pytestmark = pytest.mark.django_db


def test_a_partner_added_and_changed_in_the_admin_is_audited_and_gets_no_key(superuser_client):
    response = superuser_client.post("/admin/tenants/partner/add/",
                                     {"name": "Initech", "is_active": "on", "return_url_origins": "[]"})
    assert response.status_code == 302, response.content[:2000]
    partner = Partner.objects.get(name="Initech")
    assert not PartnerAPIKey.objects.filter(partner=partner).exists()
    created = Action.objects.get(action="partner.create")
    assert (created.actor_label, created.target_id) == ("root", str(partner.pk))
    assert created.after == {"name": "Initech", "is_active": True, "return_url_origins": [], "api_key_prefix": None}

    response = superuser_client.post(f"/admin/tenants/partner/{partner.pk}/change/",
                                     {"name": "Initech", "return_url_origins": '["https://portal.initech.example"]'})
    assert response.status_code == 302, response.content[:2000]
    partner.refresh_from_db()
    assert partner.is_active is False
    changed = Action.objects.get(action="partner.update")
    assert changed.before == {"is_active": True, "return_url_origins": []}
    assert changed.after == {"is_active": False, "return_url_origins": ["https://portal.initech.example"]}


def test_an_api_key_added_in_the_admin_is_shown_once_and_audited_by_prefix_and_its_revocation_too(
        superuser_client, alice):
    response = superuser_client.post("/admin/tenants/partnerapikey/add/",
                                     {"name": "second key", "partner": alice.partner.pk}, follow=True)
    assert response.status_code == 200
    api_key = PartnerAPIKey.objects.get(name="second key")
    shown = [m for m in messages_of(response) if "The API key for second key is" in m]
    assert len(shown) == 1 and api_key.prefix in shown[0]
    key = shown[0].split(" is: ", 1)[1].split(". ", 1)[0]
    assert PartnerAPIKey.objects.is_valid(key)
    created = Action.objects.get(action="api_key.create")
    assert created.after["prefix"] == api_key.prefix and created.after["partner"] == str(alice.partner.pk)
    assert key not in str(created.after) and key.split(".")[1] not in str(created.__dict__)

    response = superuser_client.post(f"/admin/tenants/partnerapikey/{api_key.pk}/change/",
                                     {"name": "second key", "partner": alice.partner.pk, "revoked": "on"})
    assert response.status_code == 302, response.content[:2000]
    assert PartnerAPIKey.objects.get(pk=api_key.pk).revoked is True
    revoked = Action.objects.get(action="api_key.revoke")
    assert (revoked.before, revoked.after, revoked.actor_label) == ({"revoked": False}, {"revoked": True}, "root")


def test_a_tenant_added_in_the_admin_goes_through_tenant_create(superuser_client, alice):
    response = superuser_client.post("/admin/tenants/tenant/add/", {
        "partner": alice.partner.pk, "name": "Globex", "slug": "globex", "time_zone": "Europe/Berlin",
        "sync_hour": 4, "is_active": "on"})
    assert response.status_code == 302, response.content[:2000]
    tenant = Tenant.objects.get(slug="globex")
    assert (tenant.partner, tenant.time_zone, tenant.sync_hour) == (alice.partner, "Europe/Berlin", 4)
    row = Action.objects.get(action="tenant.create")
    assert (row.tenant_id, row.actor_label, row.after["slug"], row.after["partner"]) == (
        tenant.pk, "root", "globex", str(alice.partner.pk))


def test_create_partner_is_audited_with_the_command_as_actor():
    out = io.StringIO()
    call_command("create_partner", "Hooli", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    row = Action.objects.get(action="partner.create")
    assert (row.actor_kind, row.actor_label) == ("system", "manage.py create_partner")
    assert row.after["api_key_prefix"] == key.split(".")[0] and key not in str(row.after)


def test_deleting_a_key_a_tenant_and_a_partner_in_the_admin_is_audited(superuser_client, alice, tenant):
    api_key, _ = PartnerAPIKey.objects.create_key(partner=alice.partner, name="old key")
    response = superuser_client.post(f"/admin/tenants/partnerapikey/{api_key.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not PartnerAPIKey.objects.filter(pk=api_key.pk).exists()
    row = Action.objects.get(action="api_key.delete")
    assert (row.target_id, row.data["prefix"], row.actor_label) == (api_key.pk, api_key.prefix, "root")

    response = superuser_client.post("/admin/tenants/tenant/", {"action": "delete_selected", "post": "yes",
                                                                "_selected_action": [tenant.pk]})
    assert response.status_code == 302 and not Tenant.objects.filter(pk=tenant.pk).exists()
    row = Action.objects.get(action="tenant.delete")
    assert (row.tenant_id, row.target_id, row.before["slug"]) == (None, str(tenant.pk), tenant.slug)

    response = superuser_client.post(f"/admin/tenants/partner/{alice.partner.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Partner.objects.filter(pk=alice.partner.pk).exists()
    assert Action.objects.get(action="partner.delete").before["name"] == alice.partner.name

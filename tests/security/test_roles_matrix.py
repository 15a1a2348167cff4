"""Least privilege: the roles `setup_roles` makes, asserted from the groups themselves and the admin's behaviour,
and README's "Who can do what" matrix kept equal to them."""

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command

from tenants.management.commands.setup_roles import ADMIN, APPS, READ_ONLY
from tenants.models import Partner, PartnerAPIKey
from tests.factories import PartnerFactory, TenantFactory

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "pw-roles-matrix-1"
ACTIONS = ("view", "add", "change", "delete")


def admin_models() -> list[str]:
    return sorted(f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry
                  if m._meta.app_label in APPS)


def granted(role: str) -> dict[str, set[str]]:
    """{"app.model": {"view", "change"}} from the group's permissions."""
    found: dict[str, set[str]] = {}
    for app_label, codename in Group.objects.get(name=role).permissions.values_list("content_type__app_label",
                                                                                     "codename"):
        action, _, model = codename.partition("_")
        found.setdefault(f"{app_label}.{model}", set()).add(action)
    return found


def readme_matrix() -> dict[str, tuple[str, str]]:
    section = README.read_text().split("### Who can do what", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| ([^|]+) \| ([^|]+) \|", section, re.MULTILINE)
    return {model: (read_only.strip(), support_admin.strip()) for model, read_only, support_admin in rows}


def cell(actions: set[str]) -> str:
    return ", ".join(a for a in ACTIONS if a in actions) or "none"


@pytest.fixture
def roles(db):
    call_command("setup_roles", verbosity=0)


def staff(client, django_user_model, username, *, role=None, superuser=False):
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True, is_superuser=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    assert client.login(username=username, password=PASSWORD)
    return client


def test_the_roles_grant_exactly_the_matrix(roles):
    read_only, support_admin = granted(READ_ONLY), granted(ADMIN)
    models = admin_models()
    assert set(read_only) == set(models)                    # every page of the console, nothing else
    assert set(support_admin) == set(models)
    for model in models:
        assert read_only[model] == {"view"}, model
        expected = {"view"} if model in {"tenants.partner", "tenants.partnerapikey"} else {"view", "change"}
        assert support_admin[model] == expected, model
    assert not any(a & {"add", "delete"} for a in [*read_only.values(), *support_admin.values()])


def test_readme_documents_the_same_matrix(roles):
    documented = readme_matrix()
    assert sorted(documented) == admin_models()
    read_only, support_admin = granted(READ_ONLY), granted(ADMIN)
    for model, (ro_cell, admin_cell) in documented.items():
        assert ro_cell == cell(read_only.get(model, set())), model
        assert admin_cell == cell(support_admin.get(model, set())), model


def _tenant_form(client, tenant) -> tuple[dict, str]:
    response = client.get(f"/admin/tenants/tenant/{tenant.pk}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    return {k: ("" if v is None else v) for k, v in data.items()}, response.content.decode()


def test_support_admin_cannot_move_a_tenant_to_another_partner(client, django_user_model, roles):
    tenant = TenantFactory()
    other = PartnerFactory(name="Elsewhere")
    client = staff(client, django_user_model, "ada", role=ADMIN)
    data, html = _tenant_form(client, tenant)
    assert "partner" not in data and 'name="partner"' not in html and tenant.partner.name in html
    data.update(partner=str(other.pk), name="Renamed")
    client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", data)
    tenant.refresh_from_db()
    assert tenant.name == "Renamed"                         # the rest of the form still works
    assert tenant.partner_id != other.pk


def test_a_superuser_can_move_a_tenant(client, django_user_model):
    tenant = TenantFactory()
    other = PartnerFactory(name="Elsewhere")
    client = staff(client, django_user_model, "root", superuser=True)
    data, html = _tenant_form(client, tenant)
    assert 'name="partner"' in html
    data["partner"] = str(other.pk)
    assert client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", data).status_code == 302
    tenant.refresh_from_db()
    assert tenant.partner_id == other.pk


@pytest.mark.parametrize("role", [READ_ONLY, ADMIN])
def test_support_roles_cannot_change_partners_origins_or_api_keys(client, django_user_model, roles, role):
    partner = PartnerFactory(name="Portal", return_url_origins=["https://portal.example"])
    key, _ = PartnerAPIKey.objects.create_key(partner=partner, name="portal key")
    client = staff(client, django_user_model, "support", role=role)
    page = client.get(f"/admin/tenants/partner/{partner.pk}/change/")
    assert page.status_code == 200 and 'name="return_url_origins"' not in page.content.decode()
    answer = client.post(f"/admin/tenants/partner/{partner.pk}/change/",
                         {"name": "Portal", "is_active": "on", "return_url_origins": '["https://evil.example"]'})
    assert answer.status_code == 403
    assert Partner.objects.get(pk=partner.pk).return_url_origins == ["https://portal.example"]
    assert client.get("/admin/tenants/partner/add/").status_code == 403
    assert client.get("/admin/tenants/partnerapikey/add/").status_code == 403
    assert client.post(f"/admin/tenants/partnerapikey/{key.pk}/change/",
                       {"name": "renamed", "partner": str(partner.pk), "revoked": "on"}).status_code == 403
    key.refresh_from_db()
    assert key.name == "portal key" and not key.revoked
    assert client.post(f"/admin/tenants/partnerapikey/{key.pk}/delete/", {"post": "yes"}).status_code == 403


def test_read_only_support_changes_no_tenant(client, django_user_model, roles):
    tenant = TenantFactory(name="Steady")
    client = staff(client, django_user_model, "rita", role=READ_ONLY)
    assert client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", {"name": "Changed"}).status_code == 403
    tenant.refresh_from_db()
    assert tenant.name == "Steady"


def test_setup_roles_takes_back_a_permission_added_by_hand(roles):
    from django.contrib.auth.models import Permission

    group = Group.objects.get(name=ADMIN)
    group.permissions.add(Permission.objects.get(codename="change_partner"))
    call_command("setup_roles", verbosity=0)
    assert "partner" not in {m.split(".")[1] for m, a in granted(ADMIN).items() if "change" in a}

"""Staff roles: read-only support sees everything and changes nothing; support admins act."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from audit.models import Action
from sync.models import Mapping, SyncRun
from tests.admin.support import populate

pytestmark = pytest.mark.django_db

ACTIONS = {"/admin/tenants/tenant/": {"ping_connections", "sync_now", "pause_schedule", "resume_schedule"},
           "/admin/audit/recordevent/": {"replay"}, "/admin/sync/hold/": {"replay"},
           "/admin/sync/syncrun/": {"cancel"}, "/admin/connections/qboconnection/": {"ping", "refresh_now",
                                                                                     "disconnect"}}


def offered_actions(client, url) -> set[str]:
    form = client.get(url).context.get("action_form")
    return {value for value, _ in form.fields["action"].choices if value} if form else set()


def test_setup_roles_is_idempotent_and_puts_back_what_was_removed(roles):
    read_only = Group.objects.get(name="Support (read-only)")
    codenames = set(read_only.permissions.values_list("codename", flat=True))
    assert "view_tenant" in codenames and "view_recordevent" in codenames
    assert not [c for c in codenames if not c.startswith("view_")]
    admin_perms = set(Group.objects.get(name="Support admin").permissions.values_list("codename", flat=True))
    assert {"change_mapping", "change_tenant", "change_hold", "view_action"} <= admin_perms
    assert not [c for c in admin_perms if c.startswith(("add_", "delete_"))]
    read_only.permissions.clear()
    call_command("setup_roles", verbosity=0)
    assert set(read_only.permissions.values_list("codename", flat=True)) == codenames
    assert Group.objects.filter(name__startswith="Support").count() == 2


def test_read_only_support_sees_every_page_but_no_action_that_changes_things(read_only_client, tenant):
    populate(tenant)
    for url in [*ACTIONS, "/admin/sync/mapping/", "/admin/audit/action/", "/admin/audit/apicall/",
                reverse("admin:tenants_tenant_dashboard", args=[tenant.pk]),
                reverse("admin:sync_mapping_tenant", args=[tenant.pk])]:
        assert read_only_client.get(url).status_code == 200, url
    for url in ACTIONS:
        assert offered_actions(read_only_client, url) == set(), url


def test_read_only_support_cannot_act_even_by_posting(read_only_client, tenant):
    populate(tenant)
    runs = SyncRun.objects.count()
    read_only_client.post("/admin/tenants/tenant/", {"action": "sync_now", "_selected_action": [tenant.pk]})
    read_only_client.post("/admin/tenants/tenant/", {"action": "pause_schedule", "_selected_action": [tenant.pk]})
    tenant.refresh_from_db()
    assert SyncRun.objects.count() == runs and tenant.schedule_paused is False
    page = reverse("admin:sync_mapping_tenant", args=[tenant.pk])
    html = read_only_client.get(page).content.decode()
    assert 'value="Save mappings"' not in html and 'disabled' in html
    assert read_only_client.post(page, {"form-TOTAL_FORMS": "0", "form-INITIAL_FORMS": "0"}).status_code == 403
    assert read_only_client.get(reverse("admin:tenants_tenant_qbo_authorize", args=[tenant.pk])).status_code == 403
    assert read_only_client.post(reverse("admin:tenants_tenant_qbo_authorize", args=[tenant.pk])).status_code == 403
    assert Action.objects.exclude(actor_kind="system").count() == 0
    assert Mapping.objects.filter(source="person").count() == 0


def test_support_admins_get_the_actions(support_admin_client, tenant):
    populate(tenant)
    for url, expected in ACTIONS.items():
        assert offered_actions(support_admin_client, url) >= expected, url
    support_admin_client.post("/admin/tenants/tenant/", {"action": "pause_schedule", "_selected_action": [tenant.pk]})
    tenant.refresh_from_db()
    assert tenant.schedule_paused is True
    assert Action.objects.get(action="tenant.schedule.update").actor_label == "ada"


def test_staff_without_a_role_sees_nothing(client, django_user_model, tenant):
    django_user_model.objects.create_user("nobody", password="pw-nobody-1", is_staff=True)
    client.login(username="nobody", password="pw-nobody-1")
    assert client.get("/admin/tenants/tenant/").status_code == 403
    assert client.get(reverse("admin:tenants_tenant_dashboard", args=[tenant.pk])).status_code == 403

"""The tenants list of the support console: badges, last run, held count, actions and re-authorization."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from connections.models import ConnectionStatus, QboConnection
from sync.models import SyncLease, SyncRun
from tenants.models import Tenant
from tests.admin.support import populate
from tests.connections.support import configured_jaggaer, connected_qbo

pytestmark = pytest.mark.django_db
LIST = "/admin/tenants/tenant/"


def act(client, action: str, *tenants):
    return client.post(LIST, {"action": action, "_selected_action": [t.pk for t in tenants]}, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_list_shows_both_connections_the_last_run_and_the_held_count(superuser_client, tenant):
    populate(tenant, n=3)
    QboConnection.objects.filter(tenant=tenant).update(status=ConnectionStatus.NEEDS_REAUTHORIZATION)
    last = SyncRun.objects.for_tenant(tenant).order_by("-created_at").first()
    html = superuser_client.get(LIST).content.decode()
    assert "needs reauthorization" in html and ">connected<" in html
    assert reverse("admin:tenants_tenant_qbo_authorize", args=[tenant.pk]) in html
    assert reverse("admin:sync_syncrun_change", args=[last.pk]) in html
    held_link = reverse("admin:sync_hold_changelist") + f"?tenant__id__exact={tenant.pk}"
    assert f'<a href="{held_link}">3</a>' in html


def test_the_reauthorize_link_shows_only_where_quickbooks_needs_it(superuser_client, tenant):
    populate(tenant)
    html = superuser_client.get(LIST).content.decode()
    assert "mlc-reauthorize" not in html
    response = superuser_client.get(LIST + "?connections=reauthorize")
    assert list(response.context["cl"].result_list) == []


def test_filters_find_tenants_that_need_attention_or_hold_records(superuser_client, tenant, outsider_tenant):
    populate(tenant)
    response = superuser_client.get(LIST + "?held=yes")
    assert [t.pk for t in response.context["cl"].result_list] == [tenant.pk]
    response = superuser_client.get(LIST + "?connections=attention")
    assert [t.pk for t in response.context["cl"].result_list] == [outsider_tenant.pk]


def test_sync_now_queues_a_run_and_says_so_politely_when_one_is_running(superuser_client, tenant):
    response = act(superuser_client, "sync_now", tenant)
    run = SyncRun.objects.get(tenant=tenant)
    assert run.status == "queued" and SyncLease.objects.get(tenant=tenant).run_id == run.pk
    assert any("sync queued" in m for m in messages_of(response))
    response = act(superuser_client, "sync_now", tenant)
    assert response.status_code == 200
    assert any("already queued or running" in m and str(run.pk) in m for m in messages_of(response))
    assert SyncRun.objects.filter(tenant=tenant).count() == 1
    action = Action.objects.get(action="sync.request")      # the code the API writes for the same act
    assert action.actor_label == "root" and action.actor_kind == "staff_user" and action.tenant_id == tenant.pk
    assert (action.target_type, action.target_id) == ("sync_run", str(run.pk))


def test_pause_and_resume_the_daily_sync(superuser_client, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(next_sync_at=timezone.now() - dt.timedelta(days=3))
    act(superuser_client, "pause_schedule", tenant)
    tenant.refresh_from_db()
    assert tenant.schedule_paused is True
    act(superuser_client, "resume_schedule", tenant)
    tenant.refresh_from_db()
    assert tenant.schedule_paused is False and tenant.next_sync_at is None   # recomputed, not fired at once
    rows = list(Action.objects.filter(tenant=tenant).order_by("created_at", "id").values_list("action", "before",
                                                                                             "after"))
    assert rows == [("tenant.schedule.update", {"schedule_paused": False}, {"schedule_paused": True}),
                    ("tenant.schedule.update", {"schedule_paused": True}, {"schedule_paused": False})]


def test_ping_connections_pings_both_sides(superuser_client, tenant, jaggaer_app, qbo_app, secret_guard):
    configured_jaggaer(tenant, jaggaer_app)
    connected_qbo(tenant, qbo_app)
    response = act(superuser_client, "ping_connections", tenant)
    assert sum("answered" in m for m in messages_of(response)) == 2
    tenant.refresh_from_db()
    assert tenant.jaggaer_connection.last_ping_ok is True and tenant.qbo_connection.last_ping_ok is True
    pings = Action.objects.filter(tenant=tenant, action="connection.ping").values_list("target_id", "after",
                                                                              "actor_kind")
    assert sorted(pings) == [("jaggaer", {"ok": True}, "staff_user"), ("qbo", {"ok": True}, "staff_user")]


def test_ping_reports_a_side_that_fails(superuser_client, tenant, jaggaer_app, qbo_app):
    configured_jaggaer(tenant, jaggaer_app, client_secret="not-the-secret")
    response = act(superuser_client, "ping_connections", tenant)
    warnings = [m for m in messages_of(response) if "answered" not in m]
    assert len(warnings) == 2        # JAGGAER refuses the secret; QuickBooks is not connected


def test_reauthorize_redirects_to_intuit_with_a_state_for_this_tenant(superuser_client, tenant, qbo_app):
    url = reverse("admin:tenants_tenant_qbo_authorize", args=[tenant.pk])
    page = superuser_client.get(url)       # a GET only shows the confirmation form: no state, no audit row
    assert page.status_code == 200 and 'method="post"' in page.content.decode()
    assert not Action.objects.filter(action="connection.qbo.authorize").exists()
    response = superuser_client.post(url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert response["Location"].startswith(qbo_app.url)
    assert parse_qs(location.query)["state"][0]
    assert Action.objects.get(action="connection.qbo.authorize").tenant_id == tenant.pk


def test_reauthorize_says_what_is_wrong_when_the_platform_app_is_not_configured(superuser_client, tenant, settings):
    settings.QBO_CLIENT_ID = ""
    response = superuser_client.post(reverse("admin:tenants_tenant_qbo_authorize", args=[tenant.pk]), follow=True)
    assert any("QuickBooks app is not configured" in m for m in messages_of(response))


def test_the_quickbooks_connections_list_links_to_reauthorization_where_needed(superuser_client, tenant,
                                                                               outsider_tenant):
    populate(tenant)
    populate(outsider_tenant)
    QboConnection.objects.filter(tenant=tenant).update(status=ConnectionStatus.NEEDS_REAUTHORIZATION,
                                                       last_error_code="invalid_grant")
    html = superuser_client.get("/admin/connections/qboconnection/").content.decode()
    assert reverse("admin:tenants_tenant_qbo_authorize", args=[tenant.pk]) in html
    assert reverse("admin:tenants_tenant_qbo_authorize", args=[outsider_tenant.pk]) not in html
    assert "invalid_grant" in html


def test_editing_a_tenant_reschedules_on_a_new_hour_and_is_audited(superuser_client, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(next_sync_at=timezone.now() + dt.timedelta(hours=5))
    page = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    form = superuser_client.get(page).context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(partner=tenant.partner_id, sync_hour=6, is_active="on")
    data = {k: v for k, v in data.items() if v not in (None, False)}
    response = superuser_client.post(page, data)
    assert response.status_code == 302, response.content[:2000]
    tenant.refresh_from_db()
    assert tenant.sync_hour == 6 and tenant.next_sync_at is None
    action = Action.objects.get(action="tenant.schedule.update")    # the hour is part of the schedule
    assert (action.before, action.after, action.actor_label) == ({"sync_hour": 2}, {"sync_hour": 6}, "root")

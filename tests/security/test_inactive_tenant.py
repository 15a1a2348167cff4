"""A deactivated tenant: no run, replay, ping, webhook or CDC work, schedule, queued run or `manage.py sync`."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import ApiCall
from connections.models import JaggaerConnection, QboConnection
from sync.models import Cursor, Hold, SyncRun
from sync.qbo_changes.services import qbo_changes_apply, qbo_changes_reconcile
from sync.runs.lifecycle import sync_request, sync_run_perform
from sync.runs.schedule import dispatch_due_syncs
from tests.admin.support import populate
from tests.connections.support import configured_jaggaer, connected_qbo, fast_http, jaggaer_app, qbo_app  # noqa: F401,F811
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/tenants"


@pytest.fixture
def inactive(alice):
    tenant = TenantFactory(partner=alice.partner, slug="closed-down")
    populate(tenant)
    tenant.is_active = False
    tenant.save()
    return tenant


def refused(response) -> None:
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "tenant_inactive" and "deactivated" in error["message"] and "activate" in error["message"]


def test_no_run_is_started_through_the_api(alice, inactive):
    refused(alice.client.post(f"{URL}/{inactive.pk}/syncs", {}, format="json"))
    assert not SyncRun.objects.filter(tenant=inactive, trigger=SyncRun.Trigger.API,
                                      status=SyncRun.Status.QUEUED).exists()
    assert SyncRun.objects.filter(tenant=inactive).count() == 1  # only the finished run populate() made


def test_no_replay_of_a_record_or_of_a_run(alice, inactive):
    runs = SyncRun.objects.filter(tenant=inactive).count()
    refused(alice.client.post(f"{URL}/{inactive.pk}/records/purchase_orders/PO-1/replay"))
    origin = SyncRun.objects.filter(tenant=inactive).first()
    refused(alice.client.post(f"{URL}/{inactive.pk}/syncs/{origin.pk}/replay-failed"))
    assert SyncRun.objects.filter(tenant=inactive).count() == runs


@pytest.mark.parametrize("system", ["jaggaer", "qbo"])
def test_no_ping(alice, inactive, system):
    calls = ApiCall.objects.filter(tenant=inactive).count()
    refused(alice.client.post(f"{URL}/{inactive.pk}/connections/{system}/ping"))
    assert ApiCall.objects.filter(tenant=inactive).count() == calls
    assert JaggaerConnection.objects.get(tenant=inactive).last_ping_at is None


def test_reactivating_lets_runs_start_again(alice, inactive):
    alice.client.post(f"{URL}/{inactive.pk}/activate")
    assert alice.client.post(f"{URL}/{inactive.pk}/syncs", {}, format="json").status_code == 202


def test_the_schedule_skips_it(inactive):
    active = TenantFactory(partner=inactive.partner, slug="still-open")
    populate(active)
    past = timezone.now() - dt.timedelta(minutes=5)
    for tenant in (inactive, active):
        tenant.next_sync_at = past
        tenant.save()
    SyncRun.objects.all().delete()
    result = dispatch_due_syncs()
    assert result["due"] == 1
    assert set(SyncRun.objects.values_list("tenant_id", flat=True)) == {active.pk}


def test_a_run_queued_before_the_deactivation_does_not_start(alice, tenant):
    populate(tenant)
    run = sync_request(tenant=tenant, enqueue=False)
    tenant.is_active = False
    tenant.save()
    run = sync_run_perform(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.error_code) == (SyncRun.Status.CANCELLED, "tenant_inactive")
    assert run.started_at is None


def test_manage_py_sync_refuses_in_one_line(inactive):
    with pytest.raises(CommandError) as refusal:
        call_command("sync", inactive.slug)
    message = str(refusal.value)
    assert message == "Tenant closed-down is deactivated: nothing runs for it; reactivate it first."
    with pytest.raises(CommandError, match="deactivated"):
        call_command("sync", str(inactive.pk))


def test_webhook_and_cdc_work_leave_it_alone(alice, qbo_app, jaggaer_app):  # noqa: F811
    open_tenant = TenantFactory(partner=alice.partner, slug="open")
    closed_tenant = TenantFactory(partner=alice.partner, slug="closed", is_active=False)
    for tenant, realm in ((open_tenant, "9130355000000001"), (closed_tenant, "9130355000000002")):
        connected_qbo(tenant, qbo_app, realm_id=realm)
        configured_jaggaer(tenant, jaggaer_app)
    changes = [{"realm_id": realm, "entity": "Account", "entity_id": "1", "operation": "Update"}
               for realm in ("9130355000000001", "9130355000000002")]

    def realms_called() -> set[str]:
        paths = [entry["path"] for entry in qbo_app.log.entries()]
        return {realm for realm in ("9130355000000001", "9130355000000002") if any(realm in p for p in paths)}

    qbo_app.log.clear()
    qbo_changes_apply(changes=changes)
    assert realms_called() == {"9130355000000001"}
    qbo_app.log.clear()
    totals = qbo_changes_reconcile()
    assert realms_called() == {"9130355000000001"}
    assert totals.get("tenants") == 1
    assert Cursor.objects.filter(tenant=open_tenant).exists()
    assert not Cursor.objects.filter(tenant=closed_tenant).exists()
    assert QboConnection.objects.get(tenant=closed_tenant).last_success_at is None


def test_admin_actions_do_not_run_anything_for_it(superuser_client_, inactive):
    runs, calls = SyncRun.objects.count(), ApiCall.objects.filter(tenant=inactive).count()
    page = superuser_client_.post("/admin/tenants/tenant/", {"action": "sync_now", "_selected_action": [inactive.pk]},
                                  follow=True)
    assert "deactivated" in page.content.decode()
    page = superuser_client_.post("/admin/tenants/tenant/", {"action": "ping_connections",
                                                             "_selected_action": [inactive.pk]}, follow=True)
    assert "deactivated" in page.content.decode()
    hold = Hold.objects.filter(tenant=inactive).first()
    page = superuser_client_.post("/admin/sync/hold/", {"action": "replay", "_selected_action": [hold.pk]},
                                  follow=True)
    assert "deactivated" in page.content.decode()
    connection = JaggaerConnection.objects.get(tenant=inactive)
    superuser_client_.post("/admin/connections/jaggaerconnection/", {"action": "ping",
                                                                     "_selected_action": [connection.pk]})
    assert SyncRun.objects.count() == runs
    assert ApiCall.objects.filter(tenant=inactive).count() == calls


@pytest.fixture
def superuser_client_(client, django_user_model):
    django_user_model.objects.create_superuser("root", password="pw-root-inactive-1")
    assert client.login(username="root", password="pw-root-inactive-1")
    return client

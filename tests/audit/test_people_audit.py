"""The people audit: who (API key or staff user, never a key) did what, with before and after."""

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

import audit
from audit.models import Action
from core.actor import SYSTEM
from sync.models import QboCatalogItem, SyncRun
from tests.connections.support import JAGGAER_CLIENT_SECRET
from tests.factories import connections_stored

pytestmark = pytest.mark.django_db


def _base(tenant):
    return f"/api/v1/tenants/{tenant.id}"


def _only(tenant, code) -> Action:
    return Action.objects.for_tenant(tenant).get(action=code)


def _assert_alice(row, alice):
    prefix = alice.key.split(".")[0]
    assert row.actor_kind == "api_key"
    assert row.actor_label == f"api-key:{prefix} (Alice Portal)"
    assert alice.key not in row.actor_label and alice.key.split(".")[1] not in str(row.__dict__)


@pytest.fixture
def catalogs(run_sync):
    return run_sync(entities=["catalogs"])


def test_setting_clearing_and_bulk_setting_a_mapping_are_audited(alice, tenant, catalogs):
    account = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", name="Professional services")
    other = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", number="6700")
    url = f"{_base(tenant)}/mappings/gl_account/6850"
    assert alice.client.put(url, {"qbo_id": account.qbo_id}, format="json").status_code == 200
    set_row = _only(tenant, "mapping.set")
    _assert_alice(set_row, alice)
    assert (set_row.target_type, set_row.target_id) == ("mapping.gl_account", "6850")
    assert set_row.before == {"qbo_id": None, "qbo_name": None, "state": "unmapped", "source": "auto"}
    assert set_row.after == {"qbo_id": account.qbo_id, "qbo_name": "Professional services", "state": "mapped",
                             "source": "person"}

    assert alice.client.delete(url).status_code == 200
    clear_row = _only(tenant, "mapping.clear")
    assert clear_row.before == set_row.after
    assert clear_row.after["qbo_id"] is None and clear_row.after["state"] == "unmapped"

    body = {"mappings": [{"kind": "gl_account", "code": "6850", "qbo_id": other.qbo_id}]}
    assert alice.client.post(f"{_base(tenant)}/mappings/bulk", body, format="json").status_code == 200
    bulk = _only(tenant, "mapping.bulk_set")
    assert bulk.before == {"gl_account:6850": clear_row.after}
    assert bulk.after["gl_account:6850"]["qbo_id"] == other.qbo_id and bulk.data == {"count": 1}


def test_a_refused_mapping_change_is_not_audited(alice, tenant, catalogs):
    response = alice.client.put(f"{_base(tenant)}/mappings/gl_account/6850", {"qbo_id": "99999"}, format="json")
    assert response.status_code == 400
    assert not Action.objects.exists()


def test_auto_match_records_only_the_mappings_it_changed(alice, tenant, catalogs):
    account = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", name="Raw materials")
    alice.client.put(f"{_base(tenant)}/mappings/gl_account/6100", {"qbo_id": ""}, format="json")   # a person clears it
    response = alice.client.post(f"{_base(tenant)}/mappings/auto-match",
                                 {"kind": "gl_account", "include_person": True}, format="json")
    assert response.status_code == 200, response.content
    row = _only(tenant, "mapping.auto_match")
    assert row.data["kind"] == "gl_account" and row.data["include_person"] is True
    assert row.before["gl_account:6100"]["qbo_id"] is None
    assert row.after["gl_account:6100"]["qbo_id"] == account.qbo_id
    assert all(row.before[key] != row.after[key] for key in row.after)


def test_connection_changes_are_audited_without_any_secret(alice, tenant, jaggaer_app):
    url = f"{_base(tenant)}/connections/jaggaer"
    body = {"api_base_url": jaggaer_app.url, "client_id": "mlc-client-0042", "client_secret": JAGGAER_CLIENT_SECRET}
    assert alice.client.put(url, body, format="json").status_code == 200
    assert alice.client.patch(url, {"client_id": "mlc-client-0077"}, format="json").status_code == 200
    assert alice.client.delete(url).status_code == 200
    rows = list(Action.objects.for_tenant(tenant).order_by("id"))
    assert [r.action for r in rows] == ["connection.jaggaer.configure"] * 2 + ["connection.jaggaer.clear"]
    first, second, cleared = rows
    assert first.before["client_secret_set"] is False and first.after["client_secret_set"] is True
    assert first.data == {"client_secret_changed": True} and second.data == {"client_secret_changed": False}
    assert (second.before["client_id_last4"], second.after["client_id_last4"]) == ("0042", "0077")
    assert cleared.after["client_secret_set"] is False
    for row in rows:
        text = str((row.before, row.after, row.data, row.actor_label))
        assert JAGGAER_CLIENT_SECRET not in text and "mlc-client-00" not in text


def test_qbo_authorize_and_disconnect_are_audited(alice, tenant, qbo_app):
    from tests.connections.support import connected_qbo

    response = alice.client.post(f"{_base(tenant)}/connections/qbo/authorize", {}, format="json")
    assert response.status_code == 201, response.content
    assert _only(tenant, "connection.qbo.authorize").target_id == "qbo"
    connection = connected_qbo(tenant, qbo_app)
    assert alice.client.post(f"{_base(tenant)}/connections/qbo/disconnect").status_code == 200
    row = _only(tenant, "connection.qbo.disconnect")
    assert row.before == {"realm_id": connection.realm_id, "status": "connected"}
    assert row.after["status"] != "connected"
    assert "token" not in str(row.after).lower()


def test_tenant_create_update_schedule_and_deactivate_are_audited(alice):
    created = alice.client.post("/api/v1/tenants", {"name": "Globex", "slug": "globex", "time_zone": "UTC"},
                                format="json")
    assert created.status_code == 201, created.content
    tenant_id = created.json()["id"]
    row = Action.objects.get(action="tenant.create")
    assert str(row.tenant_id) == tenant_id and row.after["slug"] == "globex"

    response = alice.client.patch(f"/api/v1/tenants/{tenant_id}",
                                  {"name": "Globex Corp", "sync_hour": 5, "schedule_paused": True}, format="json")
    assert response.status_code == 200, response.content
    update = Action.objects.get(action="tenant.update")
    assert (update.before, update.after) == ({"name": "Globex"}, {"name": "Globex Corp"})
    schedule = Action.objects.get(action="tenant.schedule.update")
    assert schedule.before == {"sync_hour": 2, "schedule_paused": False}
    assert schedule.after == {"sync_hour": 5, "schedule_paused": True}

    alice.client.post(f"/api/v1/tenants/{tenant_id}/deactivate")
    off = Action.objects.get(action="tenant.deactivate")
    assert (off.before, off.after) == ({"is_active": True}, {"is_active": False})
    _assert_alice(off, alice)


def test_sync_request_and_cancel_are_audited(alice, tenant, django_capture_on_commit_callbacks):
    connections_stored(tenant)
    with django_capture_on_commit_callbacks(execute=False):
        run_id = alice.client.post(f"{_base(tenant)}/syncs", {"entities": ["suppliers"]}, format="json").json()["id"]
    requested = _only(tenant, "sync.request")
    assert requested.target_id == run_id and requested.data == {"full": False, "entities": ["suppliers"]}
    alice.client.post(f"{_base(tenant)}/syncs/{run_id}/cancel")
    cancelled = _only(tenant, "sync.cancel")
    assert cancelled.before == {"status": "queued", "cancel_requested": False}
    assert cancelled.after == {"status": "queued", "cancel_requested": True}
    assert SyncRun.objects.get(pk=run_id).cancel_requested


def test_the_actor_of_an_admin_request_is_the_staff_user(tenant):
    user = get_user_model().objects.create_user("support.jo", password="x", is_staff=True)
    request = RequestFactory().post("/admin/")
    request.user = user
    row = audit.action("tenant.deactivate", actor=request, tenant=tenant, before={"is_active": True},
                       after={"is_active": False})
    assert (row.actor_kind, row.actor_label, row.actor_id) == ("staff_user", "support.jo", str(user.pk))


def test_secret_looking_values_are_masked_and_codes_are_checked(tenant):
    row = audit.action("connection.jaggaer.configure", actor=SYSTEM, tenant=tenant,
                       after={"client_secret": "s3cr3t", "client_secret_set": True, "nested": {"access_token": "t"}})
    assert row.after == {"client_secret": "***", "client_secret_set": True, "nested": {"access_token": "***"}}
    with pytest.raises(ValueError):
        audit.action("Mapping Set", actor=SYSTEM, tenant=tenant)

"""Connection services own their writes and their people-audit row: the API and the admin call the same
service, so the same act leaves the same state and the same action code, listed in docs/AUDIT.md."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from audit.actions import ACTIONS
from audit.models import Action
from connections import jaggaer
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from core.actor import SYSTEM
from core.exceptions import ApplicationError
from tests.connections.support import JAGGAER_CLIENT_SECRET, configured_jaggaer, connected_qbo, token_calls

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def staff_client(client, django_user_model):
    django_user_model.objects.create_user("support", password="pw-for-support-1", is_staff=True,
                                          is_superuser=True)
    assert client.login(username="support", password="pw-for-support-1")
    return client


def test_the_connection_codes_are_the_nine_of_the_vocabulary():
    """tests/audit/test_action_codes.py holds the vocabulary, docs/AUDIT.md and the code together; the
    connections app writes exactly these."""
    assert sorted(code for code in ACTIONS if code.startswith("connection.")) == [
        "connection.connect_link.create", "connection.connect_link.use",
        "connection.jaggaer.clear", "connection.jaggaer.configure", "connection.ping", "connection.qbo.authorize",
        "connection.qbo.connect", "connection.qbo.disconnect", "connection.qbo.refresh"]


def broken_jaggaer(tenant, jaggaer_app) -> JaggaerConnection:
    """A connection whose secret JAGGAER refused three times: `error`, three failures in a row."""
    return configured_jaggaer(tenant, jaggaer_app, client_secret="not-the-secret", status=ConnectionStatus.ERROR,
                              status_reason="JAGGAER rejected the client id or client secret",
                              consecutive_failures=3, last_error_code="credentials_rejected",
                              last_error_at=timezone.now())


@pytest.mark.parametrize("where", ["api", "admin"])
def test_a_jaggaer_connection_fixed_from_the_admin_is_reset_exactly_as_from_the_api(
        where, alice, staff_client, tenant, jaggaer_app):
    connection = broken_jaggaer(tenant, jaggaer_app)
    if where == "api":
        response = alice.client.patch(f"/api/v1/tenants/{tenant.id}/connections/jaggaer",
                                      {"client_secret": JAGGAER_CLIENT_SECRET}, format="json")
        assert response.status_code == 200, response.content
    else:
        response = staff_client.post(f"/admin/connections/jaggaerconnection/{connection.pk}/change/", {
            "api_base_url": connection.api_base_url, "client_id": connection.client_id, "dialect": "{}",
            "new_client_secret": JAGGAER_CLIENT_SECRET})
        assert response.status_code == 302, response.content[:2000]
    connection.refresh_from_db()
    assert (connection.status, connection.status_reason, connection.consecutive_failures) == (
        ConnectionStatus.CONNECTED, "", 0)
    assert connection.client_secret == JAGGAER_CLIENT_SECRET and connection.access_token is None
    row = Action.objects.get(tenant=tenant)
    assert row.action == "connection.jaggaer.configure"
    assert row.actor_kind == ("api_key" if where == "api" else "staff_user")
    assert (row.target_type, row.target_id) == ("connection", "jaggaer")
    assert (row.before["status"], row.after["status"]) == ("error", "connected")
    assert row.data == {"client_secret_changed": True}


def test_a_refused_change_writes_neither_the_connection_nor_an_audit_row(tenant, jaggaer_app):
    connection = configured_jaggaer(tenant, jaggaer_app)
    with pytest.raises(ApplicationError):
        jaggaer.jaggaer_connection_configure(tenant=tenant, actor=SYSTEM, client_id="changed-id",
                                             dialect={"colour": "blue"})
    connection.refresh_from_db()
    assert connection.client_id != "changed-id"
    assert not Action.objects.exists()


def acts(tenant, kind: str) -> list[tuple[str, str]]:
    return list(Action.objects.filter(tenant=tenant, actor_kind=kind).order_by("id")
                .values_list("action", "target_id"))


def test_the_api_and_the_admin_audit_the_same_act_under_the_same_code(alice, staff_client, tenant, jaggaer_app,
                                                                     qbo_app):
    base = f"/api/v1/tenants/{tenant.id}/connections"
    jaggaer_row = configured_jaggaer(tenant, jaggaer_app)
    qbo = connected_qbo(tenant, qbo_app)
    # The partner's portal ...
    assert alice.client.post(f"{base}/jaggaer/ping").json()["ok"] is True
    assert alice.client.post(f"{base}/qbo/ping").json()["ok"] is True
    assert alice.client.post(f"{base}/qbo/authorize", {}, format="json").status_code == 201
    assert alice.client.post(f"{base}/qbo/disconnect").status_code == 200
    # ... and support staff, on a connection made again.
    QboConnection.objects.filter(pk=qbo.pk).delete()
    qbo = connected_qbo(tenant, qbo_app)
    admin = "/admin/connections"
    staff_client.post(f"{admin}/jaggaerconnection/", {"action": "ping", "_selected_action": [jaggaer_row.pk]})
    for action in ("ping", "refresh_now", "disconnect"):
        staff_client.post(f"{admin}/qboconnection/", {"action": action, "_selected_action": [qbo.pk]})
    assert staff_client.post(f"/admin/tenants/tenant/{tenant.pk}/qbo-authorize/").status_code == 302

    assert acts(tenant, "api_key") == [("connection.ping", "jaggaer"), ("connection.ping", "qbo"),
                                       ("connection.qbo.authorize", "qbo"), ("connection.qbo.disconnect", "qbo")]
    assert acts(tenant, "staff_user") == [("connection.ping", "jaggaer"), ("connection.ping", "qbo"),
                                          ("connection.qbo.refresh", "qbo"), ("connection.qbo.disconnect", "qbo"),
                                          ("connection.qbo.authorize", "qbo")]
    refresh = Action.objects.get(action="connection.qbo.refresh")
    assert refresh.after == {"ok": True} and refresh.actor_label == "support"
    disconnects = Action.objects.filter(action="connection.qbo.disconnect")
    assert [(r.before["status"], r.after["status"]) for r in disconnects] == [("connected", "not_configured")] * 2
    assert {r.action for r in Action.objects.all()} <= set(ACTIONS)


def test_a_failed_refresh_from_the_admin_is_audited_with_its_reason(staff_client, tenant, qbo_app):
    qbo = connected_qbo(tenant, qbo_app)
    QboConnection.objects.filter(pk=qbo.pk).update(status=ConnectionStatus.NEEDS_REAUTHORIZATION)
    response = staff_client.post("/admin/connections/qboconnection/",
                                 {"action": "refresh_now", "_selected_action": [qbo.pk]}, follow=True)
    assert response.status_code == 200
    row = Action.objects.get(action="connection.qbo.refresh")
    assert row.after == {"ok": False, "code": "needs_reauthorization"} and row.actor_kind == "staff_user"
    assert token_calls(qbo_app) == 0


def test_a_failed_ping_is_audited_with_the_problem_code(alice, tenant, jaggaer_app):
    configured_jaggaer(tenant, jaggaer_app, client_secret="not-the-secret")
    answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/jaggaer/ping").json()
    assert answer["ok"] is False
    row = Action.objects.get(action="connection.ping")
    assert row.after == {"ok": False, "code": answer["problem"]["code"]} and row.target_id == "jaggaer"


def test_the_callback_audits_one_connect_code_for_success_and_failure(alice, tenant, anon_client, qbo_app):
    from tests.connections.test_oauth_qbo_flow import consent, with_params

    def start() -> str:
        response = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/qbo/authorize", {}, format="json")
        return consent(response.json()["authorization_url"])

    assert anon_client.get(with_params(start(), drop=("realmId",))).status_code == 400
    assert anon_client.get(start()).status_code == 200
    rows = list(Action.objects.filter(action="connection.qbo.connect").order_by("id"))
    assert [(r.actor_kind, r.after["ok"], r.after["reason"]) for r in rows] == [
        ("system", False, "missing_realm_id"), ("system", True, "connected")]
    assert rows[1].after["realm_id"] == QboConnection.objects.get(tenant=tenant).realm_id
    assert QboConnection.objects.get(tenant=tenant).connected_at > timezone.now() - dt.timedelta(minutes=1)

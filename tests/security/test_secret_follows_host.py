"""Credentials follow their host: the stored JAGGAER client secret is never posted to a base URL or token
path it was not given for. Changing either needs the secret in the same request, in the API and in the
admin; the change is audited."""

from __future__ import annotations

import pytest

from audit.models import Action
from connections.models import JaggaerConnection
from tests.connections.support import JAGGAER_CLIENT_ID, JAGGAER_CLIENT_SECRET, token_calls

pytestmark = pytest.mark.django_db

TOKEN_PATH = "/auth/realms/J1p-integrations/protocol/openid-connect/token"


def api(tenant) -> str:
    return f"/api/v1/tenants/{tenant.id}/connections/jaggaer"


@pytest.fixture
def configured(alice, tenant, jaggaer_app):
    response = alice.client.put(api(tenant), {"api_base_url": jaggaer_app.url, "client_id": JAGGAER_CLIENT_ID,
                                              "client_secret": JAGGAER_CLIENT_SECRET}, format="json")
    assert response.status_code == 200, response.content
    return JaggaerConnection.objects.get(tenant=tenant)


@pytest.fixture
def elsewhere(remote):
    """The host someone would like the secret to travel to: it records every request."""
    return remote(lambda method, path, body: (200, {"Content-Type": "application/json"},
                                              b'{"access_token": "x", "expires_in": 300}'))


def unchanged(connection: JaggaerConnection) -> bool:
    stored = JaggaerConnection.objects.get(pk=connection.pk)
    return (stored.api_base_url, stored.client_secret, stored.dialect) == (
        connection.api_base_url, JAGGAER_CLIENT_SECRET, connection.dialect)


@pytest.mark.parametrize("method, body", [
    ("patch", {"api_base_url": "ELSEWHERE"}),
    ("put", {"api_base_url": "ELSEWHERE", "client_id": JAGGAER_CLIENT_ID}),
    ("patch", {"dialect": {"token_path": "/other/token"}}),
    ("patch", {"api_base_url": "ELSEWHERE", "client_id": "another-client"}),
])
def test_a_new_destination_without_the_secret_is_refused(alice, tenant, configured, elsewhere, jaggaer_app,
                                                         method, body):
    body = {k: (elsewhere.url if v == "ELSEWHERE" else v) for k, v in body.items()}
    response = getattr(alice.client, method)(api(tenant), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "client_secret_required"
    assert "send client_secret in the same request" in error["message"]
    assert error["fields"]["client_secret"]
    assert unchanged(configured)
    # The next ping posts the secret where it was given, and nothing reaches the other host.
    assert alice.client.post(f"{api(tenant)}/ping").json()["ok"] is True
    assert token_calls(jaggaer_app) == 1 and elsewhere.requests == []


def test_with_the_secret_the_new_destination_is_taken_and_audited(alice, tenant, configured, elsewhere):
    response = alice.client.patch(api(tenant), {"api_base_url": elsewhere.url, "client_secret": "new-secret-1"},
                                  format="json")
    assert response.status_code == 200, response.content
    stored = JaggaerConnection.objects.get(tenant=tenant)
    assert (stored.api_base_url, stored.client_secret, stored.access_token) == (elsewhere.url, "new-secret-1", None)
    action = Action.objects.filter(action="connection.jaggaer.configure").first()
    assert action.data["destination_changed"] == ["api_base_url"]
    assert action.data["client_secret_changed"] is True
    assert action.before["api_base_url"] != action.after["api_base_url"]
    assert "new-secret-1" not in str(action.before) + str(action.after) + str(action.data)


@pytest.mark.parametrize("body", [
    {"client_id": "another-client"},
    {"dialect": {"page_size": 50}},
    {"api_base_url": "SAME/"},
])
def test_changes_that_keep_the_destination_need_no_secret(alice, tenant, configured, jaggaer_app, body):
    body = {k: (v.replace("SAME", jaggaer_app.url) if isinstance(v, str) else v) for k, v in body.items()}
    response = alice.client.patch(api(tenant), body, format="json")
    assert response.status_code == 200, response.content
    assert JaggaerConnection.objects.get(tenant=tenant).client_secret == JAGGAER_CLIENT_SECRET


# ---------------------------------------------------------------------------- the admin


@pytest.fixture
def staff_client(client, django_user_model):
    django_user_model.objects.create_user("support", password="pw-for-support-1", is_staff=True,
                                          is_superuser=True)
    assert client.login(username="support", password="pw-for-support-1")
    return client


def form(connection, **changes) -> dict:
    data = {"api_base_url": connection.api_base_url, "client_id": connection.client_id, "dialect": "{}",
            "new_client_secret": ""}
    data.update(changes)
    return data


def test_the_admin_refuses_a_new_base_url_without_the_secret(staff_client, tenant, configured, elsewhere,
                                                             jaggaer_app):
    page = f"/admin/connections/jaggaerconnection/{configured.pk}/change/"
    response = staff_client.post(page, form(configured, api_base_url=elsewhere.url))
    assert response.status_code == 200
    assert "send client_secret in the same request" in response.content.decode()
    response = staff_client.post(page, form(configured, dialect='{"token_path": "/other/token"}'))
    assert response.status_code == 200 and unchanged(configured)
    # The admin's Ping action still goes where the secret was given.
    staff_client.post("/admin/connections/jaggaerconnection/", {"action": "ping", "_selected_action": [configured.pk]})
    assert token_calls(jaggaer_app) == 1 and elsewhere.requests == []


def test_the_admin_takes_a_new_base_url_with_the_secret_and_audits_it(staff_client, tenant, configured, elsewhere):
    page = f"/admin/connections/jaggaerconnection/{configured.pk}/change/"
    response = staff_client.post(page, form(configured, api_base_url=elsewhere.url, new_client_secret="new-2"))
    assert response.status_code == 302, response.content[:2000]
    stored = JaggaerConnection.objects.get(pk=configured.pk)
    assert (stored.api_base_url, stored.client_secret) == (elsewhere.url, "new-2")
    action = Action.objects.filter(action="connection.jaggaer.configure").first()
    assert action.actor_label == "support"
    assert action.data == {"client_secret_replaced": True, "destination_changed": ["api_base_url"]}
    assert "new-2" not in str(action.before) + str(action.after)


def test_the_admin_keeps_the_secret_for_other_changes(staff_client, tenant, configured):
    page = f"/admin/connections/jaggaerconnection/{configured.pk}/change/"
    response = staff_client.post(page, form(configured, dialect='{"page_size": 25}'))
    assert response.status_code == 302
    stored = JaggaerConnection.objects.get(pk=configured.pk)
    assert stored.client_secret == JAGGAER_CLIENT_SECRET and stored.dialect == {"page_size": 25}

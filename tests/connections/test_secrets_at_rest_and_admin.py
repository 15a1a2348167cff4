"""No secret in the database in plain text, and none on any admin page.

The database scan reads every value of every table with raw SQL after real flows against both
sandboxes (configure, token fetch, QuickBooks connect, refresh), and looks for every secret the
sandboxes issued or accepted.
"""

import datetime as dt
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone

from connections.models import JaggaerConnection, QboConnection
from connections.tokens import QboTokenProvider
from tests.connections.support import (
    JAGGAER_CLIENT_ID,
    JAGGAER_CLIENT_SECRET,
    assert_no_secret,
    configured_jaggaer,
    connected_qbo,
    database_text,
    issued_secrets,
)

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]


def run_real_flows(alice, tenant, anon_client, jaggaer_app, qbo_app):
    base = f"/api/v1/tenants/{tenant.id}/connections"
    assert alice.client.put(f"{base}/jaggaer", {"api_base_url": jaggaer_app.url, "client_id": JAGGAER_CLIENT_ID,
                                                "client_secret": JAGGAER_CLIENT_SECRET},
                            format="json").status_code == 200
    assert alice.client.post(f"{base}/jaggaer/ping").json()["ok"] is True
    url = alice.client.post(f"{base}/qbo/authorize", {}, format="json").json()["authorization_url"]
    location = urlsplit(requests.get(url, allow_redirects=False, timeout=5).headers["Location"])
    assert anon_client.get(f"{location.path}?{location.query}").status_code == 200
    QboConnection.objects.update(access_token_expires_at=timezone.now())
    QboTokenProvider(QboConnection.objects.get()).access_token()        # one rotation of the refresh token
    assert alice.client.post(f"{base}/qbo/ping").json()["ok"] is True


def test_the_database_holds_no_plaintext_secret(alice, tenant, anon_client, jaggaer_app, qbo_app, secret_guard):
    run_real_flows(alice, tenant, anon_client, jaggaer_app, qbo_app)
    secrets = issued_secrets(jaggaer_app, qbo_app)
    assert len(secrets) >= 6      # two client secrets, a JAGGAER token, QBO access and refresh tokens (x2)
    stored = QboConnection.objects.get()
    assert {stored.access_token, stored.refresh_token, JaggaerConnection.objects.get().access_token} <= secrets
    values = database_text()
    assert any(table == "connections_qboconnection" and column == "refresh_token" for table, column, _ in values)
    leaks = [(table, column) for table, column, text in values for secret in secrets if secret in text]
    assert leaks == []


def test_the_scan_does_find_a_plaintext_secret(tenant, jaggaer_app):
    """Control for the test above: the same scan sees a secret stored in the clear."""
    tenant.name = f"oops {JAGGAER_CLIENT_SECRET}"
    tenant.save()
    leaks = [(table, column) for table, column, text in database_text() if JAGGAER_CLIENT_SECRET in text]
    assert leaks == [("tenants_tenant", "name")]


@pytest.fixture
def staff_client(client, django_user_model):
    django_user_model.objects.create_user("support", password="pw-for-support-1", is_staff=True,
                                          is_superuser=True)
    assert client.login(username="support", password="pw-for-support-1")
    return client


def test_no_admin_page_shows_a_secret(staff_client, tenant, jaggaer_app, qbo_app, secret_guard):
    jaggaer = configured_jaggaer(tenant, jaggaer_app)
    from connections.tokens import JaggaerTokenProvider
    JaggaerTokenProvider(jaggaer).access_token()
    qbo = connected_qbo(tenant, qbo_app)
    secrets = secret_guard.secrets()
    pages = ["/admin/connections/", "/admin/connections/jaggaerconnection/",
             f"/admin/connections/jaggaerconnection/{jaggaer.pk}/change/",
             f"/admin/connections/jaggaerconnection/{jaggaer.pk}/history/",
             "/admin/connections/jaggaerconnection/add/",
             "/admin/connections/qboconnection/", f"/admin/connections/qboconnection/{qbo.pk}/change/",
             f"/admin/connections/qboconnection/{qbo.pk}/history/",
             "/admin/connections/jaggaerconnection/?failing=yes", "/admin/connections/qboconnection/?stale=1d"]
    for page in pages:
        response = staff_client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(response.content, secrets, page)
    change = staff_client.get(f"/admin/connections/jaggaerconnection/{jaggaer.pk}/change/").content.decode()
    assert 'name="new_client_secret"' in change and 'name="client_secret"' not in change
    assert 'name="access_token"' not in change
    qbo_page = staff_client.get(f"/admin/connections/qboconnection/{qbo.pk}/change/").content.decode()
    assert 'name="refresh_token"' not in qbo_page and 'name="access_token"' not in qbo_page


def _change_form(jaggaer, **changes):
    data = {"api_base_url": jaggaer.api_base_url, "client_id": jaggaer.client_id, "dialect": "{}",
            "new_client_secret": ""}
    data.update(changes)
    return data


def test_the_admin_sets_a_new_secret_and_keeps_the_old_one_when_left_empty(staff_client, tenant, jaggaer_app,
                                                                          secret_guard):
    jaggaer = configured_jaggaer(tenant, jaggaer_app)
    page = f"/admin/connections/jaggaerconnection/{jaggaer.pk}/change/"
    response = staff_client.post(page, _change_form(jaggaer, dialect='{"page_size": 25}'))
    assert response.status_code == 302, response.content[:2000]
    jaggaer.refresh_from_db()
    assert jaggaer.client_secret == JAGGAER_CLIENT_SECRET and jaggaer.dialect == {"page_size": 25}
    secret_guard.add("brand-new-secret-4711")
    response = staff_client.post(page, _change_form(jaggaer, new_client_secret="brand-new-secret-4711"),
                                 follow=True)
    assert response.status_code == 200
    assert_no_secret(response.content, secret_guard.secrets(), "the page after saving")
    jaggaer.refresh_from_db()
    assert jaggaer.client_secret == "brand-new-secret-4711" and jaggaer.access_token is None


def test_the_admin_refuses_a_bad_base_url_or_dialect(staff_client, tenant, jaggaer_app):
    jaggaer = configured_jaggaer(tenant, jaggaer_app)
    page = f"/admin/connections/jaggaerconnection/{jaggaer.pk}/change/"
    assert staff_client.post(page, _change_form(jaggaer, api_base_url="http://acme.example")).status_code == 200
    assert staff_client.post(page, _change_form(jaggaer, dialect='{"colour": 1}')).status_code == 200
    jaggaer.refresh_from_db()
    assert jaggaer.api_base_url == jaggaer_app.url and jaggaer.dialect == {}


def test_admin_actions_call_the_services(staff_client, tenant, qbo_app, secret_guard):
    qbo = connected_qbo(tenant, qbo_app)
    QboConnection.objects.update(last_refreshed_at=timezone.now() - dt.timedelta(days=1))
    changelist = "/admin/connections/qboconnection/"
    for action in ("ping", "refresh_now"):
        response = staff_client.post(changelist, {"action": action, "_selected_action": [qbo.pk]}, follow=True)
        assert response.status_code == 200
        assert_no_secret(response.content, secret_guard.secrets(), f"the {action} answer")
    assert QboConnection.objects.get().last_ping_ok is True
    assert QboConnection.objects.get().last_refreshed_at > timezone.now() - dt.timedelta(minutes=1)
    response = staff_client.post(changelist, {"action": "disconnect", "_selected_action": [qbo.pk]}, follow=True)
    assert b"QuickBooks is disconnected" in response.content
    assert QboConnection.objects.get().refresh_token is None


def test_the_log_guard_sees_a_leaked_token(qbo_app, caplog):
    """Control for the guard every test here uses: a token in a log line is caught."""
    import logging

    tokens = qbo_app.app.issue_tokens()
    logging.getLogger("connections.test").warning("refreshed with %s", tokens["refresh_token"])
    secrets = issued_secrets(qbo_app)
    with pytest.raises(AssertionError, match="a secret"):
        for record in caplog.records:
            assert_no_secret(record.getMessage(), secrets, "a log line")
    caplog.clear()

"""Connection state changes reach the partner once per change: QuickBooks connected through Intuit's consent,
a refresh token Intuit refuses (needs re-authorization), credentials refused (error)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from connections.exceptions import NeedsReauthorization
from connections.health import connection_record_failure, connection_record_success
from connections.models import ConnectionStatus, QboConnection
from connections.tokens import QboTokenProvider
from tests.connections.support import QBO_CLIENT_ID, QBO_CLIENT_SECRET, configured_jaggaer, connected_qbo
from tests.webhooks.conftest import add_endpoint

pytestmark = pytest.mark.django_db


def test_connecting_quickbooks_sends_connection_connected(alice, tenant, anon_client, qbo_app, receiver,
                                                          django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    start = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/qbo/authorize", {}, format="json")
    assert start.status_code == 201, start.content
    consent = requests.get(start.json()["authorization_url"], allow_redirects=False, timeout=5)
    location = urlsplit(consent.headers["Location"])
    with django_capture_on_commit_callbacks(execute=True):
        answer = anon_client.get(f"{location.path}?{location.query}")
    assert answer.status_code in (200, 302)
    assert QboConnection.objects.get().status == ConnectionStatus.CONNECTED
    assert receiver.types() == ["connection.connected"]
    data = receiver.received[0].verify(endpoint["secret"])["data"]
    assert data == {"tenant_id": str(tenant.pk), "system": "qbo", "status": "connected", "code": "",
                    "action": "Nothing to do: syncs can write to QuickBooks."}


def test_a_refused_refresh_token_sends_needs_reauthorization_once(alice, tenant, qbo_app, receiver,
                                                                   django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    connection = connected_qbo(tenant, qbo_app, expires_in=10)     # the next call refreshes
    revoked = requests.post(qbo_app.url + "/v2/oauth2/tokens/revoke", auth=(QBO_CLIENT_ID, QBO_CLIENT_SECRET),
                            json={"token": connection.refresh_token}, timeout=5)
    assert revoked.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):                                          # the second is refused without a call
            with pytest.raises(NeedsReauthorization):
                QboTokenProvider(QboConnection.objects.get()).access_token()
    assert receiver.types() == ["connection.needs_reauthorization"]
    data = receiver.received[0].verify(endpoint["secret"])["data"]
    assert data["status"] == "needs_reauthorization" and data["code"] == "needs_reauthorization"
    assert f"/api/v1/tenants/{tenant.pk}/connections/qbo/authorize" in data["action"]
    assert connection.refresh_token not in receiver.received[0].body.decode()


def test_refused_credentials_send_connection_error_once_per_change(alice, tenant, jaggaer_app, receiver,
                                                                  django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url, event_types=["connection.error"])
    connection = configured_jaggaer(tenant, jaggaer_app)
    with django_capture_on_commit_callbacks(execute=True):
        connection_record_failure(connection=connection, code="credentials_rejected", message="refused")
        connection_record_failure(connection=connection, code="credentials_rejected", message="refused again")
        connection_record_failure(connection=connection, code="read_timeout", message="slow")   # no status change
    assert receiver.types() == ["connection.error"]
    assert receiver.received[0].json["data"]["system"] == "jaggaer"
    with django_capture_on_commit_callbacks(execute=True):
        connection_record_success(connection=connection)
        connection_record_failure(connection=connection, code="credentials_rejected", message="refused later")
    assert receiver.types() == ["connection.error", "connection.error"]

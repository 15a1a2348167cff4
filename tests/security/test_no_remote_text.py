"""A customer-given host's words are never repeated: whatever a JAGGAER base URL answers (an internal
service's banner, an error_description, a returnMessage), ping answers, the connection's last error, the
call log and runs say what class of failure it was in our own words."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import ApiCall
from connections.models import JaggaerConnection
from sync.models import SyncRun
from tests.connections.support import configured_jaggaer, connected_qbo, database_text

pytestmark = pytest.mark.django_db

MARKER = "MARKER-internal-banner-5f3a"
TOKEN_OK = json.dumps({"access_token": "remote-token-1", "expires_in": 300}).encode()


def body(value) -> bytes:
    return json.dumps(value).encode()


def token_then(list_answer):
    """A host whose token endpoint works and whose API answers `list_answer` (status, headers, body)."""
    def handler(method, path, content):
        if method == "POST":
            return 200, {"Content-Type": "application/json"}, TOKEN_OK
        return list_answer
    return handler


SCENARIOS = {
    "token_error_text": lambda m, p, c: (400, {"Content-Type": "application/json"},
                                         body({"error": MARKER, "error_description": MARKER})),
    "token_invalid_client": lambda m, p, c: (401, {"Content-Type": "application/json"},
                                             body({"error": "invalid_client", "error_description": MARKER})),
    "token_server_error_text": lambda m, p, c: (500, {"Content-Type": "text/plain"}, MARKER.encode()),
    "token_ok_body_is_text": lambda m, p, c: (200, {"Content-Type": "text/plain"}, MARKER.encode()),
    "list_return_code_is_text": token_then((200, {"Content-Type": "application/json"},
                                            body({"returnCode": MARKER, "returnMessage": MARKER}))),
    "list_return_code_with_message": token_then((200, {"Content-Type": "application/json"},
                                                 body({"returnCode": 7, "returnMessage": MARKER}))),
    "list_forbidden": token_then((403, {"Content-Type": "application/json"},
                                  body({"error": "access_denied", "error_description": MARKER, "message": MARKER}))),
    "list_not_found_text": token_then((404, {"Content-Type": "text/html"}, f"<h1>{MARKER}</h1>".encode())),
    "list_html": token_then((200, {"Content-Type": "text/html"}, f"<h1>{MARKER}</h1>".encode())),
}


def assert_no_marker(where: str, text: str) -> None:
    assert MARKER not in text, f"the remote's text appears in {where}"


def assert_database_clean() -> None:
    leaks = [(table, column) for table, column, text in database_text() if MARKER in text]
    assert leaks == [], f"the remote's text is stored in {leaks}"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_ping_never_repeats_the_remote(alice, tenant, remote, fast_http, scenario):
    host = remote(SCENARIOS[scenario])
    configured_jaggaer(tenant, host)
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/jaggaer/ping")
    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] is False and answer["problem"]["message"]
    assert_no_marker("the ping answer", response.content.decode())
    shown = alice.client.get(f"/api/v1/tenants/{tenant.id}/connections/jaggaer").content.decode()
    assert_no_marker("the connection as the API shows it", shown)
    stored = JaggaerConnection.objects.get(tenant=tenant)
    assert stored.last_error_message and stored.consecutive_failures >= 1
    calls = alice.client.get(f"/api/v1/tenants/{tenant.id}/audit/api-calls").content.decode()
    assert_no_marker("/audit/api-calls", calls)
    assert ApiCall.objects.filter(system="jaggaer").exists()
    assert_database_clean()


@pytest.mark.parametrize("scenario", ["token_error_text", "list_return_code_with_message", "list_forbidden",
                                      "list_html"])
def test_a_run_never_repeats_the_remote(tenant, remote, qbo_app, scenario):
    host = remote(SCENARIOS[scenario])
    configured_jaggaer(tenant, host)
    connected_qbo(tenant, qbo_app)
    with pytest.raises(CommandError) as err:
        call_command("sync", tenant.slug, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert_no_marker("the sync command's error", str(err.value))
    run = SyncRun.objects.get(tenant=tenant)
    assert run.status == SyncRun.Status.FAILED and run.error_message
    assert_no_marker("the run's error", run.error_message)
    assert_database_clean()


def test_the_documented_codes_are_kept(alice, tenant, remote, fast_http):
    host = remote(SCENARIOS["list_return_code_with_message"])
    configured_jaggaer(tenant, host)
    answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/jaggaer/ping").json()
    assert "returnCode 7" in answer["problem"]["message"]
    assert ApiCall.objects.filter(system="jaggaer", code="7").exists()

    host = remote(SCENARIOS["token_invalid_client"])
    JaggaerConnection.objects.filter(tenant=tenant).update(api_base_url=host.url)
    answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/jaggaer/ping").json()
    assert answer["problem"]["code"] == "wrong_client_credentials"
    assert "invalid_client" in answer["problem"]["message"]

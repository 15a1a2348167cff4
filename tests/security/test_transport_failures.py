"""A system that cannot be reached after every retry ends the run with what happened, in our words: the
connection is marked error with one more failure, the run fails with that message (not internal_error and
a traceback), and `manage.py sync` says it in one line and exits non-zero."""

from __future__ import annotations

import io
import logging
import socket

import pytest
from django.core.management import CommandError, call_command

from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from sync.models import SyncRun
from tests.connections.support import configured_jaggaer, connected_qbo

pytestmark = pytest.mark.django_db


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def sync_fails(tenant, caplog) -> str:
    out = io.StringIO()
    with caplog.at_level(logging.ERROR), pytest.raises(CommandError) as err:
        call_command("sync", tenant.slug, stdout=out, stderr=out)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message and "internal_error" not in message
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    return message


def test_quickbooks_unreachable(tenant, qbo_app, jaggaer_app, settings, caplog):
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app)
    settings.QBO_API_BASE = closed_url()
    message = sync_fails(tenant, caplog)
    assert "failed: refused QuickBooks Online could not be reached" in message
    assert "refused the connection" in message
    run = SyncRun.objects.get(tenant=tenant)
    assert (run.status, run.error_system, run.error_code) == (SyncRun.Status.FAILED, "qbo", "refused")
    connection = QboConnection.objects.get(tenant=tenant)
    assert connection.status == ConnectionStatus.ERROR
    assert connection.consecutive_failures == 1
    assert connection.last_error_code == "refused" and connection.last_error_message == run.error_message


def test_quickbooks_token_endpoint_unreachable(tenant, qbo_app, jaggaer_app, settings, caplog):
    connected_qbo(tenant, qbo_app, expires_in=0)          # the run must refresh first
    configured_jaggaer(tenant, jaggaer_app)
    settings.QBO_TOKEN_URL = closed_url() + "/oauth2/v1/tokens/bearer"
    message = sync_fails(tenant, caplog)
    assert "refreshing the QuickBooks token failed" in message and "refused the connection" in message
    connection = QboConnection.objects.get(tenant=tenant)
    assert connection.status == ConnectionStatus.ERROR and connection.consecutive_failures == 1
    assert connection.refresh_token                       # nothing is lost: a later run can refresh


def test_jaggaer_unreachable(tenant, qbo_app, jaggaer_app, caplog):
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app, api_base_url=closed_url())
    message = sync_fails(tenant, caplog)
    assert "JAGGAER could not be reached" in message and "refused the connection" in message
    run = SyncRun.objects.get(tenant=tenant)
    assert (run.error_system, run.error_code) == ("jaggaer", "refused")
    connection = JaggaerConnection.objects.get(tenant=tenant)
    assert connection.status == ConnectionStatus.ERROR and connection.consecutive_failures == 1


def test_jaggaer_name_does_not_resolve(tenant, qbo_app, jaggaer_app, caplog):
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app, api_base_url="https://no-such-host.invalid")
    message = sync_fails(tenant, caplog)
    assert "could not resolve host no-such-host.invalid" in message
    assert SyncRun.objects.get(tenant=tenant).error_code == "dns"
    assert JaggaerConnection.objects.get(tenant=tenant).status == ConnectionStatus.ERROR


def test_a_refused_address_ends_the_run_the_same_way(tenant, qbo_app, jaggaer_app, settings, caplog):
    settings.ENVIRONMENT = "production"
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app, api_base_url="https://169.254.169.254")
    message = sync_fails(tenant, caplog)
    assert "169.254.169.254 is a link-local address" in message
    assert SyncRun.objects.get(tenant=tenant).error_code == "blocked_address"

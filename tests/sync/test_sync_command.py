"""`python manage.py sync <tenant-slug>`: clients from the tenant's connections, a summary, the exit status."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from connections.models import JaggaerConnection, QboConnection
from sync.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(tenant, qbo_sandbox, jaggaer_sandbox, settings):
    settings.QBO_API_BASE = qbo_sandbox.url
    grant = qbo_sandbox.app.issue_tokens()
    QboConnection.objects.create(
        tenant=tenant, realm_id=qbo_sandbox.app.default_realm_id, status="connected",
        access_token=grant["access_token"], refresh_token=grant["refresh_token"],
        access_token_expires_at=timezone.now() + dt.timedelta(hours=1),
        refresh_token_expires_at=timezone.now() + dt.timedelta(days=100))
    JaggaerConnection.objects.create(tenant=tenant, api_base_url=jaggaer_sandbox.url, status="connected",
                                     client_id="ml-sandbox-jaggaer", client_secret="ml-sandbox-jaggaer-secret")
    return tenant


def test_the_command_runs_a_sync_and_prints_a_summary(connected):
    out = io.StringIO()
    call_command("sync", connected.slug, stdout=out)
    run = SyncRun.objects.get(tenant=connected)
    assert run.status == "succeeded" and run.trigger == "command"
    text = out.getvalue()
    assert "suppliers" in text and "succeeded" in text


def test_the_command_fails_when_the_run_fails(tenant):
    with pytest.raises(CommandError, match="not_configured"):
        call_command("sync", tenant.slug, "--entity", "suppliers", stdout=io.StringIO())
    assert SyncRun.objects.get(tenant=tenant).status == "failed"


def test_the_command_refuses_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant"):
        call_command("sync", "nobody", stdout=io.StringIO())


def test_the_command_refuses_while_another_run_holds_the_lease(tenant, django_capture_on_commit_callbacks):
    from sync.runs.lifecycle import sync_request

    with django_capture_on_commit_callbacks(execute=False):
        sync_request(tenant=tenant)
    with pytest.raises(CommandError, match="already queued or running"):
        call_command("sync", tenant.slug, stdout=io.StringIO())

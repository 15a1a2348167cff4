"""A sync asked for while a connection cannot be used is refused now (409 naming it and what to do), not queued."""

import pytest

from audit.models import Action
from connections.models import ConnectionStatus, QboConnection
from sync.models import SyncRun

pytestmark = pytest.mark.django_db


def _sync(alice, tenant, **body):
    return alice.client.post(f"/api/v1/tenants/{tenant.pk}/syncs", body, format="json")


def test_a_tenant_without_connections_gets_409_naming_both(alice, tenant):
    answer = _sync(alice, tenant)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "connection_not_usable"
    assert error["connection"] == {"system": "jaggaer", "status": "not_configured"}
    assert [c["system"] for c in error["connections"]] == ["jaggaer", "qbo"]
    assert f"PUT /api/v1/tenants/{tenant.pk}/connections/jaggaer" in error["message"]
    assert "qbo/authorize" in error["message"]
    assert not SyncRun.objects.exists()
    assert not Action.objects.filter(action="sync.request").exists()


def test_quickbooks_needing_reauthorization_is_named(alice, connected):
    tenant = connected
    QboConnection.objects.filter(tenant=tenant).update(status=ConnectionStatus.NEEDS_REAUTHORIZATION)
    answer = _sync(alice, tenant)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["connection"] == {"system": "qbo", "status": "needs_reauthorization"}
    assert "re-authorized" in error["message"]
    assert not SyncRun.objects.exists()


def test_usable_connections_start_the_sync(alice, connected, settings):
    settings.TASKS_IN_PROCESS = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    tenant = connected
    answer = _sync(alice, tenant, entities=["catalogs"])
    assert answer.status_code == 202, answer.content
    assert SyncRun.objects.filter(pk=answer.json()["id"]).exists()

"""QboClient.for_tenant: the tenant's stored realm, token provider, settings and realm limiter, end to end."""

import datetime as dt

import pytest
from django.utils import timezone

from connections.clients.calls import record_calls
from connections.clients.limiter import RealmLimiter
from connections.exceptions import NeedsReauthorization, NotConfigured
from connections.models import ConnectionStatus, QboConnection
from connections.tokens import qbo_client_for_tenant
from sandbox.qbo.app import DEFAULT_REALM, TOKEN_PATH
from sandbox.qbo.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def qbo_settings(settings, qbo_sandbox):
    settings.QBO_API_BASE = qbo_sandbox.url
    settings.QBO_TOKEN_URL = qbo_sandbox.url + TOKEN_PATH
    settings.QBO_CLIENT_ID = DEFAULT_CLIENT_ID
    settings.QBO_CLIENT_SECRET = DEFAULT_CLIENT_SECRET
    settings.HTTP_BACKOFF_BASE = 0.001
    settings.HTTP_BACKOFF_CAP = 0.01
    settings.HTTP_THROTTLE_DEFAULT_WAIT = 0.01
    return settings


def connect(tenant, server, **fields):
    tokens = server.app.issue_tokens(DEFAULT_REALM)
    now = timezone.now()
    values = {"realm_id": DEFAULT_REALM, "access_token": tokens["access_token"],
              "refresh_token": tokens["refresh_token"], "access_token_expires_at": now + dt.timedelta(hours=1),
              "refresh_token_expires_at": now + dt.timedelta(days=100), "last_refreshed_at": now,
              "status": ConnectionStatus.CONNECTED, **fields}
    return QboConnection.objects.create(tenant=tenant, **values)


def test_it_talks_to_the_tenants_company_through_the_realm_limiter(tenant, qbo_sandbox, qbo_settings):
    connect(tenant, qbo_sandbox)
    client = qbo_client_for_tenant(tenant)
    assert isinstance(client.http.limiter, RealmLimiter) and client.http.limiter.realm_id == DEFAULT_REALM
    with record_calls() as calls:
        assert client.company_info()["CompanyName"]
        assert client.count("Vendor") > 0
    assert [(c.tenant_id, c.realm_id, c.status) for c in calls] == [(tenant.pk, DEFAULT_REALM, 200)] * 2


def test_an_access_token_qbo_no_longer_accepts_is_refreshed_once(tenant, qbo_sandbox, qbo_settings):
    connection = connect(tenant, qbo_sandbox)
    old_refresh = connection.refresh_token
    qbo_sandbox.app.expire_tokens(DEFAULT_REALM)
    client = qbo_client_for_tenant(tenant)
    assert client.company_info()["CompanyName"]
    connection.refresh_from_db()
    assert connection.refresh_token != old_refresh                       # rotated and stored
    assert qbo_sandbox.log.count(status=401) == 1
    assert qbo_sandbox.log.count(method="POST", status=200) == 1         # one refresh


def test_tenants_without_a_usable_connection_get_a_connection_failure(tenant, qbo_sandbox, qbo_settings):
    with pytest.raises(NotConfigured):
        qbo_client_for_tenant(tenant)
    connection = connect(tenant, qbo_sandbox, status=ConnectionStatus.NEEDS_REAUTHORIZATION)
    tenant.refresh_from_db()
    with pytest.raises(NeedsReauthorization) as err:
        qbo_client_for_tenant(tenant)
    assert err.value.system == "qbo"
    QboConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.NOT_CONFIGURED, realm_id="")
    tenant.refresh_from_db()
    with pytest.raises(NotConfigured):
        qbo_client_for_tenant(tenant)
    assert qbo_sandbox.log.count() == 0

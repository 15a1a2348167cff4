"""JaggaerClient.for_tenant: the tenant's stored connection, dialect and token provider, end to end."""

import pytest

from connections.clients.calls import record_calls
from connections.exceptions import NotConfigured
from connections.models import ConnectionStatus, JaggaerConnection
from connections.tokens import jaggaer_client_for_tenant
from sandbox.jaggaer.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def quick_http(settings):
    settings.HTTP_BACKOFF_BASE = 0.001
    settings.HTTP_BACKOFF_CAP = 0.01
    settings.HTTP_THROTTLE_DEFAULT_WAIT = 0.01


def configure(tenant, server, **fields):
    values = {"api_base_url": server.url, "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
              "status": ConnectionStatus.CONNECTED, **fields}
    return JaggaerConnection.objects.create(tenant=tenant, **values)


def test_it_reads_with_the_tenants_dialect_and_one_cached_token(tenant, jaggaer_sandbox, quick_http):
    configure(tenant, jaggaer_sandbox, dialect={"page_size": 10})
    client = jaggaer_client_for_tenant(tenant)
    with record_calls() as calls:
        pages = list(client.iter_pages("suppliers"))
        client.get("suppliers", pages[0][0]["companyId"])
    assert [len(p) for p in pages] == [10, 10, 10, 10]
    assert all(c.tenant_id == tenant.pk for c in calls)
    token_posts = [e for e in jaggaer_sandbox.log.entries() if e["method"] == "POST"]
    assert len(token_posts) == 1                                       # one token for five calls


def test_a_revoked_token_is_replaced_once_through_the_provider(tenant, jaggaer_sandbox, quick_http):
    configure(tenant, jaggaer_sandbox)
    client = jaggaer_client_for_tenant(tenant)
    assert client.count("departments") == 7
    jaggaer_sandbox.app.expire_tokens()
    assert client.count("departments") == 7
    assert jaggaer_sandbox.log.count(status=401) == 1
    assert len([e for e in jaggaer_sandbox.log.entries() if e["method"] == "POST"]) == 2


def test_a_tenant_without_a_usable_connection_is_not_configured(tenant, jaggaer_sandbox):
    with pytest.raises(NotConfigured) as err:
        jaggaer_client_for_tenant(tenant)
    assert err.value.system == "jaggaer"
    configure(tenant, jaggaer_sandbox, client_secret=None, status=ConnectionStatus.NOT_CONFIGURED)
    tenant.refresh_from_db()
    with pytest.raises(NotConfigured):
        jaggaer_client_for_tenant(tenant)

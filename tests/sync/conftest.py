"""Clients built straight from the sandboxes, and a helper that runs a sync with them."""

import pytest

from connections.clients.http import HttpClient, StaticTokenProvider
from connections.clients.jaggaer import JaggaerClient
from connections.clients.qbo import QboClient
from sandbox import testing as sandbox_testing
from sync.models import SyncRun
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from tests.connections.support import fast_http, qbo_app  # noqa: F401  (fixtures shared with tests/connections)

# The sandbox fixtures (until the root conftest registers `sandbox.testing` as a plugin).
sandboxes = sandbox_testing.sandboxes
qbo_sandbox = sandbox_testing.qbo_sandbox
jaggaer_sandbox = sandbox_testing.jaggaer_sandbox


def _http(system, url):
    return HttpClient(system, url, max_attempts=6, backoff_base=0.01, backoff_cap=0.05, retry_after_cap=0.05,
                      throttle_default_wait=0.05)


def make_qbo_client(qbo_sandbox, tenant) -> QboClient:
    realm = qbo_sandbox.app.default_realm_id
    token = qbo_sandbox.app.issue_tokens(realm)["access_token"]
    return QboClient(api_base=qbo_sandbox.url, realm_id=realm, tokens=StaticTokenProvider(token, system="qbo"),
                     http=_http("qbo", qbo_sandbox.url), tenant_id=tenant.pk)


def make_jaggaer_client(jaggaer_sandbox, tenant) -> JaggaerClient:
    token = jaggaer_sandbox.app.issue_token()
    return JaggaerClient(api_base_url=jaggaer_sandbox.url,
                         tokens=StaticTokenProvider(token, system="jaggaer"),
                         http=_http("jaggaer", jaggaer_sandbox.url), tenant_id=tenant.pk)


@pytest.fixture
def qbo_client(qbo_sandbox, tenant):
    return make_qbo_client(qbo_sandbox, tenant)


@pytest.fixture
def jaggaer_client(jaggaer_sandbox, tenant):
    return make_jaggaer_client(jaggaer_sandbox, tenant)


@pytest.fixture
def run_sync(tenant, qbo_client, jaggaer_client):
    def run(*, full=False, entities=None, tenant_=None) -> SyncRun:
        run = sync_run_create(tenant=tenant_ or tenant, trigger=SyncRun.Trigger.COMMAND, full=full,
                              entities=entities)
        return sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client)

    return run

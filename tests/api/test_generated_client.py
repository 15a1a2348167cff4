"""A partner's generated client: openapi-python-client builds a Python client from our OpenAPI schema, and
onboarding runs through it against a live server and the sandboxes (tenant, JAGGAER, QuickBooks consent,
catalog import, alignment, a mapping, a sync)."""

import importlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from drf_spectacular.generators import SchemaGenerator

from sandbox.jaggaer.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.connections.test_oauth_qbo_flow import consent

PACKAGE = "mlc_partner_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    where = tmp_path_factory.mktemp("client")
    schema = SchemaGenerator().get_schema(request=None, public=True)
    (where / "openapi.json").write_text(json.dumps(schema, default=str))
    tool = Path(sys.executable).with_name("openapi-python-client")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(tool), "generate", "--path", str(where / "openapi.json"), "--meta", "none",
                           "--output-path", str(where / PACKAGE)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unable to" not in done.stdout + done.stderr, done.stdout + done.stderr   # every operation generated
    sys.path.insert(0, str(where))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _wait_finished(get_run, run_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        run = get_run(run_id)
        if run.status.value not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_onboarding_through_the_generated_client(generated, alice, live_server, qbo_app, jaggaer_app):
    client_module = generated("client")
    models = generated("models")
    api = lambda group, name: generated(f"api.{group}.{name}")  # noqa: E731
    client = client_module.AuthenticatedClient(base_url=live_server.url, token=alice.key, prefix="Api-Key",
                                               raise_on_unexpected_status=True)

    # 1. the tenant, retried safely with an Idempotency-Key
    key = str(uuid.uuid4())
    body = models.TenantRequest(name="Acme Manufacturing", slug="acme-mfg", time_zone="America/Chicago",
                                sync_hour=2)
    created = api("v1", "v1_tenants_create").sync_detailed(client=client, body=body, idempotency_key=key)
    assert created.status_code == 201, created.content
    tenant = created.parsed
    again = api("v1", "v1_tenants_create").sync_detailed(client=client, body=body, idempotency_key=key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.parsed.id == tenant.id

    # 2. JAGGAER, checked with a ping
    jaggaer = api("connections", "v1_tenants_connections_jaggaer_update").sync(
        tenant.id, client=client, body=models.JaggaerConnectionWriteRequest(
            api_base_url=jaggaer_app.url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET))
    assert jaggaer.client_secret_set is True
    ping = api("connections", "v1_tenants_connections_jaggaer_ping_create").sync(tenant.id, client=client)
    assert ping.ok is True and ping.checked_at.tzinfo is not None

    # 3. QuickBooks: the consent URL, the customer's consent, our callback
    start = api("connections", "v1_tenants_connections_qbo_authorize_create").sync(
        tenant.id, client=client, body=models.QboAuthorizeRequest())
    callback = requests.get(live_server.url + consent(start.authorization_url), timeout=10)
    assert callback.status_code == 200 and callback.json()["status"] == "connected", callback.text
    overview = api("connections", "v1_tenants_connections_retrieve").sync(tenant.id, client=client)
    assert overview.qbo.status.value == "connected" and overview.jaggaer.status.value == "connected"

    # 4. the catalogs, then the alignment report
    get_run = lambda run_id: api("v1", "v1_tenants_syncs_retrieve").sync(tenant.id, run_id, client=client)  # noqa
    started = api("v1", "v1_tenants_syncs_create").sync_detailed(
        tenant.id, client=client, body=models.SyncRequestRequest(entities=[models.EntitiesEnum.CATALOGS]))
    assert started.status_code == 202, started.content
    run = _wait_finished(get_run, started.parsed.id)
    assert run.status.value == "succeeded", run.error
    alignment = api("v1", "v1_tenants_alignment_retrieve").sync(tenant.id, client=client)
    unaligned = alignment.gl_account.jaggaer_without_qbo
    accounts = api("v1", "v1_tenants_catalogs_qbo_list").sync(tenant.id, client=client, page_size=500,
                                                               kind=models.V1TenantsCatalogsQboListKind.GL_ACCOUNT).results
    expense = [a for a in accounts if a.account_type == "Expense" and a.active and a.present]
    assert expense, "the QuickBooks catalog was imported"

    # 5. map a code the report names to an account that exists
    if unaligned:
        code = unaligned[0].code
        answer = api("v1", "v1_tenants_mappings_update").sync_detailed(
            tenant.id, "gl_account", code, client=client, body=models.MappingSetRequest(qbo_id=expense[0].qbo_id))
        assert answer.status_code == 200, answer.content
        mapped = answer.parsed
        assert mapped.state.value == "mapped" and mapped.qbo_id == expense[0].qbo_id

    # 6. a first sync of suppliers, followed to its end, and the lists a portal shows
    started = api("v1", "v1_tenants_syncs_create").sync(
        tenant.id, client=client, body=models.SyncRequestRequest(entities=[models.EntitiesEnum.SUPPLIERS]))
    run = _wait_finished(get_run, started.id)
    assert run.status.value == "succeeded"
    assert run.progress.step == "suppliers" and run.progress.total
    holds = api("holds", "v1_tenants_holds_list").sync(tenant.id, client=client)
    assert all(hold.id and hold.message for hold in holds.results)
    runs = api("v1", "v1_tenants_syncs_list").sync(tenant.id, client=client)
    assert {r.id for r in runs.results} >= {run.id}

    # 7. an error comes back typed, with its code and the request id
    refused = api("audit", "v1_tenants_records_replay_create").sync_detailed(
        tenant.id, "suppliers", "C-NOT-THERE", client=client, x_request_id="portal-onboarding-1")
    assert refused.status_code == 404
    assert isinstance(refused.parsed, models.Error)
    assert refused.parsed.error.code == "not_in_jaggaer"
    assert refused.parsed.error.request_id == "portal-onboarding-1"

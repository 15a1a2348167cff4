"""Fixtures of the audit tests: a tenant connected to both sandboxes, a first sync, a clean call buffer."""

import pytest

from audit.services import api_calls_discard
from sync.models import SyncRun
from sync.runs.lifecycle import sync_request, sync_run_perform
from tests.connections.support import (  # noqa: F401  (fixtures)
    configured_jaggaer,
    connected_qbo,
    fast_http,
    jaggaer_app,
    qbo_app,
    secret_guard,
)
from tests.sync.conftest import jaggaer_client, qbo_client, run_sync  # noqa: F401

SUPPLIER_STEPS = ["catalogs", "suppliers"]


@pytest.fixture(autouse=True)
def clean_call_buffer():
    """Calls buffered by an earlier test (or none at all) must not land in this one's rows."""
    api_calls_discard()
    yield
    api_calls_discard()


@pytest.fixture
def connected(tenant, qbo_app, jaggaer_app):  # noqa: F811
    """Alice's tenant with both connections stored, as onboarding leaves them."""
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app)
    return tenant


@pytest.fixture
def sync_now(connected):
    """Run a sync the way a worker does (lease, clients from the stored connections)."""

    def run(*, entities=None, full=False) -> SyncRun:
        queued = sync_request(tenant=connected, entities=entities or SUPPLIER_STEPS, full=full, enqueue=False)
        return sync_run_perform(run_id=queued.pk)

    return run

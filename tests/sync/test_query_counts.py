"""Database queries per run grow with pages and batches, not with records."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sandbox.datagen import load_dataset
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from tests.factories import TenantFactory
from tests.sync.conftest import make_jaggaer_client, make_qbo_client

pytestmark = pytest.mark.django_db


def _measure(qbo_sandbox, jaggaer_sandbox, alice, scale):
    data = load_dataset("small", 42, scale)
    qbo_sandbox.app.reset(data)
    jaggaer_sandbox.app.reset(data)
    qbo_sandbox.log.clear()
    jaggaer_sandbox.log.clear()
    tenant = TenantFactory(partner=alice.partner)
    qbo, jaggaer = make_qbo_client(qbo_sandbox, tenant), make_jaggaer_client(jaggaer_sandbox, tenant)
    sync_run_execute(run=sync_run_create(tenant=tenant, entities=["catalogs"]), qbo=qbo, jaggaer=jaggaer)
    with CaptureQueriesContext(connection) as queries:
        run = sync_run_execute(run=sync_run_create(tenant=tenant, entities=["suppliers"]), qbo=qbo, jaggaer=jaggaer)
    batches = qbo_sandbox.log.count(method="POST")
    pages = sum(1 for e in jaggaer_sandbox.log.entries() if "companyprofiles" in e["path"])
    assert run.status == "succeeded", (run.error_code, run.error_message)
    records = sum(run.counts["suppliers"].values())
    return len(queries), batches, pages, records


def test_queries_grow_with_batches_and_pages_not_records(qbo_sandbox, jaggaer_sandbox, alice):
    small = _measure(qbo_sandbox, jaggaer_sandbox, alice, 1)
    large = _measure(qbo_sandbox, jaggaer_sandbox, alice, 12)
    q1, b1, p1, r1 = small
    q2, b2, p2, r2 = large
    assert r2 >= 10 * r1 and b2 > b1 and p2 > p1, (small, large)
    # A fixed cost per run (the run's rows, the QuickBooks snapshot and its CDC cursor, catalogs, holds, cursor,
    # the record identifiers, the outbound call log, the partner's webhook events), a few queries per page and
    # per batch, none per record.
    for queries, batches, pages, _ in (small, large):
        assert queries <= 30 + 4 * pages + 8 * batches, (small, large)
    assert (q2 - q1) < (r2 - r1) / 4, (small, large)

"""JAGGAER's pages are processed in groups of about SYNC_PAGE_RECORDS records: one part-filled QBO batch per
group, not per JAGGAER page; a record JAGGAER brings twice in one group is planned once."""

import pytest

from connections.clients.http import StaticTokenProvider
from connections.clients.jaggaer import JaggaerClient
from sandbox.datagen import load_dataset
from sync.pipeline.purchase_orders import PurchaseOrderStep
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from tests.factories import TenantFactory
from tests.sync.conftest import _http, make_qbo_client

pytestmark = pytest.mark.django_db

JAGGAER_PAGE = 7          # records per JAGGAER page: far from a multiple of 30


def _first_load(qbo_sandbox, jaggaer_sandbox, alice) -> tuple[int, int, int]:
    """(batches, vendors written, JAGGAER supplier pages) of a first load of the suppliers."""
    data = load_dataset("small", 42, 2)
    qbo_sandbox.app.reset(data)
    jaggaer_sandbox.app.reset(data)
    tenant = TenantFactory(partner=alice.partner)
    qbo = make_qbo_client(qbo_sandbox, tenant)
    jaggaer = JaggaerClient(api_base_url=jaggaer_sandbox.url, dialect={"page_size": JAGGAER_PAGE},
                            tokens=StaticTokenProvider(jaggaer_sandbox.app.issue_token(), system="jaggaer"),
                            http=_http("jaggaer", jaggaer_sandbox.url), tenant_id=tenant.pk)
    sync_run_execute(run=sync_run_create(tenant=tenant, entities=["catalogs"]), qbo=qbo, jaggaer=jaggaer)
    qbo_sandbox.log.clear()
    jaggaer_sandbox.log.clear()
    run = sync_run_execute(run=sync_run_create(tenant=tenant, entities=["suppliers"]), qbo=qbo, jaggaer=jaggaer)
    assert run.status == "succeeded", (run.error_code, run.error_message)
    batches = sum(1 for e in qbo_sandbox.log.entries() if e["method"] == "POST" and e["path"].endswith("/batch"))
    written = run.counts["suppliers"].get("created", 0) + run.counts["suppliers"].get("updated", 0)
    pages = sum(1 for e in jaggaer_sandbox.log.entries() if "companyprofiles" in e["path"])
    return batches, written, pages


def test_a_first_load_fills_its_batches_across_jaggaer_pages(qbo_sandbox, jaggaer_sandbox, alice, settings):
    batches, written, pages = _first_load(qbo_sandbox, jaggaer_sandbox, alice)
    assert 60 < written <= settings.SYNC_PAGE_RECORDS and pages > 10, (written, pages)
    assert batches == -(-written // 30), (batches, written)           # every batch full but the last

    settings.SYNC_PAGE_RECORDS = 1            # each JAGGAER page on its own: a part-filled batch each
    ungrouped, written_again, _ = _first_load(qbo_sandbox, jaggaer_sandbox, alice)
    assert written_again == written and ungrouped > batches + 5, (ungrouped, batches)


def test_a_record_jaggaer_brings_twice_in_a_group_is_taken_once_as_last_seen(settings):
    settings.SYNC_PAGE_RECORDS = 3
    step = PurchaseOrderStep()
    first, changed = {"poId": "P1", "status": "Draft"}, {"poId": "P1", "status": "Approved"}
    no_id = {"status": "Approved"}
    groups = list(step.processing_pages([[first, {"poId": "P2"}], [changed, {"poId": 3}, no_id], [{"poId": "P4"}]]))
    assert groups == [[changed, {"poId": "P2"}, {"poId": 3}, no_id], [{"poId": "P4"}]]

"""A first load asks QBO which DocNumbers it holds once, up front, instead of one look-up query per page: on a
company with few documents, and only there; a document typed into QuickBooks while the load runs is still
found and linked, never written twice."""

from collections import Counter
from decimal import Decimal

import pytest

from audit.models import RecordEvent
from sync.models import BillLink, SyncRun
from sync.pipeline.documents import DocNumberIndex
from sync.pipeline.invoices import InvoiceStep
from tests.sync.helpers import capture_queries, count_queries, look_ups
from tests.sync.test_bills_no_duplicates import assert_no_duplicates

pytestmark = pytest.mark.django_db


def test_a_first_load_on_a_company_with_no_documents_counts_them_and_sends_no_docnumber_look_up(
        run_sync, qbo_sandbox, qbo_client, tenant):
    assert not any(qbo_sandbox.app.state(e) for e in ("PurchaseOrder", "Bill", "VendorCredit"))
    sent = capture_queries(qbo_client)
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.counts["purchase_orders"]["created"] and run.counts["invoices"]["created"]
    assert count_queries(sent) == ["Bill", "PurchaseOrder", "VendorCredit"]
    assert look_ups(sent) == Counter(), sent
    assert_no_duplicates(qbo_sandbox, tenant)


def test_the_same_first_load_looks_up_per_page_when_the_index_is_off(run_sync, qbo_sandbox, qbo_client, tenant,
                                                                      settings):
    settings.SYNC_DOCNUMBER_INDEX_MAX = 0
    sent = capture_queries(qbo_client)
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert count_queries(sent) == []
    assert look_ups(sent)["PurchaseOrder"] >= 1 and look_ups(sent)["Bill"] >= 1
    assert_no_duplicates(qbo_sandbox, tenant)


def test_a_daily_run_never_reads_the_index(run_sync, qbo_sandbox, jaggaer_sandbox, qbo_client, tenant):
    run_sync()
    sent = capture_queries(qbo_client)
    run_sync()
    assert count_queries(sent) == []


def test_a_bill_typed_into_quickbooks_after_the_index_was_read_is_linked_not_written_twice(
        run_sync, qbo_sandbox, tenant, monkeypatch, settings):
    """The index is read (at the step's first look-up), then a person types a bill with the number and vendor
    of the invoice being planned: the index is older than its age bound by the time the page asks it, so what QBO
    changed since it was read is read too, the page looks the number up and links that bill."""
    settings.SYNC_DOCNUMBER_INDEX_MAX_AGE_SECONDS = 0       # every look-up finds the index too old
    planning: list[tuple] = []
    typed: list[tuple[str, str, str]] = []
    original_existing, original_read = InvoiceStep._existing, DocNumberIndex.read.__func__

    def existing(self, ctx, page, draft, doc, vendor_id):
        planning.append((draft, doc, vendor_id))
        return original_existing(self, ctx, page, draft, doc, vendor_id)

    def read(cls, qbo, entities, **kwargs):
        index = original_read(cls, qbo, entities, **kwargs)
        draft, doc, vendor_id = planning[-1]
        if "Bill" in entities and index is not None:
            account = next(a for a in qbo_sandbox.app.state("Account") if a.get("AccountType") == "Expense")
            obj = qbo_sandbox.app.create(draft.entity, {
                "VendorRef": {"value": vendor_id}, "DocNumber": doc,
                "Line": [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": float(draft.total or Decimal(1)),
                          "AccountBasedExpenseLineDetail": {"AccountRef": {"value": str(account["Id"])}}}]})
            typed.append((draft.invoice_id, str(obj["Id"]), draft.entity, doc))
        return index

    monkeypatch.setattr(InvoiceStep, "_existing", existing)
    monkeypatch.setattr(DocNumberIndex, "read", classmethod(read))
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    [(invoice_id, qbo_id, entity, doc)] = typed
    row = RecordEvent.objects.get(run_id=run.pk, entity="invoices", source_id=invoice_id)
    assert (row.reason, row.qbo_id) == ("linked_existing", qbo_id), row.message
    assert BillLink.objects.get(tenant=tenant, jaggaer_invoice_id=invoice_id).qbo_id == qbo_id
    assert [b["Id"] for b in qbo_sandbox.app.state(entity) if b["DocNumber"] == doc] == [qbo_id]
    assert_no_duplicates(qbo_sandbox, tenant)


@pytest.mark.parametrize("answer", ["no_total_count", "refused"])
def test_a_count_quickbooks_does_not_answer_with_a_number_means_per_page_look_ups(
        run_sync, qbo_sandbox, qbo_client, tenant, answer):
    """An implementation that answers `select count(*)` without a totalCount, or refuses it (400, code 4000):
    the run looks up per page."""
    real = qbo_client.http.request
    instead = {"no_total_count": "select%20%2A", "refused": "select%20count%28%2A%29%20%2A"}[answer]

    def request(method, path, **kwargs):
        if "select%20count" in path:     # a query that matched nothing (no totalCount), or one QBO cannot parse
            path = path.replace("select%20count%28%2A%29", instead) + "%20where%20Id%20%3D%20%27-1%27"
        return real(method, path, **kwargs)

    qbo_client.http.request = request
    sent = capture_queries(qbo_client)
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert look_ups(sent)["PurchaseOrder"] >= 1 and look_ups(sent)["Bill"] >= 1
    assert qbo_sandbox.log.count(status=400) == (2 if answer == "refused" else 0)     # one per step
    assert_no_duplicates(qbo_sandbox, tenant)

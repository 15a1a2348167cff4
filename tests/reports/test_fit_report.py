"""The fit report against both sandboxes: exact (the real sync that follows does the same to every record),
writes nothing, and reads within its page cap."""

from collections import Counter

import pytest

from audit.models import RecordEvent
from core.actor import SYSTEM
from reports.fit import fit_report_perform, fit_report_request
from reports.models import FitRecord, ReportStatus
from sync.models import BillLink, Cursor, Hold, PurchaseOrderLink, QboCatalogItem, SyncRun, VendorLink

pytestmark = pytest.mark.django_db


def perform(tenant, qbo_client, jaggaer_client, **kwargs):
    report = fit_report_request(tenant=tenant, actor=SYSTEM, enqueue=False, **kwargs)
    return fit_report_perform(report_id=report.pk, qbo=qbo_client, jaggaer=jaggaer_client)


def last_events(run) -> dict:
    out = {}
    for row in RecordEvent.objects.filter(run_id=run.pk).order_by("id"):
        out[(row.entity, row.source_id)] = (row.outcome, row.reason)
    return out


def test_the_fit_report_predicts_every_record_of_the_real_sync_exactly(tenant, qbo_client, jaggaer_client,
                                                                        run_sync, qbo_sandbox):
    report = perform(tenant, qbo_client, jaggaer_client, max_pages=1000)
    assert report.status == ReportStatus.SUCCEEDED, report.error_message
    assert not report.capped
    predicted = {(r.entity, r.source_id): (r.outcome, r.reason) for r in FitRecord.objects.filter(report=report)}
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    actual = last_events(run)
    assert len(actual) > 200
    differences = {k: (predicted.get(k), actual.get(k)) for k in set(predicted) | set(actual)
                   if predicted.get(k) != actual.get(k)}
    assert differences == {}
    held = Counter(reason for outcome, reason in actual.values() if outcome == "held")
    assert len(held) >= 5, held          # several hold reasons, all predicted
    predictions = Counter(r.prediction for r in FitRecord.objects.filter(report=report))
    assert predictions["create"] > 100 and predictions["hold"] > 10 and predictions["skip"] > 0


def test_the_fit_report_writes_nothing_to_quickbooks_nor_to_our_tables(tenant, qbo_client, jaggaer_client,
                                                                     qbo_sandbox):
    vendors_before = len(qbo_sandbox.app.state("Vendor"))
    report = perform(tenant, qbo_client, jaggaer_client)
    assert report.status == ReportStatus.SUCCEEDED, report.error_message
    posts = [e for e in qbo_sandbox.log.entries() if e["method"] == "POST" and "/query" not in e["endpoint"]]
    assert posts == []
    assert len(qbo_sandbox.app.state("Vendor")) == vendors_before
    for model in (VendorLink, PurchaseOrderLink, BillLink, Hold, Cursor, QboCatalogItem, SyncRun, RecordEvent):
        assert not model.objects.exists(), model
    summary = report.summary
    assert summary["budget"]["batches"] > 0 and summary["budget"]["reads"] > 0
    assert summary["budget"]["seconds"] > 0
    assert summary["mapping_gaps"] == sorted(summary["mapping_gaps"], key=lambda g: -g["records_blocked"])
    linked = FitRecord.objects.filter(report=report, prediction="link")
    assert all(r.qbo_id and r.rule for r in linked)
    assert not FitRecord.objects.filter(report=report, qbo_id__startswith="dry-").exists()
    assert not FitRecord.objects.filter(report=report, message__contains="dry-").exists()
    created = FitRecord.objects.filter(report=report, prediction="create", entity="suppliers").first()
    assert "(new)" in created.message


def test_a_capped_fit_report_is_marked_as_a_sample(tenant, qbo_client, jaggaer_client, jaggaer_sandbox):
    jaggaer_client.dialect["page_size"] = 20
    report = perform(tenant, qbo_client, jaggaer_client, max_pages=1)
    assert report.status == ReportStatus.SUCCEEDED, report.error_message
    assert report.capped
    sample = report.summary["sample"]
    assert sample["capped"] and "invoices" in sample["capped_entities"]
    assert all(n <= 1 for n in sample["pages_read"].values())
    assert sample["jaggaer_totals"]["invoices"] > 0
    assert report.summary["budget"]["extrapolated"]["factor"] > 1


@pytest.mark.parametrize("page_size", [10, 100])
def test_fit_report_quickbooks_requests_grow_with_pages_not_records(tenant, qbo_client, jaggaer_client, page_size,
                                                                    qbo_sandbox):
    jaggaer_client.dialect["page_size"] = page_size
    report = perform(tenant, qbo_client, jaggaer_client, max_pages=1000)
    records = FitRecord.objects.filter(report=report).count()
    pages = sum(report.summary["sample"]["pages_read"].values())
    reads = report.summary["budget"]["reads"]
    # every request the sandbox saw is a read the report counted, and there are a few per page, not per record
    assert reads == len(qbo_sandbox.log.entries())
    assert records > 250
    assert reads <= pages + 25
    assert reads < records / 5


@pytest.mark.django_db(transaction=True)
def test_a_token_refreshed_during_the_dry_run_outlives_its_rollback(tenant, qbo_app, jaggaer_sandbox):
    from connections.models import QboConnection
    from core.tenancy import tenant_scope
    from tests.connections.support import configured_jaggaer, connected_qbo, token_calls

    with tenant_scope(tenant):
        connection = connected_qbo(tenant, qbo_app)
        configured_jaggaer(tenant, jaggaer_sandbox)
        old_refresh = connection.refresh_token
        report = fit_report_request(tenant=tenant, actor=SYSTEM, enqueue=False)
    # the tokens pass the check before the dry run, then QuickBooks refuses them inside it: the refresh commits
    # on its own connection while the dry run's transaction is still open, and survives its rollback
    qbo_app.app.expire_tokens()
    report = fit_report_perform(report_id=report.pk)
    assert report.status == ReportStatus.SUCCEEDED, report.error_message
    assert token_calls(qbo_app) == 1
    with tenant_scope(tenant):
        stored = QboConnection.objects.get(pk=connection.pk)
    assert stored.refresh_token != old_refresh and stored.access_token != connection.access_token
    assert not VendorLink.objects.exists() and not Hold.objects.exists()

"""The month-end reconciliation against both sandboxes: every finding kind made by the QuickBooks sandbox's
control API, with its severity, both sides and its action, and QuickBooks read in bulk."""

import datetime as dt

import pytest

from core.actor import SYSTEM
from reports.models import Finding, ReportStatus
from reports.reconcile import month_period, reconciliation_perform, reconciliation_request
from sync.models import BillLink, PurchaseOrderLink, SyncRun, VendorLink
from tests.sync.helpers import DATASET
from tests.webhooks.conftest import add_endpoint

pytestmark = pytest.mark.django_db

MONTH = "2026-10"
INVOICES = {i["invoiceId"]: i for i in DATASET.jaggaer["invoices"]}
POS = {p["poId"]: p for p in DATASET.jaggaer["purchase_orders"]}


def reconcile(tenant, qbo_client, jaggaer_client, month=MONTH):
    found = reconciliation_request(tenant=tenant, actor=SYSTEM, month=month, enqueue=False)
    return reconciliation_perform(reconciliation_id=found.pk, qbo=qbo_client, jaggaer=jaggaer_client)


def in_month(value) -> bool:
    return str(value).startswith(MONTH)


def october_bills(tenant, *, count: int) -> list[BillLink]:
    links = [link for link in BillLink.objects.filter(tenant=tenant, qbo_entity="Bill")
             if in_month(INVOICES[link.jaggaer_invoice_id]["invoiceDate"])
             and INVOICES[link.jaggaer_invoice_id]["workflowStatus"] == "Approved"]
    assert len(links) >= count
    return links[:count]


def test_the_month_period_is_a_calendar_month_in_the_tenant_zone():
    assert month_period(month="2026-11", time_zone="UTC") == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    now = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)       # still 30 November in Los Angeles
    assert month_period(month=None, time_zone="America/Los_Angeles", now=now) == (
        dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert month_period(month=None, time_zone="Europe/Paris", now=now) == (dt.date(2026, 11, 1),
                                                                           dt.date(2026, 11, 30))


def test_each_discrepancy_made_in_quickbooks_is_a_finding_with_its_action(tenant, run_sync, qbo_sandbox,
                                                                          qbo_client, jaggaer_client):
    assert run_sync().status == SyncRun.Status.SUCCEEDED
    app = qbo_sandbox.app
    vendor_links = list(VendorLink.objects.filter(tenant=tenant).order_by("jaggaer_company_id"))
    inactive, deleted, twin = vendor_links[0], vendor_links[1], vendor_links[2]
    app.deactivate("Vendor", inactive.qbo_vendor_id)
    app.delete_entity("Vendor", deleted.qbo_vendor_id)
    twin_name = app.find("Vendor", Id=twin.qbo_vendor_id)[0]["DisplayName"]
    extra = app.create("Vendor", {"DisplayName": twin_name.replace(" ", "  ", 1) if " " in twin_name
                                  else f" {twin_name} "})
    edited, gone, paid, copied = october_bills(tenant, count=4)
    app.edit("Bill", edited.qbo_id, {"TotalAmt": 123456.78, "Balance": 123456.78, "TxnDate": "2026-10-31"})
    app.delete_entity("Bill", gone.qbo_id)
    app.mark_bill_paid(paid.qbo_id)
    original = app.find("Bill", Id=copied.qbo_id)[0]
    duplicate = app.create("Bill", {k: v for k, v in original.items()
                                    if k in ("VendorRef", "TxnDate", "APAccountRef")} | {"DocNumber": "COPY-1"}
                           | {"Line": [{"Amount": 10, "DetailType": "AccountBasedExpenseLineDetail",
                                        "AccountBasedExpenseLineDetail": original["Line"][0][
                                            "AccountBasedExpenseLineDetail"]}]})
    app.edit("Bill", duplicate["Id"], {"DocNumber": original["DocNumber"]})   # a person overrides QBO's warning
    billed = {po for link in BillLink.objects.filter(tenant=tenant) for po in link.po_ids}
    po_links = [link for link in PurchaseOrderLink.objects.filter(tenant=tenant).exclude(qbo_po_id="")
                if in_month(POS[link.jaggaer_po_id]["orderDate"])]
    po_gone = next(link for link in po_links if link.qbo_po_id not in billed)   # QBO keeps a billed PO
    po_closed = next(link for link in po_links if link != po_gone and POS[link.jaggaer_po_id]["status"] == "Closed"
                     and app.find("PurchaseOrder", Id=link.qbo_po_id)[0]["POStatus"] == "Closed")
    app.delete_entity("PurchaseOrder", po_gone.qbo_po_id)
    app.edit("PurchaseOrder", po_closed.qbo_po_id, {"POStatus": "Open"})     # reopened in QuickBooks

    found = reconcile(tenant, qbo_client, jaggaer_client)
    assert found.status == ReportStatus.SUCCEEDED, found.error_message
    findings = list(Finding.objects.filter(reconciliation=found))

    def one(kind, **fields) -> Finding:
        matches = [f for f in findings if f.kind == kind and all(getattr(f, k) == v for k, v in fields.items())]
        assert len(matches) == 1, (kind, fields, [(f.kind, f.jaggaer_id, f.qbo_id) for f in findings])
        return matches[0]

    f = one("vendor_inactive", jaggaer_id=inactive.jaggaer_company_id)
    assert (f.severity, f.action, f.qbo_value["active"]) == ("high", "manual", False)
    assert "make vendor" in f.action_detail
    assert one("vendor_missing", jaggaer_id=deleted.jaggaer_company_id).action == "forget_link"
    assert one("vendor_not_linked", jaggaer_id=twin.jaggaer_company_id, qbo_id=extra["Id"]).severity == "medium"
    dup = [f for f in findings if f.kind == "duplicate_vendor"
           and extra["Id"] in {v["id"] for v in f.qbo_value["vendors"]}]
    assert len(dup) == 1 and dup[0].action == "manual"
    f = one("bill_differs", jaggaer_id=edited.jaggaer_invoice_id)
    assert f.qbo_value["total"] == "123456.78" and f.qbo_value["date"] == "2026-10-31"
    assert f.jaggaer_value["total"] != "123456.78" and f.action == "forget_link"
    assert one("bill_missing", jaggaer_id=gone.jaggaer_invoice_id).action == "forget_link"
    f = one("bill_paid", jaggaer_id=paid.jaggaer_invoice_id)
    assert (f.severity, f.jaggaer_value["status"], f.qbo_value["balance"]) == ("low", "Approved", "0.0") or \
        float(f.qbo_value["balance"]) == 0
    f = one("duplicate_bill", qbo_id=min(copied.qbo_id, duplicate["Id"], key=int))
    assert set(f.qbo_value["bills"]) == {copied.qbo_id, duplicate["Id"]} and f.severity == "high"
    assert one("po_missing", jaggaer_id=po_gone.jaggaer_po_id).action == "forget_link"
    f = one("po_status_differs", jaggaer_id=po_closed.jaggaer_po_id)
    assert (f.qbo_value["status"], f.jaggaer_value["expected_qbo_status"], f.severity) == ("Open", "Closed", "medium")
    # what the sync held shows with the hold's own release: an approved invoice held for a mapping is "map"
    held = [f for f in findings if f.kind == "invoice_without_bill"]
    assert held and all(f.jaggaer_value.get("hold_reason") for f in held)
    assert {"map", "manual"} <= {f.action for f in held}
    assert any(f.kind == "supplier_without_vendor" and f.jaggaer_value.get("hold_reason") for f in findings)
    assert found.summary["findings"] == len(findings)
    assert set(found.summary["kinds"]) >= {"vendor_inactive", "vendor_missing", "vendor_not_linked",
                                           "duplicate_vendor", "bill_differs", "bill_missing", "bill_paid",
                                           "duplicate_bill", "po_missing", "po_status_differs",
                                           "invoice_without_bill", "supplier_without_vendor"}


def test_a_month_that_matches_has_no_bill_or_po_findings(tenant, run_sync, qbo_client, jaggaer_client):
    assert run_sync().status == SyncRun.Status.SUCCEEDED
    found = reconcile(tenant, qbo_client, jaggaer_client)
    kinds = found.summary["kinds"]
    for kind in ("bill_differs", "bill_missing", "bill_paid", "duplicate_bill", "po_missing", "po_status_differs",
                 "vendor_inactive", "vendor_missing", "vendor_not_linked"):
        assert kind not in kinds, kinds


def test_reconciliation_reads_quickbooks_by_pages_and_id_lists_not_per_record(tenant, run_sync, qbo_sandbox,
                                                                              qbo_client, jaggaer_client):
    run_sync()
    qbo_sandbox.log.clear()
    found = reconcile(tenant, qbo_client, jaggaer_client)
    entries = qbo_sandbox.log.entries()
    compared = BillLink.objects.filter(tenant=tenant).count() + VendorLink.objects.filter(tenant=tenant).count()
    assert compared > 100
    assert found.summary["requests"]["qbo"] == len(entries)
    # vendors (1 page), bills and credits by Id lists, the month's bills (1 page), POs by an Id list
    assert len(entries) <= 6
    assert all("/query" in e["endpoint"] for e in entries)


def test_a_finished_reconciliation_sends_the_partner_one_signed_event(
        alice, tenant, run_sync, qbo_client, jaggaer_client, receiver, django_capture_on_commit_callbacks):
    assert run_sync().status == SyncRun.Status.SUCCEEDED
    endpoint = add_endpoint(alice, receiver.url, event_types=["reconciliation.completed"])
    with django_capture_on_commit_callbacks(execute=True):
        found = reconcile(tenant, qbo_client, jaggaer_client)
    assert found.status == ReportStatus.SUCCEEDED
    assert receiver.types() == ["reconciliation.completed"]
    data = receiver.received[0].verify(endpoint["secret"])["data"]
    assert data == {"tenant_id": str(tenant.pk), "period": MONTH, "report_id": str(found.pk),
                    "counts_by_severity": found.summary["severities"]}

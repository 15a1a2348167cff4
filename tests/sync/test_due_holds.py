"""A run plans a held record again only when what it waits on may have changed (sync/holds/due.py): a hold that is
not due gets no plan, no audit row, no hold rewrite and no QBO request; its trigger makes it due, and it is then
released or held again."""

import datetime as dt
import time
from collections import Counter

import pytest
from django.utils import timezone

from audit.models import RecordEvent
from core.actor import SYSTEM
from sync.links.services import link_forget
from sync.mappings.services import mapping_set, sync_settings_update
from sync.models import Cursor, Hold, PurchaseOrderLink, QboCatalogItem, SyncRun
from sync.pipeline.invoices import InvoiceStep
from tests.sync.helpers import CASES, DATASET, case_ids
from tests.sync.test_purchase_orders import POS, event, hold_of, single_department
from tests.webhooks.conftest import add_endpoint, receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

INVOICES = {i["invoiceId"]: i for i in DATASET.jaggaer["invoices"]}


def planned(run, entity) -> set[str]:
    """Source ids the run wrote an audit row for (every planned record gets one)."""
    return set(RecordEvent.objects.filter(run_id=run.pk, entity=entity).values_list("source_id", flat=True))


def holds(tenant, entity=None) -> dict[tuple[str, str], tuple]:
    rows = Hold.objects.for_tenant(tenant)
    if entity:
        rows = rows.filter(entity=entity)
    return {(h.entity, h.source_id): (h.reason, h.last_held_at, h.last_run_id) for h in rows}


def test_a_no_change_run_plans_no_held_record_and_still_counts_them(
        alice, tenant, receiver, run_sync, qbo_sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    first = run_sync()
    assert first.status == SyncRun.Status.SUCCEEDED, first.error_message
    # an invoice held over-billing a PO line that a later bill of the same run billed too is due once more
    settled = run_sync()
    assert sum(settled.counts["invoices"].get(k, 0) for k in ("held", "still_held")) == \
        sum(first.counts["invoices"].get(k, 0) for k in ("held", "still_held"))
    before = holds(tenant)
    assert len(before) > 20
    endpoint = add_endpoint(alice, receiver.url)
    qbo_sandbox.log.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert holds(tenant) == before                       # not rewritten: same reason, time and run
    for entity in ("suppliers", "purchase_orders", "invoices"):
        held = {sid for (e, sid) in before if e == entity}
        assert not planned(run, entity) & held
        assert run.counts[entity].get("still_held", 0) == len(held)
        assert not run.counts[entity].get("held")
    assert not any(e["method"] == "POST" for e in qbo_sandbox.log.entries())
    # the partner is still told every record on hold
    assert receiver.types() == ["sync.completed_with_holds", "records.held"]
    outcome, digest = (r.verify(endpoint["secret"])["data"] for r in receiver.received)
    assert outcome["held"] == digest["total"] == len(before)
    assert digest["by_reason"] == dict(Counter(reason for reason, _, _ in before.values()))


def test_a_fixed_mapping_releases_what_waits_on_it_on_the_next_run(run_sync, tenant):
    invoice_id = case_ids("invoice_gl_without_qbo", "invoices")[0]
    gl_code = CASES["invoice_gl_without_qbo"]["gl"][0]
    run_sync()
    assert hold_of(tenant, invoice_id, "invoices").reason == "gl_unmapped"
    run = run_sync()
    assert invoice_id not in planned(run, "invoices")
    expense = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", number="6200")
    mapping_set(tenant=tenant, kind="gl_account", code=gl_code, qbo_id=expense.qbo_id)
    run = run_sync()
    assert event(run, invoice_id, "invoices").outcome == "created"
    assert hold_of(tenant, invoice_id, "invoices") is None


def test_changed_settings_plan_the_settings_holds_again_and_a_new_class_releases_them(
        run_sync, qbo_sandbox, tenant):
    mixed = [p for p in POS.values() if not single_department(p) and p["status"] in ("Approved", "Issued", "Closed")
             and p["currency"] == "USD" and "poNumber" in p]
    run_sync()
    # QBO stamps whole seconds, and a class stamped in the second of the last class check counts as changed (never
    # missed): the company's own classes, made with it a moment ago, must lie in an earlier second than the checks
    time.sleep(1.1)
    held = [p["poId"] for p in mixed if (h := hold_of(tenant, p["poId"])) and h.reason == "multiple_departments"]
    assert held
    assert not planned(run_sync(), "purchase_orders") & set(held)
    sync_settings_update(tenant=tenant, department_policy="class_per_line")
    run = run_sync()
    assert set(held) <= planned(run, "purchase_orders")
    assert {hold_of(tenant, p).reason for p in held} == {"class_missing"}
    assert not planned(run_sync(), "purchase_orders") & set(held)          # held again, waits for the class

    for name in {d["name"] for d in DATASET.jaggaer["departments"]}:
        qbo_sandbox.app.create("Class", {"Name": name})
    run = run_sync()                                   # the run's CDC brings the new classes
    assert any(event(run, p).outcome == "created" for p in held)


def test_an_invoice_waiting_on_a_po_is_left_alone_until_the_po_is_written_in_the_same_run(
        run_sync, jaggaer_sandbox, tenant):
    invoice_id = case_ids("invoice_po_unknown", "invoices")[0]
    number = CASES["invoice_po_unknown"]["poNumber"][0]
    run_sync()
    assert hold_of(tenant, invoice_id, "invoices").reason == "po_not_found"
    assert invoice_id not in planned(run_sync(), "invoices")

    source = INVOICES[invoice_id]
    jaggaer_sandbox.app.upsert("purchase_orders", {
        "poId": "PO-99201", "poNumber": number, "status": "Issued", "orderDate": "2026-09-01",
        "supplier": source["supplier"], "currency": "USD", "total": source["total"],
        "accountingSegments": source["lineList"][0]["accountingSegments"],
        "lineList": [{k: v for k, v in ln.items() if k not in ("poNumber", "poLineNumber")}
                     for ln in source["lineList"]]})
    run = run_sync()
    assert event(run, "PO-99201").outcome == "created"
    assert event(run, invoice_id, "invoices").outcome == "created"
    assert hold_of(tenant, invoice_id, "invoices") is None


def test_a_po_of_a_held_supplier_is_left_alone_until_the_supplier_gets_its_vendor_link(
        run_sync, jaggaer_sandbox, tenant):
    run_sync()
    second = case_ids("duplicate_supplier_case")[1]
    pos = [p["poId"] for p in POS.values() if p["supplier"]["companyId"] == second
           and p["status"] in ("Approved", "Issued", "Closed") and single_department(p) and p["currency"] == "USD"]
    assert pos and all(hold_of(tenant, p).reason == "supplier_held" for p in pos)
    run = run_sync()
    assert second not in planned(run, "suppliers") and not planned(run, "purchase_orders") & set(pos)
    jaggaer_sandbox.app.rename_supplier(second, "Acme Castings Ltd - Springfield")
    run = run_sync()
    assert event(run, second, "suppliers").outcome == "created"
    for po_id in pos:
        assert event(run, po_id).outcome == "created" and hold_of(tenant, po_id) is None


def test_documents_held_for_their_currency_are_released_once_multicurrency_is_on(run_sync, qbo_sandbox, tenant):
    foreign = [p for p in case_ids("non_usd", "purchase_orders") if single_department(POS[p])
               and POS[p]["status"] in ("Approved", "Issued", "Closed")]
    run_sync()
    assert foreign and all(hold_of(tenant, p).reason == "currency_unsupported" for p in foreign)
    qbo_sandbox.log.clear()
    run = run_sync()          # a person's run: its CDC answer says multicurrency is still off (no /preferences)
    assert not planned(run, "purchase_orders") & set(foreign)
    assert sum(e["path"].endswith("/preferences") for e in qbo_sandbox.log.entries()) == 0
    qbo_sandbox.app.set_multicurrency(True)
    run = run_sync()
    assert any(event(run, p).outcome == "created" for p in foreign)


def test_a_scheduled_run_reads_kept_preferences_again_at_most_daily_for_documents_held_on_currency(
        tenant, qbo_client, jaggaer_client, run_sync, qbo_sandbox):
    from sync.runs.lifecycle import sync_run_create, sync_run_execute

    foreign = [p for p in case_ids("non_usd", "purchase_orders") if single_department(POS[p])
               and POS[p]["status"] in ("Approved", "Issued", "Closed")]
    run_sync()
    qbo_sandbox.app.cdc_refuses = {"Preferences"}      # a QuickBooks whose CDC does not tell preferences
    qbo_sandbox.app.set_multicurrency(True)

    def scheduled():
        run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.SCHEDULE)
        return sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client)

    run = scheduled()         # preferences read minutes ago: kept, the holds stay untouched
    assert not planned(run, "purchase_orders") & set(foreign)
    from sync.models import QboSnapshot
    QboSnapshot.objects.filter(tenant=tenant).update(preferences_at=timezone.now() - dt.timedelta(hours=21))
    run = scheduled()
    assert any(event(run, p).outcome == "created" for p in foreign)


def test_a_forgotten_link_releases_the_record_held_on_it(run_sync, qbo_sandbox, jaggaer_sandbox, tenant):
    from tests.sync.test_document_edge_cases import FIRST, po_record
    jaggaer_sandbox.app.upsert("purchase_orders", po_record("PO-99210", "4599210001", FIRST, ("100.00", "250.00")))
    run_sync()
    gone = PurchaseOrderLink.objects.get(tenant=tenant, jaggaer_po_id="PO-99210").qbo_po_id
    qbo_sandbox.app.delete_entity("PurchaseOrder", gone)
    po = jaggaer_sandbox.app.get("purchase_orders", "PO-99210")
    jaggaer_sandbox.app.set_po_lines("PO-99210", po["lineList"][:1])
    run_sync()
    assert hold_of(tenant, "PO-99210").reason == "po_missing_in_qbo"
    # the stream's overlap window would bring the PO again: past it, only its hold could
    Cursor.objects.for_tenant(tenant).filter(entity="purchase_orders").update(
        high_water_mark=timezone.now() + dt.timedelta(hours=1))
    assert "PO-99210" not in planned(run_sync(), "purchase_orders")
    link_forget(tenant=tenant, kind="purchase_order", source_id="PO-99210", actor=SYSTEM)
    run = run_sync()
    assert event(run, "PO-99210").outcome == "created" and hold_of(tenant, "PO-99210") is None


def test_a_new_step_version_and_a_full_run_plan_every_hold_again(run_sync, tenant, monkeypatch):
    run_sync()
    run_sync()       # invoices held over-billing a PO that a later bill of the run billed too: due once more
    held = {sid for (_, sid) in holds(tenant, "invoices")}
    assert held
    assert not planned(run_sync(), "invoices") & held
    monkeypatch.setattr(InvoiceStep, "version", InvoiceStep.version + "-next")
    run = run_sync()
    assert held <= planned(run, "invoices")
    assert set(Hold.objects.for_tenant(tenant).filter(entity="invoices").values_list("step_version", flat=True)) \
        == {InvoiceStep.version}
    run_sync()       # invoices held over-billing a PO that a later bill of that run billed too: due once more
    assert not planned(run_sync(), "invoices") & held
    run = run_sync(full=True)
    assert held <= planned(run, "invoices") | {sid for sid in held if hold_of(tenant, sid, "invoices") is None}
    assert not run.counts["invoices"].get("still_held")


def test_holds_only_jaggaer_fixes_wait_for_the_stream_and_others_are_planned_again_weekly(
        run_sync, jaggaer_sandbox, tenant):
    run_sync()
    mismatch = case_ids("invoice_total_mismatch", "invoices")[0]
    gl_held = case_ids("invoice_gl_without_qbo", "invoices")[0]
    assert hold_of(tenant, mismatch, "invoices").reason == "total_mismatch"
    assert hold_of(tenant, gl_held, "invoices").reason == "gl_unmapped"
    Hold.objects.for_tenant(tenant).update(last_held_at=timezone.now() - dt.timedelta(days=8))
    run = run_sync()
    assert mismatch not in planned(run, "invoices")
    assert event(run, gl_held, "invoices").outcome == "held"
    assert gl_held not in planned(run_sync(), "invoices")
    jaggaer_sandbox.app.patch("invoices", mismatch, {"total": {"currency": "USD", "value":
                                                               CASES["invoice_total_mismatch"]["lines_sum"][0]}})
    run = run_sync()
    assert event(run, mismatch, "invoices").outcome == "created"


def test_passing_failures_and_reasons_without_a_rule_are_always_planned_again(run_sync, tenant):
    run_sync()
    held = Hold.objects.for_tenant(tenant).filter(entity="invoices", reason="gl_unmapped").first()
    other = Hold.objects.for_tenant(tenant).filter(entity="invoices", reason="total_mismatch").first()
    Hold.objects.filter(pk=held.pk).update(reason="retry")
    Hold.objects.filter(pk=other.pk).update(reason="some_reason_of_tomorrow")
    run = run_sync()
    assert {held.source_id, other.source_id} <= planned(run, "invoices")
    assert hold_of(tenant, held.source_id, "invoices").reason == "gl_unmapped"

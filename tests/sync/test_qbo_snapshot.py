"""A daily run learns what changed in QuickBooks with one CDC request, and sees it as a full read would."""

import copy
import datetime as dt
import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone

from audit.models import RecordEvent
from sync.models import BillLink, Hold, Mapping, PurchaseOrderLink, QboCatalogItem, QboSnapshot, SyncRun, VendorLink
from sync.pipeline.invoices import InvoiceStep
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from tests.sync.conftest import make_qbo_client

pytestmark = pytest.mark.django_db


def qbo_requests(server) -> list[str]:
    """The QBO API requests the sandbox answered (not the token endpoint), as `METHOD endpoint`."""
    return [f"{e['method']} {e['endpoint'].split('/{realm}')[-1]}" for e in server.log.entries()
            if "/v3/company/" in e["path"]]


def test_first_run_reads_whole_then_a_no_change_run_costs_one_cdc_request(run_sync, qbo_sandbox, tenant):
    first = run_sync()
    assert first.status == SyncRun.Status.SUCCEEDED, first.error_message
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    assert snapshot.full_read_at and snapshot.changed_since and snapshot.vendors
    qbo_sandbox.log.clear()
    run = run_sync()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    sent = qbo_requests(qbo_sandbox)
    assert len(sent) <= 2, sent
    assert sent.count("GET /cdc") == 1 and not any("/query" in s for s in sent), sent
    # the preferences are kept from the first run; read again once only to confirm a currency refusal (the small
    # dataset's foreign-currency documents, held)
    assert sent in (["GET /cdc"], ["GET /cdc", "GET /preferences"]), sent
    assert run.counts["suppliers"].get("created", 0) == run.counts["suppliers"].get("updated", 0) == 0


def _runs(run_sync, n=1):
    for _ in range(n):
        run = run_sync()
        assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    return run


def test_changes_made_in_quickbooks_between_runs_are_seen_through_cdc(run_sync, qbo_sandbox, jaggaer_sandbox,
                                                                       tenant):
    _runs(run_sync)
    app, jaggaer = qbo_sandbox.app, jaggaer_sandbox.app
    # in QuickBooks: an account a mapping uses made inactive, a linked vendor renamed, another deleted, a
    # customer added
    mapping = Mapping.objects.for_tenant(tenant).filter(kind="gl_account", state=Mapping.State.MAPPED).first()
    account_id = mapping.qbo_item.qbo_id
    app.deactivate("Account", account_id)
    renamed, deleted, edited = VendorLink.objects.for_tenant(tenant).filter(attention="").order_by(
        "jaggaer_company_id")[:3]
    vendor = next(v for v in app.state("Vendor") if v["Id"] == renamed.qbo_vendor_id)
    realm = app.realm()
    with realm.lock:
        realm.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                "DisplayName": "Renamed In QuickBooks"})
    app.delete_entity("Vendor", deleted.qbo_vendor_id)
    app.create("Customer", {"DisplayName": "Snapshot Customer Name"})
    # in JAGGAER: a new supplier named as the renamed vendor, the deleted vendor's supplier and another changed
    newcomer = jaggaer.add_supplier("Renamed In QuickBooks")
    jaggaer.rename_supplier(deleted.jaggaer_company_id, "Supplier Of A Deleted Vendor")
    jaggaer.rename_supplier(edited.jaggaer_company_id, "Edited Supplier Name")
    qbo_sandbox.log.clear()
    run = _runs(run_sync)
    sent = qbo_requests(qbo_sandbox)
    assert sent.count("GET /cdc") == 1 and not any("/query" in s for s in sent), sent
    assert len(sent) <= 6, sent
    # the account: inactive here too, its mapping no longer mapped
    assert QboCatalogItem.objects.for_tenant(tenant).get(kind="gl_account", qbo_id=account_id).active is False
    mapping.refresh_from_db()
    assert mapping.state != Mapping.State.MAPPED
    # the renamed vendor's new name is taken: the newcomer waits on its owner, no second vendor of that name
    hold = Hold.objects.for_tenant(tenant).get(entity="suppliers", source_id=newcomer["companyId"])
    assert hold.reason == "duplicate_supplier_name", hold.detail
    assert [v["DisplayName"] for v in app.state("Vendor")].count("Renamed In QuickBooks") == 1
    # the deleted vendor: its changed supplier is held, not written to a vendor that is gone
    hold = Hold.objects.for_tenant(tenant).get(entity="suppliers", source_id=deleted.jaggaer_company_id)
    assert hold.reason == "vendor_missing", hold.detail
    # the edited supplier: its vendor updated with the SyncToken CDC brought
    assert any(v["DisplayName"] == "Edited Supplier Name" and v["Id"] == edited.qbo_vendor_id
               for v in app.state("Vendor"))
    assert run.counts["suppliers"].get("updated") == 1, run.counts
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    assert deleted.qbo_vendor_id not in snapshot.vendors
    assert snapshot.vendors[renamed.qbo_vendor_id]["DisplayName"] == "Renamed In QuickBooks"
    assert "Snapshot Customer Name" in snapshot.other_names.values()


@pytest.mark.parametrize("age", ["cursor", "full_read"])
def test_an_old_cursor_or_a_due_weekly_read_reads_the_lists_whole(run_sync, qbo_sandbox, tenant, age, settings):
    _runs(run_sync)
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    if age == "cursor":    # older than CDC's 30 days: QBO would refuse the CDC request
        snapshot.changed_since -= dt.timedelta(days=31)
        settings.QBO_FULL_READ_DAYS = 60
    else:
        snapshot.full_read_at -= dt.timedelta(days=settings.QBO_FULL_READ_DAYS, minutes=1)
    snapshot.save()
    vendor = qbo_sandbox.app.create("Vendor", {"DisplayName": "Made Between Runs"})
    qbo_sandbox.log.clear()
    _runs(run_sync)
    sent = qbo_requests(qbo_sandbox)
    assert "GET /cdc" not in sent and any("/query" in s for s in sent), sent
    snapshot.refresh_from_db()
    assert snapshot.vendors[vendor["Id"]]["DisplayName"] == "Made Between Runs"
    assert timezone.now() - snapshot.full_read_at < dt.timedelta(minutes=5)


def test_a_refused_cdc_request_falls_back_to_a_full_read(run_sync, qbo_sandbox, jaggaer_client, tenant):
    _runs(run_sync)
    # the sandbox's clock 31 days ahead: QBO refuses a CDC from the cursor (older than 30 days in its eyes)
    qbo_sandbox.app.clock_offset = 31 * 86400
    try:
        qbo = make_qbo_client(qbo_sandbox, tenant)     # a token of the sandbox's new day
        qbo_sandbox.log.clear()
        run = sync_run_execute(run=sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND), qbo=qbo,
                               jaggaer=jaggaer_client)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    finally:
        qbo_sandbox.app.clock_offset = 0
    sent = qbo_requests(qbo_sandbox)
    assert sent[0] == "GET /cdc" and any("/query" in s for s in sent), sent


def test_a_full_run_reads_the_lists_whole(run_sync, qbo_sandbox, tenant):
    _runs(run_sync)
    qbo_sandbox.log.clear()
    run = run_sync(full=True)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    sent = qbo_requests(qbo_sandbox)
    assert "GET /cdc" not in sent and sum("/query" in s for s in sent) >= 6, sent


def test_kept_preferences_are_read_again_once_they_expire(run_sync, qbo_sandbox, tenant, settings):
    _runs(run_sync)
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    assert snapshot.preferences["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"
    # kept since before the cursor (a CDC answer cannot say they are still current) and past their age
    snapshot.preferences_at -= dt.timedelta(seconds=settings.QBO_PREFERENCES_MAX_AGE_SECONDS + 60)
    snapshot.save()
    qbo_sandbox.app.realm().preferences_updated -= 3600      # last changed in QBO long before the cursor
    qbo_sandbox.log.clear()
    run_sync(entities=["catalogs", "suppliers"])    # no document refused for its currency: only the expiry reads
    assert qbo_requests(qbo_sandbox) == ["GET /cdc", "GET /preferences"]
    qbo_sandbox.log.clear()
    run_sync(entities=["catalogs", "suppliers"])
    assert qbo_requests(qbo_sandbox) == ["GET /cdc"]
    snapshot.refresh_from_db()
    assert timezone.now() - snapshot.preferences_at < dt.timedelta(minutes=5)


# ---- a daily run with a few changes: at most 6 QBO requests, everything written once

RELEASED_PO = "4500100201"     # a Draft PO of the small dataset; invoice INV-1021 is held waiting on it


def _scheduled_run(tenant, qbo_client, jaggaer_client) -> SyncRun:
    run = sync_run_execute(run=sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.SCHEDULE), qbo=qbo_client,
                           jaggaer=jaggaer_client)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    return run


def _a_few_changes(jaggaer, tenant, *, release: bool) -> dict:
    """In JAGGAER: a linked supplier renamed, a new approved PO (the Draft PO an invoice waits on, approved, or a
    new one), a newly approved invoice. Returns what should be written."""
    supplier = VendorLink.objects.for_tenant(tenant).filter(attention="").exclude(qbo_vendor_id="").order_by(
        "jaggaer_company_id").first()
    jaggaer.rename_supplier(supplier.jaggaer_company_id, "Renamed For The Daily Run")
    if release:
        po = next(p for p in jaggaer.records("purchase_orders") if p["poNumber"] == RELEASED_PO)
        assert po["status"] == "Draft"
        jaggaer.approve_po(po["poId"])
    else:
        clean = set(VendorLink.objects.for_tenant(tenant).filter(attention="").exclude(qbo_vendor_id="")
                    .values_list("jaggaer_company_id", flat=True))
        written = set(PurchaseOrderLink.objects.for_tenant(tenant).exclude(qbo_po_id="").values_list(
            "jaggaer_po_id", flat=True))
        model = next(p for p in jaggaer.records("purchase_orders") if p["poId"] in written
                     and p["status"] == "Issued" and (p.get("supplier") or {}).get("companyId") in clean)
        po = copy.deepcopy(model)
        po.update(poId="PO-89999", poNumber="4500199999", status="Approved")
        jaggaer.upsert("purchase_orders", po)
    invoice = next(i for i in jaggaer.records("invoices") if i["workflowStatus"] == "InProcess"
                   and i.get("currency", "USD") == "USD")
    jaggaer.approve_invoice(invoice["invoiceId"])
    return {"supplier": supplier, "po": po["poNumber"], "invoice": invoice["invoiceId"]}


def _assert_written_once(qbo_sandbox, tenant):
    app = qbo_sandbox.app
    for entity in ("Bill", "VendorCredit"):
        docs = Counter((b["DocNumber"], b["VendorRef"]["value"]) for b in app.state(entity))
        assert all(n == 1 for n in docs.values()), docs
    assert all(n == 1 for n in Counter(po["DocNumber"] for po in app.state("PurchaseOrder")).values())
    assert all(n == 1 for n in Counter(v["DisplayName"] for v in app.state("Vendor")).values())


@pytest.mark.parametrize("release", [False, True], ids=["changes", "changes_and_a_released_hold"])
def test_a_daily_run_with_a_few_changes_costs_at_most_six_qbo_requests(run_sync, qbo_sandbox, jaggaer_sandbox,
                                                                        qbo_client, jaggaer_client, tenant, release):
    _runs(run_sync, 2)
    if release:
        assert Hold.objects.for_tenant(tenant).get(entity="invoices", source_id="INV-1021").reason == "po_not_synced"
    before = {e: len(qbo_sandbox.app.state(e)) for e in ("Vendor", "PurchaseOrder", "Bill", "VendorCredit")}
    changed = _a_few_changes(jaggaer_sandbox.app, tenant, release=release)
    qbo_sandbox.log.clear()
    run = _scheduled_run(tenant, qbo_client, jaggaer_client)
    sent = qbo_requests(qbo_sandbox)
    assert len(sent) <= 6, sent
    # the CDC request; the suppliers' batch; the PO DocNumber look-up (the no-duplicate guard) and the POs' batch;
    # the bills' DocNumber look-up (held vendor credits are not planned again: nothing they wait on changed, so
    # no VendorCredit look-up shares it), then the bills' batch. The released hold shares its page with the
    # changed records: no look-up or batch of its own. The kept preferences are fresh: the held foreign-currency
    # documents do not have them read again.
    assert sent == ["GET /cdc", "POST /batch", "GET /query", "POST /batch", "GET /query", "POST /batch"], sent
    # written once each: the vendor renamed, the PO and the invoice(s) created
    counts = run.counts
    assert counts["suppliers"].get("updated") == 1, counts
    assert counts["purchase_orders"].get("created") == 1, counts
    assert counts["invoices"].get("created") == (2 if release else 1), counts
    app = qbo_sandbox.app
    vendor = next(v for v in app.state("Vendor") if v["Id"] == changed["supplier"].qbo_vendor_id)
    assert vendor["DisplayName"] == "Renamed For The Daily Run"
    assert [po["DocNumber"] for po in app.state("PurchaseOrder")].count(changed["po"]) == 1
    link = BillLink.objects.for_tenant(tenant).get(jaggaer_invoice_id=changed["invoice"])
    assert link.qbo_id in {b["Id"] for b in app.state("Bill")}
    if release:
        assert not Hold.objects.for_tenant(tenant).filter(entity="invoices", source_id="INV-1021").exists()
        assert BillLink.objects.for_tenant(tenant).get(jaggaer_invoice_id="INV-1021").qbo_id
    # one audit row a record, the released one included
    rows = Counter(RecordEvent.objects.filter(run_id=run.pk).values_list("entity", "source_id"))
    assert all(n == 1 for n in rows.values()), [k for k, n in rows.items() if n > 1]
    # released (created) with its PO, audited once; its PO unchanged, it stays held untouched (no row)
    assert rows[("invoices", "INV-1021")] == (1 if release else 0)
    after = {e: len(app.state(e)) for e in before}
    assert after == {**before, "PurchaseOrder": before["PurchaseOrder"] + 1,
                     "Bill": before["Bill"] + (2 if release else 1)}, (before, after)
    _assert_written_once(qbo_sandbox, tenant)
    # the next run finds nothing to do: no write, no duplicate
    qbo_sandbox.log.clear()
    again = _scheduled_run(tenant, qbo_client, jaggaer_client)
    assert qbo_requests(qbo_sandbox) == ["GET /cdc"]
    assert not any(again.counts[s].get(o) for s in ("suppliers", "purchase_orders", "invoices")
                   for o in ("created", "updated")), again.counts
    _assert_written_once(qbo_sandbox, tenant)


def test_a_lost_commit_in_a_daily_run_is_linked_by_the_batched_look_up_not_written_twice(
        run_sync, qbo_sandbox, jaggaer_sandbox, qbo_client, jaggaer_client, tenant, monkeypatch):
    """The released invoice and the new one share a page: their DocNumber look-up goes as one query (the held
    documents nothing changed for are not planned again). QBO wrote the bills but our transaction failed: the
    next daily run finds them through that look-up and links them."""
    _runs(run_sync, 2)
    changed = _a_few_changes(jaggaer_sandbox.app, tenant, release=True)
    original = InvoiceStep.save_links
    crashed = []

    def save_links_crashing_once(self, ctx, page, done):
        if not crashed:
            crashed.append(len(done))
            raise RuntimeError("database went away")
        return original(self, ctx, page, done)

    monkeypatch.setattr(InvoiceStep, "save_links", save_links_crashing_once)
    bills = len(qbo_sandbox.app.state("Bill"))
    with pytest.raises(RuntimeError):
        sync_run_execute(run=sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.SCHEDULE), qbo=qbo_client,
                         jaggaer=jaggaer_client)
    assert crashed == [2] and len(qbo_sandbox.app.state("Bill")) == bills + 2
    assert not BillLink.objects.for_tenant(tenant).filter(jaggaer_invoice_id__in=["INV-1021", changed["invoice"]]
                                                          ).exclude(qbo_id="").exists()
    qbo_sandbox.log.clear()
    run = _scheduled_run(tenant, qbo_client, jaggaer_client)
    sent = qbo_requests(qbo_sandbox)
    assert sent == ["GET /cdc", "GET /query", "POST /batch"], sent    # the Bill look-up, then the linking updates
    relinked = RecordEvent.objects.filter(run_id=run.pk, entity="invoices", reason="linked_existing")
    assert sorted(relinked.values_list("source_id", flat=True)) == sorted(["INV-1021", changed["invoice"]])
    assert len(qbo_sandbox.app.state("Bill")) == bills + 2
    _assert_written_once(qbo_sandbox, tenant)


def test_the_cdc_answer_says_whether_kept_preferences_are_current_and_brings_new_ones(
        run_sync, qbo_sandbox, qbo_client, jaggaer_client, tenant):
    """Documents held for their currency wait on multicurrency: the daily CDC request asks for Preferences too, so
    no run reads /preferences to learn it is still off, and the run after it was turned on releases them."""
    _runs(run_sync)
    assert Hold.objects.for_tenant(tenant).filter(reason="currency_unsupported").exists()
    qbo_sandbox.app.realm().preferences_updated -= 3600      # unchanged in QBO since long before the cursor
    for run in (lambda: _scheduled_run(tenant, qbo_client, jaggaer_client), run_sync):   # scheduled, a person's
        qbo_sandbox.log.clear()
        run()
        assert qbo_requests(qbo_sandbox) == ["GET /cdc"]
    qbo_sandbox.app.set_multicurrency(True)
    qbo_sandbox.log.clear()
    run = _scheduled_run(tenant, qbo_client, jaggaer_client)
    assert "GET /preferences" not in qbo_requests(qbo_sandbox)
    assert QboSnapshot.objects.get(tenant=tenant).preferences["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
    assert run.counts["invoices"].get("created") or run.counts["purchase_orders"].get("created"), run.counts
    assert not Hold.objects.for_tenant(tenant).filter(reason="currency_unsupported", last_run=run).exists()


def test_a_quickbooks_whose_cdc_refuses_preferences_is_asked_without_them_and_read_once_a_day(
        run_sync, qbo_sandbox, qbo_client, jaggaer_client, tenant, settings):
    """Another QuickBooks (or a proxy) refuses Preferences in a CDC request: the run asks once more without them,
    remembers it until the next full read, and documents held for their currency have the preferences read
    again as before: at once in a run a person started, at most once a day in scheduled ones."""
    _runs(run_sync)
    qbo_sandbox.app.cdc_refuses = {"Preferences"}
    qbo_sandbox.log.clear()
    _scheduled_run(tenant, qbo_client, jaggaer_client)
    sent = qbo_requests(qbo_sandbox)
    assert sent == ["GET /cdc", "GET /cdc"], sent                  # refused with Preferences, answered without
    assert QboSnapshot.objects.get(tenant=tenant).cdc_preferences is False
    qbo_sandbox.log.clear()
    _scheduled_run(tenant, qbo_client, jaggaer_client)          # asked without them (one CDC, not refused);
    assert qbo_requests(qbo_sandbox) == ["GET /cdc"]             # kept ones younger than the recheck bound
    qbo_sandbox.log.clear()
    _runs(run_sync)                                             # a person's run reads them on the refusal, at once
    assert qbo_requests(qbo_sandbox) == ["GET /cdc", "GET /preferences"]
    # older than the bound (but not expired): the scheduled run reads them again, and sees multicurrency turned on
    qbo_sandbox.app.set_multicurrency(True)
    settings.QBO_PREFERENCES_MAX_AGE_SECONDS = 3 * settings.QBO_PREFERENCES_RECHECK_SECONDS
    snapshot = QboSnapshot.objects.get(tenant=tenant)
    snapshot.preferences_at -= dt.timedelta(seconds=settings.QBO_PREFERENCES_RECHECK_SECONDS + 60)
    snapshot.save()
    qbo_sandbox.log.clear()
    run = _scheduled_run(tenant, qbo_client, jaggaer_client)
    assert qbo_requests(qbo_sandbox).count("GET /preferences") == 1
    assert run.counts["invoices"].get("created") or run.counts["purchase_orders"].get("created"), run.counts
    # the next full read asks CDC for them again
    qbo_sandbox.app.cdc_refuses = set()
    run_sync(full=True)
    assert QboSnapshot.objects.get(tenant=tenant).cdc_preferences is True


def _bench_mutate():
    """The fleet bench's daily mutation (bench/sandbox_proc.py), loaded from its file."""
    path = Path(__file__).resolve().parents[2] / "bench" / "sandbox_proc.py"
    spec = importlib.util.spec_from_file_location("bench_sandbox_proc", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.mutate


def test_the_fleet_bench_daily_changes_cost_at_most_six_qbo_requests(run_sync, qbo_sandbox, jaggaer_sandbox,
                                                                     qbo_client, jaggaer_client, tenant):
    mutate = _bench_mutate()
    _runs(run_sync, 2)
    for _ in range(2):      # two working days: the second updates POs the first wrote
        done = mutate(jaggaer_sandbox.app, 0.05)
        qbo_sandbox.log.clear()
        run = _scheduled_run(tenant, qbo_client, jaggaer_client)
        sent = qbo_requests(qbo_sandbox)
        assert len(sent) <= 6, (sent, done)
        written = sum(run.counts[step].get(outcome, 0) for step in ("suppliers", "purchase_orders", "invoices")
                      for outcome in ("created", "updated"))
        assert written >= done["suppliers_renamed"] + done["invoices_approved"] // 2, (run.counts, done)
        _assert_written_once(qbo_sandbox, tenant)

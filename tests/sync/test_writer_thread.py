"""A run's batch transactions on its writer thread (sync/pipeline/writer.py, SYNC_WRITER_THREAD): outside any
transaction of the caller, as in a worker, so these tests commit for real (`transaction=True`). What is checked
is what the run leaves in our tables and in QuickBooks, and which thread opened which connection."""

import threading

import pytest
from django.db import connection, transaction
from django.db.backends.signals import connection_created

from audit.models import RecordEvent
from sync.models import BillLink, Hold, PurchaseOrderLink, RecordIdentifier, SyncRun, VendorLink
from sync.pipeline.steps import STEPS
from sync.pipeline.writer import BatchWriter
from sync.runs.lifecycle import WorkerStopping, run_steps
from tests.sync.test_bills_no_duplicates import assert_no_duplicates, snapshot

pytestmark = pytest.mark.django_db(transaction=True)

WRITE_OUTCOMES = ("created", "updated")


@pytest.fixture(autouse=True)
def small_batches(settings):
    """Batches of 10: every page of the sandbox's companies has several, so the writer thread is engaged."""
    settings.QBO_BATCH_SIZE = 10
    settings.SYNC_WRITER_THREAD = True


@pytest.fixture
def opened_by():
    """The names of the threads that opened a database connection while the test ran."""
    names: list[str] = []

    def opened(sender, connection, **kwargs):
        names.append(threading.current_thread().name)

    connection_created.connect(opened)
    yield names
    connection_created.disconnect(opened)


def written(run: SyncRun, step: str) -> int:
    return sum(run.counts.get(step, {}).get(o, 0) for o in WRITE_OUTCOMES)


def test_a_first_load_on_the_writer_thread_leaves_every_link_audit_row_and_hold(run_sync, qbo_sandbox, tenant,
                                                                                opened_by):
    run = run_sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert any(name.startswith("sync-writer-batches") for name in opened_by)
    assert any(name.startswith("sync-writer-side") for name in opened_by)
    assert_no_duplicates(qbo_sandbox, tenant)
    assert VendorLink.objects.for_tenant(tenant).count() == written(run, "suppliers") > 0
    assert PurchaseOrderLink.objects.for_tenant(tenant).exclude(qbo_po_id="").count() == \
        written(run, "purchase_orders") > 0
    assert BillLink.objects.for_tenant(tenant).count() == written(run, "invoices") > 0
    for step in ("suppliers", "purchase_orders", "invoices"):
        events = RecordEvent.objects.for_tenant(tenant).filter(run_id=run.pk, entity=step)
        assert events.count() == sum(run.counts[step].values()), step
        assert Hold.objects.for_tenant(tenant).filter(entity=step).count() == run.counts[step].get("held", 0)
    identified = set(RecordIdentifier.objects.for_tenant(tenant).filter(kind="jaggaer_id").values_list(
        "entity", "source_id"))
    assert identified >= set(RecordEvent.objects.for_tenant(tenant).filter(run_id=run.pk).exclude(
        source_id__startswith="(no ").values_list("entity", "source_id"))
    # the writer's threads are gone, their connections closed
    assert not [t for t in threading.enumerate() if t.name.startswith("sync-writer")]

    before = snapshot(qbo_sandbox)
    rerun = run_sync()
    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error_message
    assert snapshot(qbo_sandbox) == before
    assert all(written(rerun, step) == 0 for step in ("suppliers", "purchase_orders", "invoices"))


def test_a_failed_batch_transaction_fails_the_run_and_the_next_run_links_what_qbo_wrote(run_sync, qbo_sandbox,
                                                                                          tenant, opened_by):
    """PostgreSQL refuses the second batch's link rows on the writer thread: that batch's links, audit rows and
    counts roll back together and the run fails on the run's thread as an unexpected error; the batches handed
    over before and after it keep theirs (they are in QuickBooks). Once the fault is gone, the next run links
    the refused batch's vendors from what QuickBooks holds: no vendor twice."""
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE SEQUENCE refuse_once;
            CREATE FUNCTION refuse_one_batch() RETURNS trigger AS $$
            BEGIN
                IF (SELECT count(*) FROM sync_vendorlink) >= 10 THEN
                    IF nextval('refuse_once') = 1 THEN
                        RAISE EXCEPTION 'the disk is full';
                    END IF;
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_one_batch BEFORE INSERT ON sync_vendorlink
                FOR EACH ROW EXECUTE FUNCTION refuse_one_batch();""")
    try:
        with pytest.raises(Exception, match="the disk is full"):
            run_sync(entities=["suppliers"])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_one_batch ON sync_vendorlink; DROP FUNCTION refuse_one_batch(); "
                           "DROP SEQUENCE refuse_once;")
    assert any(name.startswith("sync-writer-batches") for name in opened_by)
    run = SyncRun.objects.for_tenant(tenant).get()
    assert run.status == SyncRun.Status.FAILED and run.error_code == "internal_error"
    linked = VendorLink.objects.for_tenant(tenant).count()
    assert linked == written(run, "suppliers") - 10 >= 20      # every batch answered but the refused one
    assert RecordEvent.objects.for_tenant(tenant).filter(run_id=run.pk, outcome__in=WRITE_OUTCOMES
                                                         ).count() == linked

    in_qbo = len(qbo_sandbox.app.state("Vendor"))
    rerun = run_sync(entities=["suppliers"])
    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error_message
    assert len(qbo_sandbox.app.state("Vendor")) == in_qbo + rerun.counts["suppliers"].get("created", 0)
    assert rerun.counts["suppliers"].get("created", 0) == 0       # the refused batch's vendors: found, linked
    assert VendorLink.objects.for_tenant(tenant).count() == linked + written(rerun, "suppliers")
    names = [v["DisplayName"].casefold() for v in qbo_sandbox.app.state("Vendor")]
    assert len(names) == len(set(names))


def test_a_stop_with_batches_waiting_for_the_writer_records_them_before_the_run_ends(qbo_sandbox, qbo_client,
                                                                                     jaggaer_client, tenant):
    """The worker is told to stop in a step report while batches are queued for the writer and one is at QBO:
    all of them are in our tables when the run has ended (cancelled), each link with its audit row."""
    run = SyncRun.objects.create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, entities=["suppliers"])

    def report_stopping(step, counts):
        if sum(counts.values()) >= 20:
            raise WorkerStopping("The worker was stopped.")

    before = len(qbo_sandbox.app.state("Vendor"))
    run = run_steps(run=run, qbo=qbo_client, jaggaer=jaggaer_client, progress=report_stopping,
                    body=lambda ctx: STEPS["suppliers"]().run(ctx))

    assert run.status == SyncRun.Status.CANCELLED and run.error_code == "worker_stopped"
    done = written(run, "suppliers")
    assert done >= 20
    assert len(qbo_sandbox.app.state("Vendor")) == before + run.counts["suppliers"].get("created", 0)
    assert VendorLink.objects.for_tenant(tenant).count() == done
    assert RecordEvent.objects.for_tenant(tenant).filter(run_id=run.pk).count() == \
        sum(run.counts["suppliers"].values())


def test_the_writer_stays_on_the_run_thread_where_a_second_connection_would_not_do(settings):
    assert BatchWriter.for_run().allowed
    with transaction.atomic():        # a caller's transaction: another connection would not see its rows
        assert not BatchWriter.for_run().allowed
    settings.DB_POOL_MAX_SIZE = 8     # a threads-pool worker: its runs share the pool's connections
    assert not BatchWriter.for_run().allowed
    settings.DB_POOL_MAX_SIZE = 0
    settings.SYNC_WRITER_THREAD = False
    assert not BatchWriter.for_run().allowed


def test_a_run_of_a_few_changes_starts_no_writer_thread(run_sync, jaggaer_sandbox, tenant, opened_by, settings):
    settings.QBO_BATCH_SIZE = 30
    assert run_sync(entities=["suppliers"]).status == SyncRun.Status.SUCCEEDED
    opened_by.clear()
    supplier = VendorLink.objects.for_tenant(tenant).first()
    jaggaer_sandbox.app.rename_supplier(supplier.jaggaer_company_id, "Renamed Supplies Ltd")
    run = run_sync(entities=["suppliers"])
    assert run.status == SyncRun.Status.SUCCEEDED and written(run, "suppliers") == 1
    assert not [name for name in opened_by if name.startswith("sync-writer")]


def _on_a_writer_thread(job):
    """`job` on a thread marked as a run's writer, with its own connection (closed after)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from sync.pipeline import writer

    with ThreadPoolExecutor(max_workers=1, initializer=writer._mark_writer) as pool:
        try:
            return pool.submit(job).result()
        finally:
            pool.submit(connections.close_all).result()


def test_a_batch_transaction_on_a_writer_thread_commits_all_or_nothing_and_leaves_the_connection_as_it_was(
        tenant):
    """BEGIN, the writes and COMMIT go as one message: committed together; a read in between sends what was
    kept first and sees it; a refused statement rolls back the ones before it, those sent before the read
    too; the same connection then runs the next transaction and a plain query in autocommit, as Django
    expects."""
    from core import bulk
    from core.tenancy import tenant_scope
    from sync.pipeline.writer import batch_transaction

    def hold(source_id, detail="waits"):
        return {"tenant_id": tenant.pk, "entity": "invoices", "source_id": source_id, "reason": "retry",
                "detail": detail, "waits_on": [], "record": {"invoiceId": source_id}, "source_digest": "d"}

    def batches():
        with tenant_scope(tenant):
            return in_scope()

    def in_scope():
        with batch_transaction():
            bulk.insert(Hold, [hold("I-1"), hold("I-2")])
            Hold.objects.for_tenant(tenant).filter(source_id="I-1").update(detail="changed")
        with pytest.raises(Exception, match="duplicate key"):
            with batch_transaction():
                bulk.insert(Hold, [hold("I-3")])
                assert Hold.objects.for_tenant(tenant).count() == 3    # a read in between sees the write before it
                bulk.insert(Hold, [hold("I-1")])          # refused: I-3 goes too
                bulk.insert(Hold, [hold("I-4")])          # skipped by the server
        with batch_transaction():
            bulk.insert(Hold, [hold("I-5")])
        Hold.objects.for_tenant(tenant).filter(source_id="I-5").update(detail="autocommit")
        return connection.get_autocommit(), connection.in_atomic_block, connection.connection.autocommit

    assert _on_a_writer_thread(batches) == (True, False, True)
    assert dict(Hold.objects.for_tenant(tenant).values_list("source_id", "detail")) == {
        "I-1": "changed", "I-2": "waits", "I-5": "autocommit"}

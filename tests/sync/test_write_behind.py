"""A run's batch transactions written behind it (sync/pipeline/writer.py, SYNC_WRITE_BEHIND): sent on connections
of the run's own without waiting, outside any transaction of the caller, as in a worker, so these tests commit
for real (`transaction=True`). What is checked is what the run leaves in our tables and in QuickBooks, and which
connections it opened."""

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.db.backends.signals import connection_created

from audit.models import RecordEvent
from sync.models import BillLink, Hold, PurchaseOrderLink, RecordIdentifier, SyncRun, VendorLink
from sync.pipeline.engine import RecordStep, RunContext
from sync.pipeline.steps import STEPS
from sync.pipeline.writer import BATCHES, BatchWriter
from sync.runs.lifecycle import WorkerStopping, run_steps, sync_run_create
from tests.sync.helpers import DATASET
from tests.sync.test_bills_no_duplicates import assert_no_duplicates, snapshot

pytestmark = pytest.mark.django_db(transaction=True)

WRITE_OUTCOMES = ("created", "updated")


@pytest.fixture(autouse=True)
def small_batches(settings):
    """Batches of 10: every page of the sandbox's companies has several, so the writes go behind the run."""
    settings.QBO_BATCH_SIZE = 10
    settings.SYNC_WRITE_BEHIND = True


@pytest.fixture
def lanes_opened():
    """The database connections opened while the test ran besides the thread's own (Django's wrappers)."""
    opened_here: list = []

    def opened(sender, connection, **kwargs):
        if connection is not connections[connection.alias]:
            opened_here.append(connection)

    connection_created.connect(opened)
    yield opened_here
    connection_created.disconnect(opened)


def written(run: SyncRun, step: str) -> int:
    return sum(run.counts.get(step, {}).get(o, 0) for o in WRITE_OUTCOMES)


def test_a_first_load_written_behind_the_run_leaves_every_link_audit_row_and_hold(run_sync, qbo_sandbox, tenant,
                                                                                  lanes_opened, caplog):
    caplog.set_level("INFO", logger="sync.pipeline.writer")
    run = run_sync()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert len(lanes_opened) == 2       # the batches' lane and the record identifiers'
    assert not [r for r in caplog.records if r.name == "sync.pipeline.writer"]    # every job written down
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
    # the lanes' connections are closed
    assert all(lane.connection is None for lane in lanes_opened)

    before = snapshot(qbo_sandbox)
    rerun = run_sync()
    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error_message
    assert snapshot(qbo_sandbox) == before
    assert all(written(rerun, step) == 0 for step in ("suppliers", "purchase_orders", "invoices"))


def test_a_failed_batch_transaction_fails_the_run_and_the_next_run_links_what_qbo_wrote(run_sync, qbo_sandbox,
                                                                                          tenant, lanes_opened):
    """PostgreSQL refuses the second batch's link rows on the batches' lane: that batch's links, audit rows and
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
    assert lanes_opened
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


def test_the_writes_stay_on_the_run_connection_where_a_second_connection_would_not_do(settings):
    assert BatchWriter.for_run().allowed
    with transaction.atomic():        # a caller's transaction: another connection would not see its rows
        assert not BatchWriter.for_run().allowed
    settings.DB_POOL_MAX_SIZE = 8     # a threads-pool worker: its runs share the pool's connections
    assert not BatchWriter.for_run().allowed
    settings.DB_POOL_MAX_SIZE = 0
    raw = connection.connection
    client_side = raw.cursor_factory
    raw.cursor_factory = psycopg.Cursor      # what Django sets with `server_side_binding`
    try:
        assert not BatchWriter.for_run().allowed      # statements bound on the server cannot be written down as text
    finally:
        raw.cursor_factory = client_side
    assert BatchWriter.for_run().allowed
    settings.SYNC_WRITE_BEHIND = False
    assert not BatchWriter.for_run().allowed


def test_a_run_of_a_few_changes_opens_no_connection_of_its_own(run_sync, jaggaer_sandbox, tenant, lanes_opened,
                                                                settings):
    settings.QBO_BATCH_SIZE = 30
    assert run_sync(entities=["suppliers"]).status == SyncRun.Status.SUCCEEDED
    lanes_opened.clear()
    supplier = VendorLink.objects.for_tenant(tenant).first()
    jaggaer_sandbox.app.rename_supplier(supplier.jaggaer_company_id, "Renamed Supplies Ltd")
    run = run_sync(entities=["suppliers"])
    assert run.status == SyncRun.Status.SUCCEEDED and written(run, "suppliers") == 1
    assert not lanes_opened


def test_scripts_behind_the_run_commit_whole_in_order_and_a_refused_one_is_raised_at_the_next_hand_over(tenant,
                                                                                                        caplog):
    """Each job's writes reach PostgreSQL as one transaction on the lane's connection, in the order handed over,
    nothing sent on the run's own connection; a refused statement rolls its whole transaction back, the jobs after
    it are written all the same, and the failure is raised on the run's thread at its next hand-over, as Django
    raises a refused statement. A job that reads runs on the run's connection once the lanes are drained, and sees
    every write before it. The run's connection is left as Django expects it (autocommit, no atomic block)."""
    from django.db import IntegrityError

    from core import bulk
    from core.tenancy import tenant_scope
    from sync.pipeline.writer import batch_transaction

    caplog.set_level("INFO", logger="sync.pipeline.writer")

    def hold(source_id, detail="waits"):
        return {"tenant_id": tenant.pk, "entity": "invoices", "source_id": source_id, "reason": "retry",
                "detail": detail, "waits_on": [], "record": {"invoiceId": source_id}, "source_digest": "d"}

    def job(*ids, update=None):
        def run():
            with batch_transaction():
                bulk.insert(Hold, [hold(i) for i in ids])
                if update:
                    Hold.objects.for_tenant(tenant).filter(source_id=update).update(detail="changed")
        return run

    seen = []

    def reading_job():
        with batch_transaction():
            seen.append(Hold.objects.for_tenant(tenant).count())
            bulk.insert(Hold, [hold("I-9")])

    writer = BatchWriter(allowed=True, depth=2)
    writer.engage()
    with tenant_scope(tenant):
        try:
            writer.submit(job("I-1", "I-2", update="I-1"))
            writer.submit(job("I-3", "I-1"))          # I-1 again: refused, I-3 goes too
            with pytest.raises(IntegrityError, match="duplicate key"):
                writer.submit(job("I-4"))             # handed over, then the refusal raised if already known
                writer.drain()
            writer.submit(job("I-5"))
            writer.drain()
            lane_pid = writer._lanes[BATCHES]._db.connection.info.backend_pid
            with connection.cursor() as cursor:      # the lane's connection sent I-5's transaction as one message
                cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [lane_pid])
                last = cursor.fetchone()[0]
            assert last.startswith("BEGIN;") and last.endswith("COMMIT") and "I-5" in last
            assert lane_pid != connection.connection.info.backend_pid
            writer.submit(reading_job)
            writer.drain()
        finally:
            writer.close(quiet=True)
    assert seen == [4]      # I-1, I-2, I-4, I-5 were in when the reading job ran
    assert "reads our tables" in caplog.text
    assert dict(Hold.objects.for_tenant(tenant).values_list("source_id", "detail")) == {
        "I-1": "changed", "I-2": "waits", "I-4": "waits", "I-5": "waits", "I-9": "waits"}
    assert (connection.get_autocommit(), connection.in_atomic_block, connection.connection.autocommit) == \
        (True, False, True)


def test_the_run_waits_for_quickbooks_while_its_writes_go_on(tenant):
    """While the run's thread waits for a QuickBooks answer (`wait_for`), the lanes move on: QuickBooks (here a
    thread with a connection of its own) answers only once it sees every script handed over before committed,
    and it does, without a drain (left alone, a lane sends one script and waits to be looked at)."""
    import threading
    import time
    from concurrent.futures import Future

    from django.db import connections as thread_connections

    from core import bulk
    from core.tenancy import tenant_scope
    from sync.pipeline.writer import batch_transaction

    def job(source_id):
        def run():
            with batch_transaction():
                bulk.insert(Hold, [{"tenant_id": tenant.pk, "entity": "invoices", "source_id": source_id,
                                    "reason": "retry", "detail": "", "waits_on": [], "record": {},
                                    "source_digest": "d"}])
        return run

    answer: Future = Future()

    def quickbooks():
        seen, deadline = 0, time.monotonic() + 30
        try:
            while seen < 4 and time.monotonic() < deadline:
                with thread_connections["default"].cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM sync_hold WHERE tenant_id = %s", [tenant.pk])
                    seen = cursor.fetchone()[0]
                time.sleep(0.05)
        finally:
            thread_connections.close_all()
            answer.set_result(seen)

    writer = BatchWriter(allowed=True, depth=5)
    writer.engage()
    with tenant_scope(tenant):
        try:
            for n in range(4):
                writer.submit(job(f"I-{n}"))
            threading.Thread(target=quickbooks).start()
            writer.wait_for(answer)
            assert answer.result() == 4         # all four committed while the run waited
        finally:
            writer.close()


def test_looking_at_a_lane_never_waits_for_the_server(tenant):
    """Looking at the lane (`pump`) while the server is still on a script (here a statement that sleeps) returns
    at once, the script still pending; `settle` then waits for its end, the transaction is committed whole, and
    the lane takes the next one."""
    import time

    from sync.pipeline.writer import _Lane

    lane = _Lane("test", depth=1)
    try:
        lane.hand(b"BEGIN; CREATE TEMP TABLE lane_probe (n int); INSERT INTO lane_probe VALUES (1); "
                  b"SELECT pg_sleep(1.5); INSERT INTO lane_probe VALUES (2); COMMIT")
        time.sleep(0.3)         # the script is at the server, its sleep not over
        start = time.monotonic()
        lane.pump()
        assert time.monotonic() - start < 0.5 and lane.pending == 1
        lane.settle()
        assert lane.pending == 0 and not lane.failures and lane.error is None
        lane.hand(b"BEGIN; INSERT INTO lane_probe VALUES (3); COMMIT")
        lane.settle()
        pgconn = lane._pgconn()
        pgconn.nonblocking = 0
        rows = pgconn.exec_(b"SELECT count(*) FROM lane_probe")
        assert rows.get_value(0, 0) == b"3"
    finally:
        lane.close()


class _LooksRecorded(BatchWriter):
    """The run's writer, recording when the run looks at the lanes and when it drains them."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def pump(self) -> None:
        self.calls.append("pump")
        super().pump()

    def drain(self, *lanes: str) -> None:
        self.calls.append("drain")
        super().drain(*lanes)


class _SuppliersUnchanged(RecordStep):
    """JAGGAER's suppliers read as the suppliers step reads them, every one unchanged."""

    supplier_step = STEPS["suppliers"]
    name, jaggaer_entity = supplier_step.name, supplier_step.jaggaer_entity
    id_field, modified_field = supplier_step.id_field, supplier_step.modified_field

    def is_unchanged(self, page, record):
        return True

    def plan(self, ctx, page, record):
        raise AssertionError("an unchanged record is not planned")

    def written(self, ctx, page, write, entity):
        raise AssertionError("nothing is written")

    def save_links(self, ctx, page, done):
        return None


def test_the_next_pages_records_are_read_and_checked_while_the_pages_before_are_written(tenant):
    raws = [dict(raw) for raw in DATASET.jaggaer["suppliers"][:8]]
    writes = _LooksRecorded()
    ctx = RunContext(run=sync_run_create(tenant=tenant, trigger="command", entities=["suppliers"]), qbo=None,
                     jaggaer=None, writes=writes)
    _SuppliersUnchanged().process_page(ctx, raws)
    before_the_reads = writes.calls[:writes.calls.index("drain")]
    # each record read (its digest) and checked against the contract with a look at the lanes before it
    assert before_the_reads.count("pump") >= 2 * len(raws), writes.calls
    assert ctx.run.counts["suppliers"] == {"unchanged": len(raws)}

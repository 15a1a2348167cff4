"""A batch's database writes overlap the next batch's exchange with QuickBooks (SYNC_OVERLAP_WRITES): the order
of what happened is recorded on both sides of the HTTP boundary (the sandbox, our flush), never timed."""

import json
import logging
import threading

import pytest

from audit.models import ApiCall, RecordEvent
from config.logging import JsonFormatter
from connections.clients.http import StaticTokenProvider
from connections.clients.qbo import QboClient
from core import context
from sync.models import SyncRun, VendorLink
from sync.pipeline import engine
from sync.pipeline.engine import RecordStep
from sync.pipeline.steps import STEPS
from sync.pipeline.vendors import VendorStep
from sync.runs.lifecycle import run_steps, sync_run_create, sync_run_execute
from tests.sync.conftest import _http

pytestmark = pytest.mark.django_db

GATE_SECONDS = 10    # a wait that only ends this way means the overlap did not happen (the test then fails)


@pytest.fixture(autouse=True)
def overlap_on(settings):
    settings.SYNC_OVERLAP_WRITES = True


class Recorder:
    """Events in the order they happened, from the sandbox's threads and the run's thread."""

    def __init__(self):
        self.events: list[str] = []
        self._lock = threading.Lock()
        self.batches: list[dict] = []          # each /batch request the sandbox received: requestid, status

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def index(self, event: str) -> int:
        return self.events.index(event)


def watch_batches(monkeypatch, qbo_sandbox, recorder: Recorder, before=None):
    """Record each /batch the QBO sandbox receives and answers; `before(n, req)` runs first for the n-th one."""
    handle = qbo_sandbox.app.handle

    def handle_watched(req):
        if req.method != "POST" or not req.path.endswith("/batch"):
            return handle(req)
        n = len(recorder.batches) + 1
        recorder.batches.append({"requestid": req.query.get("requestid", [""])[0]})
        recorder.add(f"qbo received batch {n}")
        if before is not None:
            before(n, req)
        response = handle(req)
        recorder.batches[n - 1]["status"] = response.status
        recorder.add(f"qbo answered batch {n}")
        return response

    monkeypatch.setattr(qbo_sandbox.app, "handle", handle_watched)


def watch_flushes(monkeypatch, recorder: Recorder, before=None, after=None):
    """Record each flush of a batch QBO answered (those with writes done); `before(n)` runs first for the n-th,
    `after(n)` once it ended."""
    flush = RecordStep.flush
    count = []

    def flush_watched(self, ctx, page, results, done):
        if not done:
            return flush(self, ctx, page, results, done)
        count.append(1)
        n = len(count)
        if before is not None:
            before(n)
        recorder.add(f"flush {n} start")
        flush(self, ctx, page, results, done)
        recorder.add(f"flush {n} end")
        if after is not None:
            after(n)

    monkeypatch.setattr(RecordStep, "flush", flush_watched)


def tokens_expire_before_batch(number: int, app, realm: str):
    """A `before` for watch_batches: the realm's access tokens expire just before QBO reads batch `number`."""
    def before(n, req):
        if n == number:
            app.expire_tokens(realm)
    return before


def client_for(qbo_sandbox, tenant, tokens) -> QboClient:
    return QboClient(api_base=qbo_sandbox.url, realm_id=qbo_sandbox.app.default_realm_id, tokens=tokens,
                     http=_http("qbo", qbo_sandbox.url), tenant_id=tenant.pk)


def sync(tenant, qbo, jaggaer_client, **kwargs) -> SyncRun:
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, entities=["suppliers"], **kwargs)
    return sync_run_execute(run=run, qbo=qbo, jaggaer=jaggaer_client)


def vendors_in_qbo(qbo_sandbox) -> int:
    return len(qbo_sandbox.app.state("Vendor"))


def test_the_first_batch_is_flushed_while_the_second_is_in_flight(monkeypatch, qbo_sandbox, qbo_client,
                                                                  jaggaer_client, tenant):
    """QBO holds the second batch until our first flush ended; the first flush waits until QBO has the second
    batch. Both waits end at once only when the two overlap."""
    recorder = Recorder()
    second_arrived, first_flushed = threading.Event(), threading.Event()

    def hold_the_second_batch(n, req):
        if n == 2:
            second_arrived.set()
            if not first_flushed.wait(GATE_SECONDS):
                recorder.add("qbo gave up waiting for flush 1")

    def wait_for_the_second_batch(n):
        if n == 1 and not second_arrived.wait(GATE_SECONDS):
            recorder.add("flush 1 gave up waiting for batch 2")

    def let_the_second_batch_go(n):
        if n == 1:
            first_flushed.set()

    watch_batches(monkeypatch, qbo_sandbox, recorder, before=hold_the_second_batch)
    watch_flushes(monkeypatch, recorder, before=wait_for_the_second_batch, after=let_the_second_batch_go)
    before = vendors_in_qbo(qbo_sandbox)
    run = sync(tenant, qbo_client, jaggaer_client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    events = recorder.events
    assert not [e for e in events if "gave up" in e], events
    assert events[:6] == ["qbo received batch 1", "qbo answered batch 1", "qbo received batch 2", "flush 1 start",
                          "flush 1 end", "qbo answered batch 2"], events
    assert events.index("flush 2 start") > events.index("qbo answered batch 2")
    assert_written_once(qbo_sandbox, tenant, run, before)


def assert_written_once(qbo_sandbox, tenant, run, before: int) -> None:
    """Every supplier the run wrote is linked, each vendor it created is in QBO once."""
    counts = run.counts["suppliers"]
    created, written = counts.get("created", 0), counts.get("created", 0) + counts.get("updated", 0)
    assert written > 30 and vendors_in_qbo(qbo_sandbox) == before + created
    assert VendorLink.objects.for_tenant(tenant).count() == written


def test_with_overlap_off_each_batch_is_flushed_before_the_next_is_sent(monkeypatch, settings, qbo_sandbox,
                                                                        qbo_client, jaggaer_client, tenant):
    settings.SYNC_OVERLAP_WRITES = False
    recorder = Recorder()
    watch_batches(monkeypatch, qbo_sandbox, recorder)
    watch_flushes(monkeypatch, recorder)

    run = sync(tenant, qbo_client, jaggaer_client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert recorder.events[:6] == ["qbo received batch 1", "qbo answered batch 1", "flush 1 start", "flush 1 end",
                                   "qbo received batch 2", "qbo answered batch 2"], recorder.events


def test_a_401_on_the_overlapped_batch_renews_on_the_run_thread_and_sends_it_again_with_its_requestid(
        monkeypatch, qbo_sandbox, jaggaer_client, tenant):
    """The access token expires while the second batch is on its way (the first is being flushed): QBO answers
    401, the token is renewed on the run's thread (where the database row locks of a real provider are taken),
    and the same batch goes again with the same requestid; nothing is written twice."""
    app, realm = qbo_sandbox.app, qbo_sandbox.app.default_realm_id
    renewed_on = []

    def renew(rejected):
        renewed_on.append(threading.current_thread())
        return app.issue_tokens(realm)["access_token"]

    tokens = StaticTokenProvider(app.issue_tokens(realm)["access_token"], renew_with=renew, system="qbo")
    recorder = Recorder()

    watch_batches(monkeypatch, qbo_sandbox, recorder, before=tokens_expire_before_batch(2, app, realm))
    watch_flushes(monkeypatch, recorder)
    before = vendors_in_qbo(qbo_sandbox)
    run = sync(tenant, client_for(qbo_sandbox, tenant, tokens), jaggaer_client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert tokens.renewals == 1 and renewed_on == [threading.current_thread()]
    second, again = recorder.batches[1], recorder.batches[2]
    assert second["status"] == 401 and again["status"] == 200 and again["requestid"] == second["requestid"]
    assert recorder.index("qbo received batch 2") < recorder.index("flush 1 end")
    assert_written_once(qbo_sandbox, tenant, run, before)
    rejected = ApiCall.objects.for_tenant(tenant).filter(path__contains="/batch?", status=401)
    assert list(rejected.values_list("run_id", flat=True)) == [run.pk]


def test_a_connection_failure_in_the_second_batch_keeps_what_the_first_one_wrote(
        monkeypatch, qbo_sandbox, jaggaer_client, tenant):
    """The token expires on the second batch and cannot be renewed: the run fails as a connection failure, and
    the first batch, flushed while the second was in flight, is linked and audited; the next run writes the rest
    and nothing twice."""
    app, realm = qbo_sandbox.app, qbo_sandbox.app.default_realm_id
    tokens = StaticTokenProvider(app.issue_tokens(realm)["access_token"], system="qbo")    # cannot renew
    recorder = Recorder()

    watch_batches(monkeypatch, qbo_sandbox, recorder, before=tokens_expire_before_batch(2, app, realm))
    watch_flushes(monkeypatch, recorder)
    before = vendors_in_qbo(qbo_sandbox)
    run = sync(tenant, client_for(qbo_sandbox, tenant, tokens), jaggaer_client)

    assert run.status == SyncRun.Status.FAILED and run.error_system == "qbo", run.error_message
    assert [b["status"] for b in recorder.batches] == [200, 401]
    assert recorder.index("qbo received batch 2") < recorder.index("flush 1 end")
    counts = run.counts["suppliers"]
    created = counts.get("created", 0)
    assert created + counts.get("updated", 0) == 30 and vendors_in_qbo(qbo_sandbox) == before + created
    assert VendorLink.objects.for_tenant(tenant).count() == 30
    assert RecordEvent.objects.filter(run_id=run.pk, entity="suppliers", outcome__in=["created", "updated"]
                                      ).count() == 30

    monkeypatch.undo()
    fresh = StaticTokenProvider(app.issue_tokens(realm)["access_token"], system="qbo")
    rerun = sync(tenant, client_for(qbo_sandbox, tenant, fresh), jaggaer_client)
    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error_message
    created += rerun.counts["suppliers"].get("created", 0)
    assert vendors_in_qbo(qbo_sandbox) == before + created
    assert VendorLink.objects.for_tenant(tenant).count() > 30
    assert not RecordEvent.objects.filter(run_id=rerun.pk, entity="suppliers", outcome="failed").exists()


def test_calls_and_log_lines_from_the_helper_thread_carry_the_run_and_request_ids(
        monkeypatch, qbo_sandbox, qbo_client, jaggaer_client, tenant):
    """The first batch first gets a 500 (retried by the HTTP layer on the helper thread, which logs it): the
    call-log rows and the log line carry the run id, the request id, the tenant and the step."""
    qbo_sandbox.faults.inject("500", count=1, path=r"/batch$")
    lines = []

    class Lines(logging.Handler):
        def emit(self, record):
            lines.append((record.threadName, self.format(record)))

    handler = Lines()
    handler.setFormatter(JsonFormatter())
    http_logger = logging.getLogger("connections.clients.http")
    http_logger.addHandler(handler)
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, entities=["suppliers"])
    try:
        with context.bound(request_id="req-overlap-1", tenant=tenant.pk, run_id=run.pk):
            run = sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client)
    finally:
        http_logger.removeHandler(handler)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    calls = ApiCall.objects.for_tenant(tenant).filter(path__contains="/batch?").order_by("created_at", "pk")
    assert [c.status for c in calls] == [500] + [200] * qbo_client.request_counts["batch"]
    assert {(c.run_id, c.request_id) for c in calls} == {(run.pk, "req-overlap-1")}
    retried = [(thread, json.loads(line)) for thread, line in lines if "retrying" in line]
    assert len(retried) == 1
    thread, line = retried[0]
    assert thread != threading.current_thread().name
    assert (line["run_id"], line["request_id"], line["tenant"], line["step"]) == (
        str(run.pk), "req-overlap-1", str(tenant.pk), "suppliers")


def test_a_cancellation_while_the_answers_are_read_records_every_batch_sent_and_sends_no_more(
        monkeypatch, settings, qbo_sandbox, qbo_client, jaggaer_client, tenant):
    """A person cancels while the first batch's answers are read: the page's other batches are at QBO already
    (each is sent as soon as it is planned), and all are recorded; the next step sends nothing and the run
    stops. Batches of 10, so that the suppliers make more than two."""
    settings.QBO_BATCH_SIZE = 10
    monkeypatch.setattr(engine, "CANCEL_CHECK_SECONDS", 0)
    recorder = Recorder()
    watch_batches(monkeypatch, qbo_sandbox, recorder)
    written = VendorStep.written
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, entities=["suppliers", "purchase_orders"])

    def written_then_cancelled(self, ctx, page, write, entity):
        SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        return written(self, ctx, page, write, entity)

    monkeypatch.setattr(VendorStep, "written", written_then_cancelled)
    before = vendors_in_qbo(qbo_sandbox)
    run = sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client)

    assert run.status == SyncRun.Status.CANCELLED
    counts = run.counts["suppliers"]
    writes = counts.get("created", 0) + counts.get("updated", 0)
    assert len(recorder.batches) == -(-writes // 10) > 2          # the suppliers' batches, no purchase order's
    assert not run.counts.get("purchase_orders")
    assert vendors_in_qbo(qbo_sandbox) == before + counts.get("created", 0)
    assert VendorLink.objects.for_tenant(tenant).count() == writes
    assert RecordEvent.objects.filter(run_id=run.pk, entity="suppliers", outcome__in=["created", "updated"]
                                      ).count() == writes


def test_a_cancellation_while_the_page_is_planned_records_the_batch_sent_and_sends_no_more(
        monkeypatch, settings, qbo_sandbox, qbo_client, jaggaer_client, tenant):
    """The cancel comes once the first batch is on its way and the second is being planned: before the second
    is sent the run sees it, reads and records the first batch's answers, and stops."""
    settings.QBO_BATCH_SIZE = 10
    monkeypatch.setattr(engine, "CANCEL_CHECK_SECONDS", 0)
    recorder = Recorder()
    watch_batches(monkeypatch, qbo_sandbox, recorder)
    plan = VendorStep.plan
    planned_writes = []
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, entities=["suppliers"])

    def plan_then_cancel(self, ctx, page, record):
        planned = plan(self, ctx, page, record)
        if isinstance(planned, engine.Write):
            planned_writes.append(record.source_id)
            if len(planned_writes) == 11:           # the first batch (10 writes) was sent
                SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        return planned

    monkeypatch.setattr(VendorStep, "plan", plan_then_cancel)
    before = vendors_in_qbo(qbo_sandbox)
    run = sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client)

    assert run.status == SyncRun.Status.CANCELLED
    assert len(recorder.batches) == 1
    counts = run.counts["suppliers"]
    assert counts.get("created", 0) + counts.get("updated", 0) == 10
    assert vendors_in_qbo(qbo_sandbox) == before + counts.get("created", 0)
    assert set(VendorLink.objects.for_tenant(tenant).values_list("jaggaer_company_id", flat=True)) == set(
        planned_writes[:10])


def test_a_stop_asked_while_a_batch_is_in_flight_records_that_batch_before_the_run_ends(
        monkeypatch, qbo_sandbox, qbo_client, jaggaer_client, tenant):
    """The worker is told to stop (or the lease is lost, or the time limit passed) in the step report of the
    first batch's flush, while the second batch is at QBO: QBO's answers to the second are recorded too, so
    nothing QBO wrote is left without its link, and the run stops there."""
    from sync.runs.lifecycle import WorkerStopping

    recorder = Recorder()
    watch_batches(monkeypatch, qbo_sandbox, recorder)
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, entities=["suppliers"])
    reports = []

    def report_stopping(step, counts):
        reports.append(dict(counts))
        if sum(counts.values()) >= 30:              # the first batch's report: the second batch is in flight
            raise WorkerStopping("The worker was stopped.")

    before = vendors_in_qbo(qbo_sandbox)
    run = run_steps(run=run, qbo=qbo_client, jaggaer=jaggaer_client, progress=report_stopping,
                    body=lambda ctx: STEPS["suppliers"]().run(ctx))

    assert run.status == SyncRun.Status.CANCELLED and run.error_code == "worker_stopped"
    assert len(recorder.batches) == 2                # the second batch was sent before the stop; no third
    counts = run.counts["suppliers"]
    written = counts.get("created", 0) + counts.get("updated", 0)
    assert written > 30                              # the second batch's answers are recorded too
    assert vendors_in_qbo(qbo_sandbox) == before + counts.get("created", 0)
    assert VendorLink.objects.for_tenant(tenant).count() == written

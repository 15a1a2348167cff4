"""The outbound call log: every attempt, written in bulk, no secret in it, never breaking a sync; pruning."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import audit
from audit.models import ApiCall
from audit.services import API_CALL_FLUSH_SIZE, api_call_record, api_calls_pending, api_calls_prune
from audit.tasks import prune
from connections.clients.calls import ApiCallInfo
from connections.exceptions import QboFault
from sync.models import SyncRun
from sync.runs.lifecycle import sync_run_create, sync_run_execute
from tests.connections.support import issued_secrets
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def _inserts(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith('INSERT INTO "audit_apicall"'))


def test_a_sync_logs_every_attempt_with_a_few_bulk_inserts(sync_now, qbo_sandbox, jaggaer_sandbox, tenant):
    qbo_sandbox.log.clear()
    jaggaer_sandbox.log.clear()
    with CaptureQueriesContext(connection) as queries:
        run = sync_now()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    rows = ApiCall.objects.for_tenant(tenant)
    sent = len(qbo_sandbox.log.entries()) + len(jaggaer_sandbox.log.entries())
    assert rows.count() == sent > 10
    assert _inserts(queries.captured_queries) <= 1 + sent // API_CALL_FLUSH_SIZE
    assert rows.filter(run_id=run.pk).count() == sent
    assert set(rows.values_list("system", flat=True)) == {"qbo", "jaggaer"}
    batch = rows.filter(system="qbo", method="POST", path__contains="/batch").first()
    assert batch.status == 200 and batch.attempt == 1 and batch.realm_id and batch.intuit_tid
    assert api_calls_pending() == 0


def test_the_call_rows_hold_no_secret_the_sandboxes_issued(sync_now, qbo_sandbox, jaggaer_sandbox, tenant):
    sync_now()
    jaggaer_sandbox.app.expire_tokens()          # the next run gets a 401, renews, and goes on: more tokens
    run = sync_now(full=True)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    secrets = issued_secrets(qbo_sandbox, jaggaer_sandbox)
    assert len(secrets) > 2
    rows = list(ApiCall.objects.for_tenant(tenant).values())
    assert sum(1 for r in rows if r["status"] == 401) >= 1                     # the renewal is logged
    assert sum(1 for r in rows if "token" in r["path"]) >= 2                   # and so are the token calls
    for row in rows:
        text = " ".join(str(v) for v in row.values())
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:4]}…) is in the call log row {row['path']}"


def test_retried_attempts_are_logged_one_row_each(run_sync, qbo_sandbox, tenant):
    qbo_sandbox.faults.inject(429, count=2, path=".*/batch.*")
    run = run_sync(entities=["suppliers"])
    assert run.status == SyncRun.Status.SUCCEEDED
    throttled = ApiCall.objects.for_tenant(tenant).filter(status=429).order_by("created_at", "id")
    assert [c.attempt for c in throttled] == [1, 2]
    after = ApiCall.objects.for_tenant(tenant).filter(path=throttled[0].path, attempt=3).get()
    assert after.status == 200 and after.run_id == run.pk


def test_a_qbo_fault_is_logged_with_its_code_and_intuit_tid(qbo_client, tenant):
    with audit.api_call_scope(), pytest.raises(QboFault) as raised:
        qbo_client.read("Vendor", "987654")
    fault = ApiCall.objects.for_tenant(tenant).get()
    assert fault.status == 400 and fault.code == raised.value.code and fault.intuit_tid == raised.value.intuit_tid
    assert fault.intuit_tid and fault.error and fault.path.endswith("/vendor/987654?minorversion=75")


def test_a_call_log_that_cannot_be_written_never_breaks_the_sync(tenant, qbo_client, jaggaer_client, caplog):
    """A real database error (a value out of range) in the log is swallowed; the run and its rows stand."""
    bad = ApiCallInfo(system="qbo", method="GET", path="/x", status=70000, code=None, intuit_tid=None, attempt=1,
                      duration_ms=1.0, tenant_id=tenant.pk, realm_id=None, error=None)

    def progress(step, counts):
        api_call_record(bad)

    run = sync_run_create(tenant=tenant, trigger="command", entities=["suppliers"])
    run = sync_run_execute(run=run, qbo=qbo_client, jaggaer=jaggaer_client, progress=progress)
    assert run.status == SyncRun.Status.SUCCEEDED
    run.refresh_from_db()
    assert run.counts["suppliers"]["created"] > 0
    assert "could not write" in caplog.text
    assert SyncRun.objects.filter(pk=run.pk).exists()       # the connection is usable afterwards


def test_calls_of_an_api_request_are_written_when_it_ends(alice, connected, jaggaer_sandbox):
    response = alice.client.post(f"/api/v1/tenants/{connected.id}/connections/jaggaer/ping")
    assert response.status_code == 200, response.content
    assert api_calls_pending() == 0
    calls = ApiCall.objects.for_tenant(connected).filter(system="jaggaer")
    assert calls.count() == len(jaggaer_sandbox.log.entries()) >= 2
    assert calls.filter(run_id__isnull=True).count() == calls.count()


def test_calls_older_than_the_retention_period_are_pruned(tenant, settings):
    settings.API_CALL_RETENTION_DAYS = 10
    now = timezone.now()
    other = TenantFactory(partner=tenant.partner)
    ages = {"fresh": 1, "edge": 9, "old": 11, "ancient": 400}
    ApiCall.objects.bulk_create([
        ApiCall(tenant=t, system="qbo", method="GET", path=f"/{label}", status=200,
                created_at=now - dt.timedelta(days=days)) for label, days in ages.items() for t in (tenant, other)])
    assert api_calls_prune(now=now, chunk=3) == 4
    assert sorted(set(ApiCall.objects.values_list("path", flat=True))) == ["/edge", "/fresh"]
    settings.API_CALL_RETENTION_DAYS = 5
    assert prune.apply().get()["api_calls"] == 2         # the daily audit.prune task
    assert list(ApiCall.objects.values_list("path", flat=True)) == ["/fresh", "/fresh"]


def test_calls_of_a_celery_task_are_written_when_it_ends(tenant):
    from config.celery import app

    info = ApiCallInfo(system="jaggaer", method="GET", path="/api/suppliers", status=200, code=None,
                       intuit_tid=None, attempt=1, duration_ms=12.5, tenant_id=tenant.pk, realm_id=None, error=None)

    @app.task(name="tests.audit.calls_in_a_task")
    def calls_in_a_task():
        for _ in range(3):
            api_call_record(info)
        return api_calls_pending()

    assert calls_in_a_task.apply().get() == 3
    assert api_calls_pending() == 0
    assert ApiCall.objects.for_tenant(tenant).filter(path="/api/suppliers", duration_ms=12).count() == 3

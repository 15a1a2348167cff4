"""Operators' view: /metrics after a run, JSON log lines with the ids, health endpoints, Sentry without secrets,
and a worker's stop request ending a run between batches with its continuation queued."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
from django.core.cache import cache

from config.heartbeats import BEAT_HEARTBEAT_KEY, WORKER_HEARTBEAT_KEY
from config.logging import JsonFormatter
from core import context, shutdown
from sync.models import SyncRun
from sync.runs.lifecycle import sync_request, sync_run_perform
from tests.connections.support import configured_jaggaer, connected_qbo, fast_http, qbo_app  # noqa: F401 (fixtures)
from tests.webhooks.conftest import add_endpoint, receiver  # noqa: F401 (fixture)
from tests.webhooks.support import finish_run, later
from webhooks.services import deliveries_send_due

TOKEN = "Mt5Rb8Qw2Ez7Xc1Vn4Lp9Ks3Hd6Gf0Ja-metrics-token-for-tests"


def _sample(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))   # the exposition sorts them
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def connected(tenant, qbo_app, jaggaer_sandbox):  # noqa: F811
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_sandbox)
    return tenant


def _run(tenant, django_capture_on_commit_callbacks, **kwargs) -> SyncRun:
    with django_capture_on_commit_callbacks(execute=False):   # the test performs the run itself, below
        run = sync_request(tenant=tenant, trigger=SyncRun.Trigger.API, **kwargs)
    return sync_run_perform(run_id=run.pk)


# ----------------------------------------------------------------------------- /metrics

@pytest.mark.django_db
def test_metrics_show_the_sync_after_a_run_and_only_to_the_token(connected, client, settings,
                                                                  django_capture_on_commit_callbacks):
    settings.METRICS_TOKEN = TOKEN
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    before = client.get("/metrics", **auth).content.decode()
    run = _run(connected, django_capture_on_commit_callbacks, entities=["catalogs", "suppliers"])
    assert run.status == "succeeded", (run.error_code, run.error_message)
    after = client.get("/metrics", **auth)
    assert after.status_code == 200
    text = after.content.decode()
    assert _sample(text, "mlc_sync_runs_total", trigger="api", status="succeeded") == \
        _sample(before, "mlc_sync_runs_total", trigger="api", status="succeeded") + 1
    created = run.counts["suppliers"].get("created", 0)
    assert created > 0
    assert _sample(text, "mlc_sync_records_total", entity="suppliers", outcome="created") == \
        _sample(before, "mlc_sync_records_total", entity="suppliers", outcome="created") + created
    realm = connected.qbo_connection.realm_id
    assert _sample(text, "mlc_qbo_requests_total", realm=realm, status="2xx") > \
        _sample(before, "mlc_qbo_requests_total", realm=realm, status="2xx")
    assert "mlc_sync_run_duration_seconds_count" in text and "mlc_qbo_limiter_wait_seconds_count" in text
    assert "mlc_sync_runs_queued 0.0" in text
    assert "mlc_webhook_deliveries_pending 0.0" in text
    assert "django_http_requests_total_by_method_total" in text

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 404


@pytest.mark.django_db
def test_metrics_answer_an_allowed_network_and_nobody_when_nothing_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 404          # the test client is 127.0.0.1
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200


# ----------------------------------------------------------------------------- JSON logs

@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)    # urllib3 logs each request line at DEBUG: inside the steps
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.django_db
def test_a_runs_log_lines_are_json_with_its_run_tenant_and_step(connected, json_log,
                                                                django_capture_on_commit_callbacks):
    run = _run(connected, django_capture_on_commit_callbacks, entities=["catalogs", "suppliers"])
    lines = json_log()
    mine = [line for line in lines if line.get("run_id") == str(run.pk)]
    assert mine, lines[:5]
    assert all(line["tenant"] == str(connected.pk) for line in mine)
    assert {line["step"] for line in mine if line["step"]} >= {"catalogs", "suppliers"}
    assert all({"timestamp", "level", "logger", "event", "request_id", "partner"} <= set(line) for line in lines)
    assert any(line["event"] == "api run succeeded" for line in mine)


def test_a_request_log_line_carries_the_request_and_partner_and_no_secret(json_log):
    with context.bound(request_id="req-1", partner="p-7"):
        logging.getLogger("ml.test").warning("callback /oauth/qbo/callback?code=AB12&state=xyz refresh_token=%s",
                                             "r" * 40)
    (line,) = [line for line in json_log() if line["logger"] == "ml.test"]
    assert line["request_id"] == "req-1" and line["partner"] == "p-7" and line["run_id"] is None
    assert "AB12" not in line["event"] and "xyz" not in line["event"] and "r" * 40 not in line["event"]


def test_production_logs_json_and_development_plain_lines():
    from django.conf import settings

    assert settings.LOG_FORMAT == "plain"
    assert settings.LOGGING["formatters"]["json"]["()"] == "config.logging.JsonFormatter"


# ----------------------------------------------------------------------------- health

@pytest.mark.django_db
def test_liveness_asks_nothing_and_readiness_wants_a_recent_worker_and_beat(client, settings):
    assert client.get("/healthz/live").json() == {"status": "ok"}
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = settings.HEALTH_BEAT_MAX_AGE_SECONDS = 300
    try:
        cache.set(WORKER_HEARTBEAT_KEY, time.time() - 5, timeout=None)
        cache.set(BEAT_HEARTBEAT_KEY, time.time() - 5, timeout=None)
        ready = client.get("/healthz/ready")
        assert ready.status_code == 200, ready.json()
        assert {"database", "broker", "redis", "worker", "beat"} <= set(ready.json()["checks"])
        cache.set(WORKER_HEARTBEAT_KEY, time.time() - 900, timeout=None)
        stale = client.get("/healthz/ready")
        assert stale.status_code == 503
        assert stale.json()["checks"]["worker"]["error"].startswith("no worker answered for")
        assert stale.json()["checks"]["beat"]["ok"] is True
        cache.delete(BEAT_HEARTBEAT_KEY)
        assert client.get("/healthz/ready").json()["checks"]["beat"]["ok"] is False
    finally:
        cache.delete_many([WORKER_HEARTBEAT_KEY, BEAT_HEARTBEAT_KEY])


# ----------------------------------------------------------------------------- stopping a worker

@pytest.mark.django_db
def test_a_stop_request_ends_the_run_between_batches_and_queues_its_continuation(
        connected, django_capture_on_commit_callbacks):
    shutdown.request()
    try:
        run = _run(connected, django_capture_on_commit_callbacks)
    finally:
        shutdown.clear()
    assert run.status == "cancelled" and run.error_code == "worker_stopped"
    follow = SyncRun.objects.exclude(pk=run.pk).get(tenant=connected)
    assert follow.status == "queued" and follow.trigger == run.trigger
    done = sync_run_perform(run_id=follow.pk)
    assert done.status == "succeeded", (done.error_code, done.error_message)


# ----------------------------------------------------------------------------- Sentry

def test_sentry_events_carry_no_secret():
    import sentry_sdk
    from sentry_sdk.transport import Transport

    from config.sentry import init_sentry

    sent: list[str] = []

    class Capture(Transport):   # the boundary: what would go over the wire to Sentry
        def capture_envelope(self, envelope):
            for item in envelope.items:
                sent.append(item.payload.get_bytes().decode("utf-8", "replace"))

    secret, refresh = "s3cr3t-Client-Secret-Value-0123456789", "AB11refreshTokenValue9876543210zzYY"
    init_sentry(dsn="https://public@sentry.invalid/1", environment="test", transport=Capture)
    try:
        with sentry_sdk.new_scope() as scope:
            scope.set_extra("client_secret", secret)
            scope.set_context("token_response", {"refresh_token": refresh, "expires_in": 3600})
            scope.set_tag("realm", "4620816365")
            try:
                raise RuntimeError(f"token call failed: refresh_token={refresh}&client_secret={secret}")
            except RuntimeError as exc:
                sentry_sdk.capture_exception(exc)
            sentry_sdk.capture_message(f"Bearer {refresh} was refused")
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.init()   # no DSN: the SDK is off again for the rest of the session
    assert len(sent) >= 2
    body = "\n".join(sent)
    assert "RuntimeError" in body and "4620816365" in body
    assert secret not in body and refresh not in body


@pytest.mark.django_db
def test_metrics_count_webhook_deliveries_by_event_and_result(alice, tenant, receiver, client, settings,  # noqa: F811
                                                              django_capture_on_commit_callbacks):
    settings.METRICS_TOKEN = TOKEN
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    labels = {"event_type": "sync.succeeded"}
    before = client.get("/metrics", **auth).content.decode()
    add_endpoint(alice, receiver.url, event_types=["sync.succeeded"])
    receiver.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
    deliveries_send_due(now=later(minutes=1))
    text = client.get("/metrics", **auth).content.decode()
    for result, added in (("retrying", 1), ("delivered", 1), ("failed", 0)):
        assert _sample(text, "mlc_webhook_delivery_attempts_total", **labels, result=result) == \
            _sample(before, "mlc_webhook_delivery_attempts_total", **labels, result=result) + added, result

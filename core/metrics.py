"""ml-connector's own Prometheus metrics (django-prometheus adds HTTP and database ones).

Correct under several gunicorn and Celery processes: with PROMETHEUS_MULTIPROC_DIR set (bin/ml-connector
and the container set it), every process writes its figures to files there and `/metrics` adds them up
(prometheus-client's multiprocess mode). Labels are ids and small fixed sets, never names or secrets.
"""

from __future__ import annotations

import collections
import os
import re

from prometheus_client import Counter, Gauge, Histogram

_MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

RUNS = Counter("mlc_sync_runs_total", "Sync runs finished, by trigger and final status.", ["trigger", "status"])
RUN_DURATION = Histogram("mlc_sync_run_duration_seconds", "How long finished sync runs took, by trigger.",
                         ["trigger"], buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, float("inf")))
RECORDS = Counter("mlc_sync_records_total", "Records a sync handled, by entity and outcome.", ["entity", "outcome"])
HOLDS = Counter("mlc_sync_holds_total", "Records held back, by entity and reason.", ["entity", "reason"])
QBO_REQUESTS = Counter("mlc_qbo_requests_total", "Requests sent to QuickBooks Online, by realm and status class.",
                       ["realm", "status"])
QBO_THROTTLED = Counter("mlc_qbo_throttled_total", "QuickBooks answers 429 (throttled), by realm.", ["realm"])
LIMITER_WAIT = Histogram("mlc_qbo_limiter_wait_seconds", "Time a request waited for its realm's budget.",
                         buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, float("inf")))
TOKEN_REFRESHES = Counter("mlc_qbo_token_refreshes_total", "QuickBooks token refreshes, by result.", ["result"])
JAGGAER_ERRORS = Counter("mlc_jaggaer_errors_total", "JAGGAER calls that failed, by kind.", ["kind"])
# Filled at scrape time by core.metrics_collect (web process only, so no multiprocess mode).
_gauge_kwargs = {"multiprocess_mode": "max"} if _MULTIPROCESS else {}
QUEUED_RUNS = Gauge("mlc_sync_runs_queued", "Sync runs waiting for a worker.", **_gauge_kwargs)
QUEUED_RUN_AGE = Gauge("mlc_sync_runs_queued_oldest_age_seconds", "Age of the oldest run waiting for a worker.",
                       **_gauge_kwargs)
WEBHOOKS_PENDING = Gauge("mlc_webhook_deliveries_pending", "Webhook deliveries waiting to be sent.", **_gauge_kwargs)
WEBHOOKS_PENDING_AGE = Gauge("mlc_webhook_deliveries_pending_oldest_age_seconds",
                             "Age of the oldest webhook delivery waiting to be sent.", **_gauge_kwargs)
WEBHOOK_ATTEMPTS = Counter("mlc_webhook_delivery_attempts_total",
                           "Webhook delivery attempts, by event type and result (delivered, retrying, failed).",
                           ["event_type", "result"])
BULK_GAVE_WAY = Counter("mlc_sync_bulk_gave_way_seconds_total",
                        "Seconds bulk runs (first loads, full runs) waited between batches for their process's "
                        "daily runs.")
WRITER_SECONDS = Counter("mlc_sync_writer_seconds_total",
                         "Runs' batch transactions written behind them (sync/pipeline/writer.py): seconds from a "
                         "script's sending to its answer being read (busy), the runs' threads' CPU writing them down "
                         "(cpu), and the runs' threads waiting for them (waited).",
                         ["part"])
QUEUE_DEPTH = Gauge("mlc_broker_queue_depth", "Messages waiting in a broker queue.", ["queue"], **_gauge_kwargs)

_TOKEN_PATH = re.compile(r"/tokens/bearer")


def run_finished(*, trigger: str, status: str, seconds: float | None) -> None:
    RUNS.labels(trigger=trigger, status=status).inc()
    if seconds is not None and seconds >= 0:
        RUN_DURATION.labels(trigger=trigger).observe(seconds)


def records_handled(rows) -> None:
    """From the audit's record events: one count per (entity, outcome), and holds by reason (added up first: a
    batch's rows share a few labels)."""
    handled: collections.Counter = collections.Counter()
    held: collections.Counter = collections.Counter()
    for row in rows:
        entity, outcome = str(row.get("entity") or ""), str(row.get("outcome") or "")
        handled[entity, outcome] += 1
        if outcome == "held":
            held[entity, str(row.get("reason") or "unknown")[:60]] += 1
    for (entity, outcome), n in handled.items():
        RECORDS.labels(entity=entity, outcome=outcome).inc(n)
    for (entity, reason), n in held.items():
        HOLDS.labels(entity=entity, reason=reason).inc(n)


def webhook_attempted(*, event_type: str, result: str) -> None:
    WEBHOOK_ATTEMPTS.labels(event_type=event_type, result=result).inc()


def bulk_gave_way(seconds: float) -> None:
    BULK_GAVE_WAY.inc(max(0.0, seconds))


def writer_seconds(part: str, seconds: float) -> None:
    WRITER_SECONDS.labels(part=part).inc(max(0.0, seconds))


def limiter_waited(seconds: float) -> None:
    LIMITER_WAIT.observe(max(0.0, seconds))


def call_observed(info) -> None:
    """A listener of connections.clients.calls: one outbound attempt (an ApiCallInfo, never a secret)."""
    if info.system == "qbo":
        if _TOKEN_PATH.search(info.path or ""):
            result = "ok" if info.status == 200 else ("refused" if info.status in (400, 401) else "error")
            TOKEN_REFRESHES.labels(result=result).inc()
            return
        status = f"{info.status // 100}xx" if info.status else "no_answer"
        realm = info.realm_id or "unknown"
        QBO_REQUESTS.labels(realm=realm, status=status).inc()
        if info.status == 429:
            QBO_THROTTLED.labels(realm=realm).inc()
    elif info.system == "jaggaer" and (info.status is None or info.status >= 400 or info.code):
        kind = str(info.status) if info.status else (info.code or "no_answer")
        JAGGAER_ERRORS.labels(kind=kind[:40]).inc()

"""The Celery app. Tasks are thin: they take ids, load rows and call one service."""

import os

from celery import Celery, bootsteps, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("ml_connector")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The queues a worker started without -Q consumes: `sync` (daily runs), `bulk` (a tenant's first run and full
# runs, chosen per run by sync.runs.queues), `default` (everything else). A worker consuming `bulk` holds at most
# SYNC_BULK_SLOTS of them at once.
app.conf.task_queues = [Queue(name, routing_key=name) for name in ("sync", "bulk", "default")]
app.conf.task_routes = {"sync.tasks.sync_tenant": {"queue": "sync"}}
app.autodiscover_tasks()

# Static periodic jobs; django-celery-beat's DatabaseScheduler copies them into its tables, where
# support staff see and tune them in the admin. Per-tenant daily runs are not beat entries: the
# dispatcher below reads each tenant's next run from the database (see README, "Scheduling").
app.conf.beat_schedule = {
    "dispatch-due-syncs": {"task": "sync.tasks.dispatch_due_syncs",
                           "schedule": float(os.environ.get("SYNC_DISPATCH_INTERVAL_SECONDS", "60"))},
    "qbo-refresh-token-keep-alive": {"task": "sync.tasks.qbo_keep_alive", "schedule": 3600.0},
    "expire-stale-leases": {"task": "sync.tasks.expire_leases", "schedule": 300.0},
    "release-fixed-holds": {"task": "sync.tasks.release_fixed_holds", "schedule": 900.0},
    "reconcile-qbo-changes": {"task": "sync.tasks.reconcile_qbo_changes", "schedule": 24 * 3600.0},
    "prune-idempotency-keys": {"task": "tenants.tasks.prune_idempotency_keys", "schedule": 3600.0},
    "deliver-due-webhooks": {"task": "webhooks.tasks.deliver_due", "schedule": 60.0},
    "dispatch-monthly-reconciliations": {"task": "reports.tasks.dispatch_monthly_reconciliations",
                                         "schedule": 900.0},
    "prune-audit": {"task": "audit.prune", "schedule": 24 * 3600.0},   # record events, actions, outbound calls
    "ops-heartbeat": {"task": "ops.heartbeat", "schedule": float(os.environ.get("OPS_HEARTBEAT_SECONDS", "60"))},
}


@app.task(name="ops.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Sent by beat alone, every minute: /healthz/ready's beat check (and its worker check, which the signals
    below also feed)."""
    from config.heartbeats import beat_heartbeat, worker_heartbeat

    worker_heartbeat()
    beat_heartbeat()


@signals.worker_ready.connect
@signals.task_postrun.connect
def _worker_alive(**kwargs):
    try:
        from config.heartbeats import worker_heartbeat

        worker_heartbeat()
    except Exception:  # noqa: BLE001 - a heartbeat never fails a task
        pass


@signals.worker_init.connect
@signals.worker_process_init.connect
def _tune_the_collector(**kwargs):
    """Runs allocate much and make few cycles: the collector's thresholds for them (core/collector.py), in the
    worker's process and in each process of a prefork pool."""
    from core.collector import tune_for_runs

    tune_for_runs()


# ----------------------------------------------------------------------------- stopping at a batch boundary
# SIGTERM starts Celery's warm shutdown: the worker takes no new task and waits for the running ones. A sync
# checks core.shutdown between batches and stops there (sync.runs.lifecycle), so a deploy does not wait
# hours. The flag is shared with prefork children (core/shutdown.py).

@signals.worker_init.connect
def _share_the_stop_flag(**kwargs):
    from core import shutdown

    shutdown.share_with_children()


class _NoticeStopsWithinASecond(bootsteps.StartStopStep):
    """A warm shutdown is noticed when the worker's event loop wakes up. On RabbitMQ without broker heartbeats
    its poll waits up to 10 s for a timer (kombu's hub), and a SIGTERM does not cut the wait short (the poll
    resumes after the signal handler): a deploy waited ~10 s for an idle worker. A timer every second keeps each
    poll at most a second long."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.entry = None

    def start(self, c):
        if c.timer is not None:
            self.entry = c.timer.call_repeatedly(1.0, _wake)

    def stop(self, c):
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None

    shutdown = stop


def _wake() -> None:
    """Nothing to do: the timer's only purpose is to end the event loop's poll."""


app.steps["consumer"].add(_NoticeStopsWithinASecond)


@signals.worker_shutting_down.connect
def _stop_runs_between_batches(sig=None, how=None, **kwargs):
    from core import shutdown

    shutdown.request()


@signals.worker_ready.connect
def _serve_worker_metrics(**kwargs):
    """With WORKER_METRICS_PORT set, the worker serves its processes' Prometheus figures there (for workers
    that do not share PROMETHEUS_MULTIPROC_DIR with the web, e.g. in their own containers)."""
    port = os.environ.get("WORKER_METRICS_PORT")
    if not port:
        return
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr=os.environ.get("WORKER_METRICS_ADDRESS", "0.0.0.0"), registry=registry)

"""The Celery app. Tasks are thin: they take ids, load rows and call one service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("ml_connector")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {"sync.tasks.sync_tenant": {"queue": "sync"}}
app.autodiscover_tasks()

# Static periodic jobs; django-celery-beat's DatabaseScheduler copies them into its tables, where
# support staff see and tune them in the admin. Per-tenant daily runs are not beat entries: the
# dispatcher below reads each tenant's next run from the database (see README, "Scheduling").
app.conf.beat_schedule = {
    "dispatch-due-syncs": {"task": "sync.tasks.dispatch_due_syncs", "schedule": 60.0},
    "qbo-refresh-token-keep-alive": {"task": "sync.tasks.qbo_keep_alive", "schedule": 3600.0},
    "expire-stale-leases": {"task": "sync.tasks.expire_leases", "schedule": 300.0},
    "release-fixed-holds": {"task": "sync.tasks.release_fixed_holds", "schedule": 900.0},
    "reconcile-qbo-changes": {"task": "sync.tasks.reconcile_qbo_changes", "schedule": 24 * 3600.0},
    "prune-api-calls": {"task": "sync.tasks.prune_api_calls", "schedule": 24 * 3600.0},
    "prune-idempotency-keys": {"task": "tenants.tasks.prune_idempotency_keys", "schedule": 3600.0},
    "deliver-due-webhooks": {"task": "webhooks.tasks.deliver_due", "schedule": 60.0},
    "dispatch-monthly-reconciliations": {"task": "reports.tasks.dispatch_monthly_reconciliations",
                                         "schedule": 900.0},
}

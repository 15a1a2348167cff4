"""Celery tasks: thin wrappers that take ids and call one service each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(name="sync.tasks.sync_tenant", bind=True, acks_late=True, max_retries=None,
             soft_time_limit=settings.SYNC_TASK_SOFT_TIME_LIMIT, time_limit=settings.SYNC_TASK_TIME_LIMIT)
def sync_tenant(self, run_id: str) -> str | None:
    from sync.runs.lifecycle import sync_run_perform
    from sync.runs.queues import BULK_QUEUE, bulk_slot, daily_slot

    if (self.request.delivery_info or {}).get("routing_key") != BULK_QUEUE:
        with daily_slot():
            run = sync_run_perform(run_id=run_id)
        return run.status if run else None
    with bulk_slot() as free:
        if free:
            run = sync_run_perform(run_id=run_id)
            return run.status if run else None
    # every bulk slot of this worker is taken: wait in the broker, not in a slot the daily runs need
    raise self.retry(countdown=settings.SYNC_BULK_RETRY_SECONDS)


@shared_task(name="sync.tasks.dispatch_due_syncs", acks_late=True)
def dispatch_due_syncs() -> dict:
    from sync.runs.schedule import dispatch_due_syncs as dispatch

    return dispatch()


@shared_task(name="sync.tasks.qbo_keep_alive", acks_late=True)
def qbo_keep_alive() -> dict:
    from connections.tokens import qbo_connections_keep_alive

    return qbo_connections_keep_alive()


@shared_task(name="sync.tasks.expire_leases", acks_late=True)
def expire_leases() -> int:
    from sync.runs.leases import leases_expire

    return leases_expire()


@shared_task(name="sync.tasks.release_fixed_holds", acks_late=True)
def release_fixed_holds() -> dict:
    from sync.holds.services import holds_release_fixed

    return holds_release_fixed()


@shared_task(name="sync.tasks.process_qbo_webhook", acks_late=True)
def process_qbo_webhook(changes: list[dict]) -> dict:
    from sync.qbo_changes.services import qbo_changes_apply

    return qbo_changes_apply(changes=changes)


@shared_task(name="sync.tasks.reconcile_qbo_changes", acks_late=True)
def reconcile_qbo_changes() -> dict:
    from sync.qbo_changes.services import qbo_changes_reconcile

    return qbo_changes_reconcile()


@shared_task(name="sync.tasks.replay_run", acks_late=True,
             soft_time_limit=settings.SYNC_TASK_SOFT_TIME_LIMIT, time_limit=settings.SYNC_TASK_TIME_LIMIT)
def replay_run(run_id: str, targets: dict[str, list[str]]) -> str | None:
    """A replay is performed by `sync_tenant` now (its targets are stored on the run). This name stays
    registered for replay messages queued before that: it performs the run the same way, taking the
    targets from its argument when the run has none stored."""
    from sync.runs.lifecycle import sync_run_perform

    run = sync_run_perform(run_id=run_id, targets=targets)
    return run.status if run else None

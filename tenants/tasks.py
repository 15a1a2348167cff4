"""Celery tasks of the tenants app: thin, each calls one service."""

from celery import shared_task


@shared_task(name="tenants.tasks.prune_idempotency_keys", acks_late=True)
def prune_idempotency_keys() -> int:
    from tenants.idempotency import idempotency_keys_prune

    return idempotency_keys_prune()

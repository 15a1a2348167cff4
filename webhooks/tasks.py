"""The delivery tasks: thin, they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from webhooks.services import deliveries_send_due


@shared_task(name="webhooks.tasks.deliver", ignore_result=True)
def deliver(delivery_ids: list[int]) -> dict:
    """Right after the change commits: the first attempt of these deliveries (those whose turn it is)."""
    return deliveries_send_due(delivery_ids=delivery_ids)


@shared_task(name="webhooks.tasks.deliver_due", ignore_result=True)
def deliver_due() -> dict:
    """Every minute (beat): retries whose time has come, and whatever waited for an earlier delivery."""
    return deliveries_send_due()

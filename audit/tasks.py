"""The audit's periodic task (beat, daily): retention."""

from celery import shared_task


@shared_task(name="audit.prune", acks_late=True)
def prune() -> dict[str, int]:
    import audit

    return audit.audit_prune()

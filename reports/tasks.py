"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reports.tasks.fit_report", acks_late=True)
def fit_report(report_id: str) -> str | None:
    from reports.fit import fit_report_perform

    report = fit_report_perform(report_id=report_id)
    return report.status if report else None


@shared_task(name="reports.tasks.reconciliation", acks_late=True)
def reconciliation(reconciliation_id: str) -> str | None:
    from reports.reconcile import reconciliation_perform

    found = reconciliation_perform(reconciliation_id=reconciliation_id)
    return found.status if found else None


@shared_task(name="reports.tasks.dispatch_monthly_reconciliations", acks_late=True)
def dispatch_monthly_reconciliations() -> dict:
    from reports.schedule import reconciliations_dispatch_due

    return reconciliations_dispatch_due()

"""Reads of the reports, for the API, the admin and the commands."""

from __future__ import annotations

from django.db.models import QuerySet

from reports.models import Finding, FitRecord, FitReport, Reconciliation


def fit_report_list(*, tenant) -> QuerySet[FitReport]:
    return FitReport.objects.for_tenant(tenant).order_by("-created_at")


def fit_record_list(*, report: FitReport) -> QuerySet[FitRecord]:
    return FitRecord.objects.for_tenant(report.tenant_id).filter(report=report).order_by("entity", "id")


def reconciliation_list(*, tenant) -> QuerySet[Reconciliation]:
    return Reconciliation.objects.for_tenant(tenant).order_by("-created_at")


def finding_list(*, reconciliation: Reconciliation) -> QuerySet[Finding]:
    return Finding.objects.for_tenant(reconciliation.tenant_id).filter(reconciliation=reconciliation).order_by(
        "kind", "id")

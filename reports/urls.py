"""Routes of the reports (under /api/v1/tenants/<tenant_id>/)."""

from django.urls import path

from reports import api

urlpatterns = [
    path("fit-reports", api.FitReportListApi.as_view(), name="fit-reports"),
    path("fit-reports/<uuid:report_id>", api.FitReportDetailApi.as_view(), name="fit-report"),
    path("fit-reports/<uuid:report_id>/records", api.FitRecordListApi.as_view(), name="fit-report-records"),
    path("fit-reports/<uuid:report_id>/csv", api.FitReportCsvApi.as_view(), name="fit-report-csv"),
    path("reconciliations", api.ReconciliationListApi.as_view(), name="reconciliations"),
    path("reconciliations/<uuid:reconciliation_id>", api.ReconciliationDetailApi.as_view(), name="reconciliation"),
    path("reconciliations/<uuid:reconciliation_id>/findings", api.FindingListApi.as_view(),
         name="reconciliation-findings"),
    path("reconciliations/<uuid:reconciliation_id>/csv", api.ReconciliationCsvApi.as_view(),
         name="reconciliation-csv"),
]

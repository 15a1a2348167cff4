"""Routes under /api/v1/tenants/<tenant_id>/ owned by the audit app."""

from django.urls import path

from audit import api

urlpatterns = [
    path("audit/records", api.RecordEventListApi.as_view(), name="audit-records"),
    path("audit/records.csv", api.RecordEventCsvApi.as_view(), name="audit-records-csv"),
    path("audit/actions", api.ActionListApi.as_view(), name="audit-actions"),
    path("audit/api-calls", api.ApiCallListApi.as_view(), name="audit-api-calls"),
    path("holds", api.HoldListApi.as_view(), name="audit-holds"),
    path("records/<str:entity>/<str:source_id>/replay", api.RecordReplayApi.as_view(), name="audit-record-replay"),
    path("syncs/<uuid:run_id>/replay-failed", api.RunReplayFailedApi.as_view(), name="audit-run-replay-failed"),
]

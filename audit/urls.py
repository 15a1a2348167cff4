"""Routes under /api/v1/tenants/<tenant_id>/ owned by the audit app."""

from django.urls import path

from audit import api

urlpatterns = [
    path("audit/records", api.RecordEventListApi.as_view(), name="audit-records"),
    path("audit/records.csv", api.RecordEventCsvApi.as_view(), name="audit-records-csv"),
    path("audit/actions", api.ActionListApi.as_view(), name="audit-actions"),
    path("audit/api-calls", api.ApiCallListApi.as_view(), name="audit-api-calls"),
]

"""Routes under /api/v1/tenants/<tenant_id>/ owned by the sync app."""

from django.urls import path

from sync import api
from sync.holds import api as holds_api
from sync.runs import api as runs_api

urlpatterns = [
    path("mappings", api.MappingListApi.as_view(), name="sync-mappings"),
    path("mappings/bulk", api.MappingBulkApi.as_view(), name="sync-mappings-bulk"),
    path("mappings/auto-match", api.MappingAutoMatchApi.as_view(), name="sync-mappings-auto-match"),
    path("mappings/<str:kind>/<str:code>", api.MappingDetailApi.as_view(), name="sync-mapping"),
    path("alignment", api.AlignmentApi.as_view(), name="sync-alignment"),
    path("catalogs/qbo", api.QboCatalogApi.as_view(), name="sync-catalog-qbo"),
    path("catalogs/jaggaer", api.JaggaerCatalogApi.as_view(), name="sync-catalog-jaggaer"),
    path("sync-settings", api.SyncSettingsApi.as_view(), name="sync-settings"),
    path("links/<str:kind>/<str:source_id>", api.LinkForgetApi.as_view(), name="sync-link-forget"),
    path("syncs", runs_api.SyncRunListApi.as_view(), name="sync-runs"),
    path("syncs/<uuid:run_id>", runs_api.SyncRunDetailApi.as_view(), name="sync-run"),
    path("syncs/<uuid:run_id>/cancel", runs_api.SyncRunCancelApi.as_view(), name="sync-run-cancel"),
    path("syncs/<uuid:run_id>/replay-failed", runs_api.RunReplayFailedApi.as_view(), name="sync-run-replay-failed"),
    path("records/<str:entity>/<str:source_id>/replay", runs_api.RecordReplayApi.as_view(), name="sync-record-replay"),
    path("holds", holds_api.HoldListApi.as_view(), name="sync-holds"),
]

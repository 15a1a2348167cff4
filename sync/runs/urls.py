"""Routes of runs and replays (under /api/v1/tenants/<tenant_id>/)."""

from django.urls import path

from sync.runs import api

urlpatterns = [
    path("syncs", api.SyncRunListApi.as_view(), name="sync-runs"),
    path("syncs/<uuid:run_id>", api.SyncRunDetailApi.as_view(), name="sync-run"),
    path("syncs/<uuid:run_id>/cancel", api.SyncRunCancelApi.as_view(), name="sync-run-cancel"),
    path("syncs/<uuid:run_id>/replay-failed", api.RunReplayFailedApi.as_view(), name="sync-run-replay-failed"),
    path("records/<str:entity>/<str:source_id>/replay", api.RecordReplayApi.as_view(), name="sync-record-replay"),
]

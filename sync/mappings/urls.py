"""Routes of mappings, catalogs, the alignment report and sync settings (under /api/v1/tenants/<tenant_id>/)."""

from django.urls import path

from sync.mappings import api

urlpatterns = [
    path("mappings", api.MappingListApi.as_view(), name="sync-mappings"),
    path("mappings/bulk", api.MappingBulkApi.as_view(), name="sync-mappings-bulk"),
    path("mappings/auto-match", api.MappingAutoMatchApi.as_view(), name="sync-mappings-auto-match"),
    path("mappings/<str:kind>/<str:code>", api.MappingDetailApi.as_view(), name="sync-mapping"),
    path("alignment", api.AlignmentApi.as_view(), name="sync-alignment"),
    path("catalogs/qbo", api.QboCatalogApi.as_view(), name="sync-catalog-qbo"),
    path("catalogs/jaggaer", api.JaggaerCatalogApi.as_view(), name="sync-catalog-jaggaer"),
    path("sync-settings", api.SyncSettingsApi.as_view(), name="sync-settings"),
]

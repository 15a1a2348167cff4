"""Routes under /api/v1/tenants/<tenant_id>/ owned by the sync app: each feature's own."""

from django.urls import include, path

urlpatterns = [
    path("", include("sync.mappings.urls")),
    path("", include("sync.links.urls")),
    path("", include("sync.runs.urls")),
    path("", include("sync.holds.urls")),
]

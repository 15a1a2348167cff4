"""Routes of links (under /api/v1/tenants/<tenant_id>/)."""

from django.urls import path

from sync.links import api

urlpatterns = [
    path("links/<str:entity>/<str:source_id>", api.LinkForgetApi.as_view(), name="sync-link-forget"),
]

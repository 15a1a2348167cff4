"""Routes of holds (under /api/v1/tenants/<tenant_id>/)."""

from django.urls import path

from sync.holds import api

urlpatterns = [
    path("holds", api.HoldListApi.as_view(), name="sync-holds"),
]

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

import config.schema  # noqa: F401  (registers the API key auth scheme in the OpenAPI schema)
from config.health import healthz, healthz_live, healthz_ready
from config.metrics import metrics_view
from sync.qbo_changes.api import qbo_webhook
from tenants.api import TenantViewSet
from tenants.keys_api import ApiKeyListApi, ApiKeyRevokeApi

router = SimpleRouter(trailing_slash=False)
router.register("tenants", TenantViewSet, basename="tenant")

api_v1 = [
    path("", include(router.urls)),
    path("api-keys", ApiKeyListApi.as_view(), name="api-keys"),
    path("api-keys/<str:key_id>/revoke", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
    path("tenants/<uuid:tenant_id>/", include("sync.urls")),
    path("tenants/<uuid:tenant_id>/", include("audit.urls")),
    path("", include("webhooks.urls")),
    path("tenants/<uuid:tenant_id>/", include("reports.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", healthz_live, name="healthz-live"),
    path("healthz/ready", healthz_ready, name="healthz-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("webhooks/qbo", qbo_webhook, name="qbo-webhook"),
    path("", include("connections.urls")),
]

handler400 = "core.api.handler400"
handler403 = "core.api.handler403"
handler404 = "core.api.handler404"
handler500 = "core.api.handler500"

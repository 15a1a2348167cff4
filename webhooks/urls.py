from django.urls import path
from rest_framework.routers import SimpleRouter

from webhooks.api import WebhookDeliveryListView, WebhookEndpointViewSet, WebhookRedeliverView

router = SimpleRouter(trailing_slash=False)
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")

urlpatterns = [
    *router.urls,
    path("webhook-endpoints/<uuid:endpoint_id>/deliveries", WebhookDeliveryListView.as_view(),
         name="webhook-delivery-list"),
    path("webhook-endpoints/<uuid:endpoint_id>/deliveries/<int:delivery_id>/redeliver", WebhookRedeliverView.as_view(),
         name="webhook-delivery-redeliver"),
]

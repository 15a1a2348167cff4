from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actor import actor_from_request
from core.api import CursorPage, no_body
from core.tenancy import unscoped
from webhooks import selectors, services
from webhooks.filters import WebhookDeliveryFilter
from webhooks.models import WebhookDelivery
from webhooks.serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookSecretSerializer,
)

_BIGINT_MAX = 2**63 - 1

_SIGNING = ("Every event is a POST with a JSON body `{id, type, timestamp, data}`, signed per the Standard "
            "Webhooks specification: headers `webhook-id`, `webhook-timestamp` and `webhook-signature`. "
            "Answer any 2xx within 10 seconds; other answers and timeouts are retried with growing waits "
            "for about a day.")


class _PartnerLog:
    # A partner's webhook log spans its tenants: read unscoped, always filtered by the partner (selectors).
    def dispatch(self, request, *args, **kwargs):
        with unscoped("a partner reads its own webhook log across its tenants"):
            return super().dispatch(request, *args, **kwargs)


@extend_schema_view(
    list=extend_schema(summary="List your webhook endpoints",
                       description="The URLs that receive your events, which events each receives, and whether "
                                   "it is enabled. " + _SIGNING),
    create=extend_schema(summary="Add a webhook endpoint", responses={201: WebhookEndpointCreatedSerializer},
                         description="Registers a public https:// URL for the event types given (all when none "
                                     "are given). The answer carries the signing secret once: store it to verify "
                                     "signatures. " + _SIGNING),
    retrieve=extend_schema(summary="Show a webhook endpoint",
                           description="Its URL, event types, whether it is enabled (and why not, after a long "
                                       "failure streak) and its secret's rotation state; never the secret."),
    partial_update=extend_schema(summary="Change a webhook endpoint",
                                 description="Change the URL, description, event types, or enable it again after "
                                             "it was disabled: its pending deliveries are then sent."),
    destroy=extend_schema(summary="Delete a webhook endpoint",
                          description="Nothing more is sent to it; its delivery log goes with it."),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                             mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookEndpointSerializer
    lookup_url_kwarg = "endpoint_id"
    http_method_names = ["get", "post", "patch", "delete"]
    filter_backends: list = []

    def get_queryset(self):
        partner = getattr(self.request, "partner", None)  # None only while the schema is generated
        return selectors.endpoint_list(partner=partner) if partner else selectors.endpoint_list(partner=None).none()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(partner=request.partner, data=serializer.validated_data,
                                                    actor=actor_from_request(request))
        endpoint.secret = secret
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.endpoint_update(endpoint=serializer.instance, data=serializer.validated_data,
                                                       actor=actor_from_request(self.request))

    @no_body
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance, actor=actor_from_request(self.request))

    @extend_schema(summary="Rotate an endpoint's signing secret", request=None,
                   responses={200: WebhookSecretSerializer},
                   description="Makes a new secret and answers it once. For the overlap window (24 hours by "
                               "default) every delivery is signed with both the new and the previous secret, so "
                               "you can switch your verifier without missing an event; then only the new one "
                               "signs.")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @no_body
    def rotate_secret(self, request, endpoint_id=None):
        endpoint = self.get_object()
        secret = services.endpoint_rotate_secret(endpoint=endpoint, actor=actor_from_request(request))
        endpoint.refresh_from_db()
        return Response(WebhookSecretSerializer({"id": endpoint.pk, "secret": secret,
                                                 "previous_secret_expires_at": endpoint.previous_secret_expires_at}
                                                ).data)


@extend_schema(summary="List an endpoint's deliveries",
               description="The delivery log, newest first: each event sent (or to be sent) to this endpoint, its "
                           "attempts, the status code your endpoint answered last and the next try.")
class WebhookDeliveryListView(_PartnerLog, generics.ListAPIView):
    serializer_class = WebhookDeliverySerializer
    pagination_class = CursorPage        # a growing log: pages by keyset, stable while deliveries are added
    filter_backends = [DjangoFilterBackend]
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self):
        partner = getattr(self.request, "partner", None)  # None only while the schema is generated
        if partner is None:
            return WebhookDelivery.objects.none()
        endpoint = get_object_or_404(selectors.endpoint_list(partner=partner), pk=self.kwargs["endpoint_id"])
        return selectors.delivery_list(partner=partner, endpoint_id=endpoint.pk)


class WebhookRedeliverView(_PartnerLog, APIView):
    @extend_schema(summary="Send an event to the endpoint again", request=None,
                   responses={202: WebhookDeliverySerializer},
                   description="Queues the delivery's event again, as a new delivery with the same `webhook-id` "
                               "(verify and de-duplicate on it). The endpoint must be enabled.")
    @no_body
    def post(self, request, endpoint_id, delivery_id):
        if delivery_id > _BIGINT_MAX:      # no such row, and beyond what the database can compare
            raise Http404
        delivery = get_object_or_404(selectors.delivery_list(partner=request.partner, endpoint_id=endpoint_id),
                                     pk=delivery_id)
        again = services.delivery_redeliver(delivery=delivery, actor=actor_from_request(request))
        again.refresh_from_db()
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.actor import actor_from_request
from core.api import no_body
from tenants import services
from tenants.filters import TenantFilter
from tenants.models import Tenant
from tenants.serializers import TenantSerializer


@extend_schema_view(
    list=extend_schema(description="Every tenant (customer company) of your partner account, by name. Filter by name "
                                   "or slug; page with `page` and `page_size`.",
                   summary="List your tenants"),
    create=extend_schema(description="Creates a tenant for one of your customers. Next: set its JAGGAER connection "
                                     "(PUT …/connections/jaggaer), connect QuickBooks (POST "
                                     "…/connections/qbo/authorize), import the catalogs (POST …/syncs with entities "
                                     "[\"catalogs\"]) and map its codes. Send an `Idempotency-Key` to retry safely. 409"
                                     " `slug_taken` when you already have a tenant with this slug.",
                   summary="Onboard a tenant"),
    retrieve=extend_schema(description="The tenant's settings, its daily sync hour in its own time zone and when the "
                                       "next scheduled sync is due.",
                   summary="Show a tenant"),
    update=extend_schema(description="Sets every writable field (name, slug, time zone, sync hour, schedule paused). "
                                     "Audited.",
                   summary="Replace a tenant's settings"),
    partial_update=extend_schema(description="Sets only the fields you send. Changing the time zone or the sync hour "
                                             "moves the next scheduled sync. Audited.",
                   summary="Change some of a tenant's settings"),
)
class TenantViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = TenantSerializer
    filterset_class = TenantFilter
    ordering_fields = ["name", "created_at", "slug"]
    lookup_url_kwarg = "tenant_id"

    def get_queryset(self):
        partner = getattr(self.request, "partner", None)  # None only while the schema is generated
        return Tenant.objects.for_partner(partner) if partner else Tenant.objects.none()

    def perform_create(self, serializer):
        serializer.instance = services.tenant_create(partner=self.request.partner, data=serializer.validated_data,
                                                     actor=actor_from_request(self.request))

    def perform_update(self, serializer):
        serializer.instance = services.tenant_update(tenant=serializer.instance, data=serializer.validated_data,
                                                     actor=actor_from_request(self.request))

    @extend_schema(description="Stops its scheduled and requested syncs; its data, connections and audit stay. "
                               "Reactivate it with POST …/activate. Takes no body.",
                   summary="Deactivate a tenant (its syncs stop; nothing is deleted)", request=None)
    @action(detail=True, methods=["post"])
    @no_body
    def deactivate(self, request, tenant_id=None):
        tenant = services.tenant_deactivate(tenant=self.get_object(), actor=actor_from_request(request))
        return Response(self.get_serializer(tenant).data, status=status.HTTP_200_OK)

    @extend_schema(description="Syncs of the tenant run again from its next scheduled hour. Takes no body.",
                   summary="Reactivate a tenant", request=None)
    @action(detail=True, methods=["post"])
    @no_body
    def activate(self, request, tenant_id=None):
        tenant = services.tenant_activate(tenant=self.get_object(), actor=actor_from_request(request))
        return Response(self.get_serializer(tenant).data, status=status.HTTP_200_OK)

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

import audit
from tenants import services
from tenants.filters import TenantFilter
from tenants.models import Tenant
from tenants.serializers import TenantSerializer

_AUDITED = ("name", "slug", "time_zone", "sync_hour", "schedule_paused", "is_active")
_SCHEDULE = ("time_zone", "sync_hour", "schedule_paused")


def _audit_view(tenant: Tenant) -> dict:
    return {name: getattr(tenant, name) for name in _AUDITED}


@extend_schema_view(
    list=extend_schema(summary="List your tenants"),
    create=extend_schema(summary="Onboard a tenant"),
    retrieve=extend_schema(summary="Show a tenant"),
    update=extend_schema(summary="Replace a tenant's settings"),
    partial_update=extend_schema(summary="Change some of a tenant's settings"),
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
        tenant = services.tenant_create(partner=self.request.partner, data=serializer.validated_data)
        serializer.instance = tenant
        audit.action("tenant.create", actor=self.request, tenant=tenant, target_type="tenant", target_id=tenant.pk,
                     after=_audit_view(tenant))

    def perform_update(self, serializer):
        before = _audit_view(serializer.instance)
        serializer.instance = services.tenant_update(tenant=serializer.instance, data=serializer.validated_data)
        old, new = audit.changes(before, _audit_view(serializer.instance))
        for code, names in (("tenant.update", [n for n in old if n not in _SCHEDULE]),
                            ("tenant.schedule.update", [n for n in old if n in _SCHEDULE])):
            if names:
                audit.action(code, actor=self.request, tenant=serializer.instance, target_type="tenant",
                             target_id=serializer.instance.pk, before={n: old[n] for n in names},
                             after={n: new[n] for n in names})

    @extend_schema(summary="Deactivate a tenant (its syncs stop; nothing is deleted)", request=None)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, tenant_id=None):
        tenant = self.get_object()
        was_active = tenant.is_active
        tenant = services.tenant_set_active(tenant=tenant, active=False)
        audit.action("tenant.deactivate", actor=request, tenant=tenant, target_type="tenant", target_id=tenant.pk,
                     before={"is_active": was_active}, after={"is_active": tenant.is_active})
        return Response(self.get_serializer(tenant).data, status=status.HTTP_200_OK)

    @extend_schema(summary="Reactivate a tenant", request=None)
    @action(detail=True, methods=["post"])
    def activate(self, request, tenant_id=None):
        tenant = self.get_object()
        was_active = tenant.is_active
        tenant = services.tenant_set_active(tenant=tenant, active=True)
        audit.action("tenant.activate", actor=request, tenant=tenant, target_type="tenant", target_id=tenant.pk,
                     before={"is_active": was_active}, after={"is_active": tenant.is_active})
        return Response(self.get_serializer(tenant).data, status=status.HTTP_200_OK)

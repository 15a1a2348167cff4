"""Mappings, catalogs, the alignment report and sync settings under /api/v1/tenants/<tenant_id>/."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actor import actor_from_request
from core.api import no_body
from sync.mappings import selectors, services
from sync.mappings.filters import JaggaerCatalogFilter, MappingFilter, QboCatalogFilter
from sync.mappings.serializers import (
    AlignmentSerializer,
    AutoMatchAnswerSerializer,
    AutoMatchSerializer,
    JaggaerCatalogItemSerializer,
    MappingBulkSerializer,
    MappingSerializer,
    MappingSetSerializer,
    QboCatalogItemSerializer,
    SyncSettingsSerializer,
)
from sync.models import Kind
from tenants.permissions import TenantScopedMixin


class MappingListApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = MappingSerializer
    filterset_class = MappingFilter
    ordering_fields = ["kind", "code", "state", "updated_at"]

    @extend_schema(description="Which QuickBooks account or department each JAGGAER code maps to, who made the "
                               "mapping (auto or person) and whether it is still valid.",
                   summary="List GL account and department mappings (filter by kind, state, source, code)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.mapping_list(tenant=self.tenant)


class MappingDetailApi(TenantScopedMixin, APIView):
    def _get(self, kind, code):
        if kind not in Kind.values:
            raise Http404
        mapping = selectors.mapping_list(tenant=self.tenant).filter(kind=kind, code=code).first()
        if mapping is None:
            raise Http404
        return mapping

    @extend_schema(description="One code's mapping; 404 when the code is unknown.",
                   summary="Show one mapping", responses=MappingSerializer)
    def get(self, request, tenant_id, kind, code):
        return Response(MappingSerializer(self._get(kind, code)).data)

    @extend_schema(description="Maps the code to the QuickBooks object `qbo_id` (from …/catalogs/qbo; null clears "
                               "it). Held records waiting on the code are retried by the next run. Audited.",
                   summary="Map a JAGGAER code to a QBO account or department (a person's mapping)",
                   request=MappingSetSerializer, responses=MappingSerializer)
    def put(self, request, tenant_id, kind, code):
        if kind not in Kind.values:
            raise Http404
        serializer = MappingSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mapping = services.mapping_set(tenant=self.tenant, kind=kind, code=code,
                                       qbo_id=serializer.validated_data["qbo_id"] or None,
                                       actor=actor_from_request(request))
        return Response(MappingSerializer(mapping).data)

    @extend_schema(description="Leaves the code unmapped; auto-matching will not map it again. Takes no body. Audited.",
                   summary="Clear a mapping (unmapped; auto-matching leaves it alone)", responses=MappingSerializer)
    @no_body
    def delete(self, request, tenant_id, kind, code):
        self._get(kind, code)
        mapping = services.mapping_set(tenant=self.tenant, kind=kind, code=code, qbo_id=None,
                                       actor=actor_from_request(request))
        return Response(MappingSerializer(mapping).data)


class MappingBulkApi(TenantScopedMixin, APIView):
    @extend_schema(description="Each item sets one mapping as PUT …/mappings/{kind}/{code} does; if one is refused, "
                               "none is set.",
                   summary="Set several mappings at once (all or nothing)", request=MappingBulkSerializer,
                   responses=MappingSerializer(many=True))
    def post(self, request, tenant_id):
        serializer = MappingBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mappings = services.mappings_bulk_set(tenant=self.tenant, items=serializer.validated_data["mappings"],
                                              actor=actor_from_request(request))
        return Response(MappingSerializer(mappings, many=True).data)


class MappingAutoMatchApi(TenantScopedMixin, APIView):
    @extend_schema(description="Maps unmapped codes to QuickBooks objects whose account number equals the code, else "
                               "whose name matches. With `include_person` it also replaces mappings a person made. "
                               "Answers how many were matched per kind.",
                   summary="Re-run auto-matching (account number = code, else same name)",
                   request=AutoMatchSerializer, responses=AutoMatchAnswerSerializer)
    def post(self, request, tenant_id):
        serializer = AutoMatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        counts = services.mappings_auto_match(tenant=self.tenant, kind=serializer.validated_data.get("kind"),
                                              include_person=serializer.validated_data["include_person"],
                                              actor=actor_from_request(request))
        return Response({"counts": counts})


class AlignmentApi(TenantScopedMixin, APIView):
    @extend_schema(description="For each JAGGAER GL account and department code the tenant uses: whether it has a "
                               "valid QuickBooks counterpart, and the held records waiting on it; plus the QuickBooks"
                               " accounts and departments no code uses. Empty until the catalogs are imported (POST "
                               "…/syncs with entities [\"catalogs\"]).",
                   summary="Alignment report: JAGGAER codes without a valid QBO counterpart (with held records "
                           "waiting on each) and QBO accounts and departments no code uses",
                   responses=AlignmentSerializer)
    def get(self, request, tenant_id):
        return Response(AlignmentSerializer(selectors.alignment_report(tenant=self.tenant)).data)


class QboCatalogApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = QboCatalogItemSerializer
    filterset_class = QboCatalogFilter
    ordering_fields = ["name", "number", "kind"]

    @extend_schema(description="The accounts and departments read from QuickBooks by the last catalog import, with "
                               "the ids to map codes to (`qbo_id`).",
                   summary="QuickBooks accounts and departments as last imported")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.qbo_catalog_list(tenant=self.tenant)


class JaggaerCatalogApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = JaggaerCatalogItemSerializer
    filterset_class = JaggaerCatalogFilter
    ordering_fields = ["code", "name", "kind"]

    @extend_schema(description="The codes read from JAGGAER by the last catalog import (`present` false: no longer in"
                               " JAGGAER).",
                   summary="JAGGAER GL accounts and departments as last imported")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.jaggaer_catalog_list(tenant=self.tenant)


class SyncSettingsApi(TenantScopedMixin, APIView):
    @extend_schema(description="The default Accounts Payable account of bills and the department policy.",
                   summary="Show the tenant's sync settings", responses=SyncSettingsSerializer)
    def get(self, request, tenant_id):
        return Response(SyncSettingsSerializer(selectors.sync_settings_get(tenant=self.tenant)).data)

    @extend_schema(description="Sets the default AP account (checked against QuickBooks: an Accounts Payable account)"
                               " and the department policy. Audited.",
                   summary="Change the tenant's sync settings (default AP account, validated against QBO)",
                   request=SyncSettingsSerializer, responses=SyncSettingsSerializer)
    def patch(self, request, tenant_id):
        serializer = SyncSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        changes = {}
        if "ap_account" in data:
            changes["ap_account_id"] = (data["ap_account"] or {}).get("qbo_id")
        if "department_policy" in data:
            changes["department_policy"] = data["department_policy"]
        current = (services.sync_settings_update(tenant=self.tenant, actor=actor_from_request(request), **changes)
                   if changes else selectors.sync_settings_get(tenant=self.tenant))
        return Response(SyncSettingsSerializer(current).data, status=status.HTTP_200_OK)

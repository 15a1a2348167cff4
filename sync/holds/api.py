"""Records held back, listed under /api/v1/tenants/<tenant_id>/holds."""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from core.api import cursor_page
from sync.holds.selectors import hold_list, holds_waiting_on
from sync.models import Hold
from tenants.permissions import TenantScopedMixin

TAGS = ["holds"]


class HoldSerializer(serializers.Serializer):
    # A record the pipeline holds back, and what would release it: named like the audit's record rows.
    id = serializers.IntegerField()
    entity = serializers.CharField()
    source_id = serializers.CharField()
    reason = serializers.CharField()
    message = serializers.CharField(source="detail", help_text="Why it is held and what would release it.")
    waits_on = serializers.ListField(child=serializers.CharField(),
                                     help_text="Codes or ids whose fix would release it (GL code, company id...).")
    created_at = serializers.DateTimeField(source="first_held_at", help_text="When it was first held.")
    last_held_at = serializers.DateTimeField(help_text="When a run last held it (a run that did not plan it again "
                                                       "leaves it as it was).")
    last_run_id = serializers.UUIDField(allow_null=True)


class HoldFilter(django_filters.FilterSet):
    waits_on = django_filters.CharFilter(method="filter_waits_on", help_text="Held records waiting on this code.")

    class Meta:
        model = Hold
        fields = ["entity", "reason", "source_id", "waits_on"]

    def filter_waits_on(self, queryset, name, value):
        return holds_waiting_on(queryset=queryset, code=value)


class HoldListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = Hold.objects.none()
    serializer_class = HoldSerializer
    filterset_class = HoldFilter
    pagination_class = cursor_page("-first_held_at", "-id")
    filter_backends = [DjangoFilterBackend]

    @extend_schema(description="Records that cannot be written yet, with the reason, a message saying what would "
                               "release them, the codes or ids they wait on, and since when (`created_at`). A held "
                               "record is planned again by a run once what it waits on may have changed (README, "
                               "Holds) and released once its cause is fixed. Newest first, in cursor pages: follow "
                               "`next`.",
                   summary="Records held back, with the reason, what they wait on and since when", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return hold_list(tenant=self.tenant)

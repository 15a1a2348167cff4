import django_filters

from core.filters import IsoDateTimeFilter
from tenants.models import Tenant


class TenantFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Tenant
        fields = ["is_active", "slug", "time_zone", "name", "created_after", "created_before"]

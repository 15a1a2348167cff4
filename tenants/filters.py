import django_filters

from tenants.models import Tenant


class TenantFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Tenant
        fields = ["is_active", "slug", "time_zone", "name", "created_after", "created_before"]

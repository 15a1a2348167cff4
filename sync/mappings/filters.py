import django_filters

from sync.models import JaggaerCatalogItem, Mapping, QboCatalogItem


class MappingFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Mapping
        fields = ["kind", "state", "source", "code"]


class QboCatalogFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = QboCatalogItem
        fields = ["kind", "active", "present", "classification", "account_sub_type", "name"]


class JaggaerCatalogFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = JaggaerCatalogItem
        fields = ["kind", "active", "present", "code", "name"]

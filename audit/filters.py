"""Query-string filters of the audit API. `since` is inclusive, `until` exclusive; dates or ISO datetimes."""

import django_filters

from audit.models import Action, ApiCall, Outcome, RecordEvent
from core.filters import DateTimeFilter


class _Period(django_filters.FilterSet):
    since = DateTimeFilter(field_name="created_at", lookup_expr="gte",
                                          help_text="From this time on (inclusive), e.g. 2025-01-01.")
    until = DateTimeFilter(field_name="created_at", lookup_expr="lt",
                                          help_text="Before this time (exclusive), e.g. 2025-02-01.")


class RecordEventFilter(_Period):
    run = django_filters.UUIDFilter(field_name="run_id", help_text="Rows of this sync run.")
    entity = django_filters.CharFilter(help_text="suppliers, purchase_orders, invoices, ...")
    outcome = django_filters.MultipleChoiceFilter(choices=Outcome.choices,
                                                  help_text="Repeat for several: ?outcome=failed&outcome=held")
    reason = django_filters.CharFilter()
    source_id = django_filters.CharFilter(help_text="The JAGGAER id of the record.")

    class Meta:
        model = RecordEvent
        fields = ["run", "entity", "outcome", "reason", "source_id", "since", "until"]


class ActionFilter(_Period):
    action = django_filters.CharFilter(method="filter_action",
                                       help_text='A code ("mapping.set") or a prefix ending in a dot ("mapping.").')
    actor_kind = django_filters.ChoiceFilter(choices=Action.ActorKind.choices)

    class Meta:
        model = Action
        fields = ["action", "actor_kind", "target_type", "target_id", "since", "until"]

    def filter_action(self, queryset, name, value):
        return queryset.filter(action__startswith=value) if value.endswith(".") else queryset.filter(action=value)


class ApiCallFilter(_Period):
    run = django_filters.UUIDFilter(field_name="run_id")
    failed = django_filters.BooleanFilter(method="filter_failed", help_text="Only attempts without a 2xx/3xx answer.")

    class Meta:
        model = ApiCall
        fields = ["run", "system", "method", "status", "code", "intuit_tid", "failed", "since", "until"]

    def filter_failed(self, queryset, name, value):
        from django.db.models import Q

        bad = Q(status__isnull=True) | Q(status__gte=400)
        return queryset.filter(bad) if value else queryset.exclude(bad)

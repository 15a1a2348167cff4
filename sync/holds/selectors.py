"""Reads of holds: which ones wait on a mapping, and on which codes."""

from __future__ import annotations

from collections import Counter

from django.db import connection
from django.db.models import QuerySet

from sync.models import Hold, Kind

MAPPING_HOLD_REASONS = {Kind.GL_ACCOUNT: "gl_unmapped", Kind.DEPARTMENT: "department_unmapped"}


def hold_list(*, tenant) -> QuerySet[Hold]:
    """A tenant's held records, oldest first (without the stored record, which lists do not show)."""
    return Hold.objects.for_tenant(tenant).defer("record").order_by("first_held_at", "pk")


def holds_waiting_on(*, queryset: QuerySet[Hold], code: str) -> QuerySet[Hold]:
    """The holds of `queryset` whose fix waits on `code`."""
    if connection.features.supports_json_field_contains:
        return queryset.filter(waits_on__contains=[code])
    # SQLite (the embedded default) has no JSON containment: narrow by text, then check exactly.
    candidates = queryset.filter(waits_on__icontains=code).values_list("pk", "waits_on")
    return queryset.filter(pk__in=[pk for pk, codes in candidates if code in (codes or [])])


def holds_on_mappings_count(*, tenant) -> int:
    """How many of a tenant's records are held on an unmapped GL or department code."""
    return Hold.objects.for_tenant(tenant).filter(reason__in=list(MAPPING_HOLD_REASONS.values())).count()


def held_counts_by_code(*, tenant, kind: str) -> Counter:
    """How many held records wait on each code of `kind` (one query)."""
    counts: Counter = Counter()
    rows = Hold.objects.for_tenant(tenant).filter(reason=MAPPING_HOLD_REASONS[kind]).values_list("waits_on", flat=True)
    for codes in rows:
        for code in set(codes or []):
            counts[str(code)] += 1
    return counts

"""Reads of the audit app, always scoped to one tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import Action, ApiCall, RecordEvent


def record_event_list(*, tenant) -> QuerySet[RecordEvent]:
    return RecordEvent.objects.for_tenant(tenant)


def action_list(*, tenant) -> QuerySet[Action]:
    return Action.objects.for_tenant(tenant)


def api_call_list(*, tenant) -> QuerySet[ApiCall]:
    return ApiCall.objects.for_tenant(tenant)

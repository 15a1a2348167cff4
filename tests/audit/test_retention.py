"""Retention: record events, people's actions and outbound calls older than their periods are deleted, oldest
first in batches, by the daily task and `manage.py prune_audit`; everything younger stays."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import Action, ApiCall, RecordEvent
from audit.tasks import prune
from config.celery import app
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

AGES = {"fresh": 1, "edge": 29, "old": 31, "ancient": 700}


def _rows(tenants, now):
    for label, days in AGES.items():
        at = now - dt.timedelta(days=days)
        for tenant in tenants:
            event = RecordEvent.objects.create(tenant=tenant, entity="suppliers", source_id=label, outcome="created")
            action = Action.objects.create(tenant=tenant, actor_kind="system", actor_label="system",
                                           action="mapping.set", target_id=label)
            RecordEvent.objects.filter(pk=event.pk).update(created_at=at)   # auto_now_add: set the age after
            Action.objects.filter(pk=action.pk).update(created_at=at)
            ApiCall.objects.create(tenant=tenant, system="qbo", method="GET", path=f"/{label}", status=200,
                                   created_at=at)


def test_rows_older_than_their_retention_are_pruned_in_batches_and_younger_ones_stay(tenant, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    settings.API_CALL_RETENTION_DAYS = 2
    now = timezone.now()
    _rows([tenant, TenantFactory(partner=tenant.partner)], now)
    import audit

    assert audit.audit_prune(now=now, batch=3) == {"record_events": 4, "actions": 4, "api_calls": 6}
    assert sorted(set(RecordEvent.objects.values_list("source_id", flat=True))) == ["edge", "fresh"]
    assert sorted(set(Action.objects.values_list("target_id", flat=True))) == ["edge", "fresh"]
    assert list(set(ApiCall.objects.values_list("path", flat=True))) == ["/fresh"]
    assert RecordEvent.objects.count() == Action.objects.count() == 4


def test_the_command_and_the_daily_task_prune_with_their_options(tenant, settings):
    settings.AUDIT_RETENTION_DAYS = 1000
    settings.API_CALL_RETENTION_DAYS = 1000
    _rows([tenant], timezone.now())
    out = StringIO()
    call_command("prune_audit", "--days", "30", "--api-call-days", "30", "--batch", "1", stdout=out)
    assert out.getvalue().strip() == "record events: 2 deleted, actions: 2 deleted, api calls: 2 deleted"
    settings.AUDIT_RETENTION_DAYS = 20
    settings.API_CALL_RETENTION_DAYS = 20
    assert prune.apply().get() == {"record_events": 1, "actions": 1, "api_calls": 1}
    assert RecordEvent.objects.get().source_id == "fresh"
    with pytest.raises(CommandError, match="--days must be at least 1"):
        call_command("prune_audit", "--days", "0")
    assert app.conf.beat_schedule["prune-audit"]["task"] == "audit.prune"

"""The monthly reconciliation: due on the first of the month at the tenant's hour in its zone, once a month;
the Celery task runs it with the tenant's own connections."""

import datetime as dt

import pytest

from reports.models import Reconciliation, ReportStatus
from reports.schedule import reconciliation_due, reconciliations_dispatch_due
from tests.connections.support import configured_jaggaer, connected_qbo
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def test_a_tenant_is_due_on_the_first_at_its_hour_in_its_zone():
    paris = "Europe/Paris"
    assert reconciliation_due(time_zone=paris, hour=2, now=dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)) is None
    assert reconciliation_due(time_zone=paris, hour=2, now=dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)) == \
        dt.date(2026, 11, 1)
    assert reconciliation_due(time_zone=paris, hour=2, now=dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)) == \
        dt.date(2026, 11, 1)     # caught up after an outage
    assert reconciliation_due(time_zone=paris, hour=2, now=dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)) is None
    assert reconciliation_due(time_zone="UTC", hour=5, now=dt.datetime(2027, 1, 1, 5, 0, tzinfo=dt.UTC)) == \
        dt.date(2026, 12, 1)


def test_the_dispatcher_queues_each_due_tenant_once_a_month(alice, qbo_sandbox, jaggaer_sandbox, settings,
                                                            django_capture_on_commit_callbacks):
    settings.QBO_API_BASE = qbo_sandbox.url
    due = TenantFactory(partner=alice.partner, time_zone="Pacific/Kiritimati", sync_hour=2)
    later = TenantFactory(partner=alice.partner, time_zone="Pacific/Pago_Pago", sync_hour=2)
    unconnected = TenantFactory(partner=alice.partner, time_zone="Pacific/Kiritimati", sync_hour=2)
    connected_qbo(due, qbo_sandbox)
    connected_qbo(later, qbo_sandbox, realm_id=qbo_sandbox.app.create_realm().id)
    for tenant in (due, later):
        configured_jaggaer(tenant, jaggaer_sandbox)
    now = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)      # 1 December 03:00 in Kiritimati
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciliations_dispatch_due(now=now) == {"due": 1, "queued": 1}
    found = Reconciliation.objects.get()
    assert (found.tenant_id, found.period_start, found.period_end) == (due.pk, dt.date(2026, 11, 1),
                                                                       dt.date(2026, 11, 30))
    assert found.status == ReportStatus.SUCCEEDED, found.error_message   # the task ran with the tenant's clients
    assert found.summary["requests"]["qbo"] > 0
    assert reconciliations_dispatch_due(now=now + dt.timedelta(minutes=15)) == {"due": 1, "queued": 0}
    assert not Reconciliation.objects.filter(tenant=unconnected).exists()
    assert not Reconciliation.objects.filter(tenant=later).exists()

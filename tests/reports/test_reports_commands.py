"""manage.py fit_report and manage.py reconcile, with the tenant's own connections to the sandboxes."""

import io

import pytest
from django.core.management import CommandError, call_command

from reports.models import FitReport, Reconciliation, ReportStatus
from tests.connections.support import configured_jaggaer, connected_qbo

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(tenant, qbo_sandbox, jaggaer_sandbox, settings):
    settings.QBO_API_BASE = qbo_sandbox.url
    connected_qbo(tenant, qbo_sandbox)
    configured_jaggaer(tenant, jaggaer_sandbox)
    return tenant


def test_the_fit_report_command_runs_with_the_tenant_connections_and_prints_predictions(connected, qbo_sandbox):
    out = io.StringIO()
    call_command("fit_report", connected.slug, "--max-pages", "1", stdout=out)
    report = FitReport.objects.get()
    assert report.status == ReportStatus.SUCCEEDED, report.error_message
    assert report.capped is False and "SAMPLE" not in out.getvalue()     # the small data set fits in a page
    assert "suppliers:" in out.getvalue() and "QuickBooks:" in out.getvalue()
    assert report.created_by == "manage.py fit_report"
    assert not [e for e in qbo_sandbox.log.entries() if e["method"] == "POST" and "/query" not in e["endpoint"]]


def test_the_reconcile_command_reconciles_the_month_given(connected):
    out = io.StringIO()
    call_command("reconcile", connected.slug, "--month", "2026-11", stdout=out)
    found = Reconciliation.objects.get()
    assert found.status == ReportStatus.SUCCEEDED and str(found.period_start) == "2026-11-01"
    assert "of 2026-11" in out.getvalue()
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("reconcile", connected.slug, "--month", "November")
    with pytest.raises(CommandError, match="No tenant"):
        call_command("fit_report", "no-such-tenant")

"""The reports' admin: ask for one (the service, audited), read a fit report's summary and a reconciliation's
chart of findings; read-only staff cannot ask."""

import pytest
from django.urls import reverse

from audit.models import Action
from core.actor import SYSTEM
from reports.fit import fit_report_perform
from reports.models import FitReport, Reconciliation
from reports.reconcile import reconciliation_perform, reconciliation_request
from sync.models import SyncRun
from tests.reports.test_reconciliation import october_bills, reconcile

pytestmark = pytest.mark.django_db


def test_staff_ask_for_a_fit_report_and_read_its_summary(superuser_client, tenant, qbo_client, jaggaer_client,
                                                        django_capture_on_commit_callbacks):
    ask = reverse("admin:reports_fitreport_ask")
    assert "Ask for one" in superuser_client.get(reverse("admin:reports_fitreport_changelist")).content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        answer = superuser_client.post(ask, {"tenant": tenant.pk, "max_pages": 3})
    report = FitReport.objects.get()
    assert answer.status_code == 302 and report.parameters == {"max_pages": 3}
    assert Action.objects.get(action="fit_report.request").actor_kind == "staff_user"
    fit_report_perform(report_id=report.pk, qbo=qbo_client, jaggaer=jaggaer_client)
    page = superuser_client.get(reverse("admin:reports_fitreport_change", args=[report.pk])).content.decode()
    assert "What the next sync would do" in page and "Mapping gaps" in page and "mlc-fit-record" in page


def test_a_reconciliation_page_shows_a_chart_of_its_findings(superuser_client, tenant, run_sync, qbo_client,
                                                             jaggaer_client):
    assert run_sync().status == SyncRun.Status.SUCCEEDED
    found = reconciliation_request(tenant=tenant, actor=SYSTEM, month="2026-10", enqueue=False)
    found = reconciliation_perform(reconciliation_id=found.pk, qbo=qbo_client, jaggaer=jaggaer_client)
    response = superuser_client.get(reverse("admin:reports_reconciliation_change", args=[found.pk]))
    page = response.content.decode()
    bars = response.context["chart"]
    assert bars and bars[0]["width"] == 300 and all(b["kind"] in page for b in bars)
    assert page.count('class="mlc-finding"') == min(found.summary["findings"], 200)
    listed = superuser_client.get(reverse("admin:reports_reconciliation_changelist")).content.decode()
    assert "2026-10" in listed or "Oct. 1, 2026" in listed


def test_read_only_staff_cannot_ask(read_only_client, tenant):
    assert read_only_client.get(reverse("admin:reports_reconciliation_changelist")).status_code == 200
    answer = read_only_client.post(reverse("admin:reports_reconciliation_ask"), {"tenant": tenant.pk})
    assert answer.status_code == 403 and not Reconciliation.objects.exists()


def test_a_finding_links_to_where_support_resolves_it(superuser_client, tenant, run_sync, qbo_sandbox, qbo_client,
                                                      jaggaer_client):
    """Replay and forget-link findings open the record's page (its buttons do it, with their permissions); map
    findings open the tenant's mapping editor; a record we never saw gets no link."""
    assert run_sync().status == SyncRun.Status.SUCCEEDED
    gone = october_bills(tenant, count=1)[0]
    qbo_sandbox.app.delete_entity("Bill", gone.qbo_id)              # a bill_missing finding: forget the link
    found = reconcile(tenant, qbo_client, jaggaer_client)
    response = superuser_client.get(reverse("admin:reports_reconciliation_change", args=[found.pk]))
    shown = response.context["findings"]
    assert [f for f in shown if f.kind == "bill_missing" and f.jaggaer_id == gone.jaggaer_invoice_id and f.links]
    record_links = [(f, url) for f in shown for _, url in f.links if "/records/" in url]
    assert record_links, [(f.kind, f.action, f.entity, f.jaggaer_id) for f in shown]
    for finding, url in record_links[:5]:
        assert finding.action in ("replay", "forget_link") and finding.jaggaer_id in url
        assert url in response.content.decode()
        record_page = superuser_client.get(url)
        assert record_page.status_code == 200 and finding.jaggaer_id in record_page.content.decode()
    editor = reverse("admin:sync_mapping_tenant", args=[tenant.pk])
    assert all(f.links == [("Open the mapping editor", editor)] for f in shown if f.action == "map")
    assert all(f.links == [] for f in shown if f.action == "manual")

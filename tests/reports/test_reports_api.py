"""The reports over the API: ask (202), follow, list, records, CSV; another partner sees none of it."""

import csv
import io

import pytest

from audit.models import Action
from reports.fit import fit_report_perform
from reports.models import FitReport, Reconciliation
from reports.reconcile import reconciliation_perform
from sync.models import SyncRun
from tests.factories import connections_stored

pytestmark = pytest.mark.django_db


def _csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_a_fit_report_is_asked_for_followed_listed_and_exported(alice, bob, tenant, qbo_client, jaggaer_client,
                                                                django_capture_on_commit_callbacks):
    base = f"/api/v1/tenants/{tenant.id}/fit-reports"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = alice.client.post(base, {"max_pages": 5}, format="json")
    assert answer.status_code == 202, answer.json()
    assert answer.json()["status"] == "queued" and answer.json()["parameters"] == {"max_pages": 5}
    assert len(queued) == 1
    report_id = answer.json()["id"]
    assert Action.objects.filter(action="fit_report.request", target_id=report_id).exists()
    fit_report_perform(report_id=report_id, qbo=qbo_client, jaggaer=jaggaer_client)
    shown = alice.client.get(f"{base}/{report_id}").json()
    assert shown["status"] == "succeeded" and shown["capped"] is False
    assert shown["summary"]["entities"]["suppliers"]["create"] > 0
    assert shown["finished_at"].endswith("Z")
    assert [r["id"] for r in alice.client.get(base).json()["results"]] == [report_id]
    held = alice.client.get(f"{base}/{report_id}/records", {"prediction": "hold"}).json()["results"]
    assert held and all(r["prediction"] == "hold" and r["reason"] for r in held)
    rows = _csv_rows(alice.client.get(f"{base}/{report_id}/csv"))
    assert rows[0][:3] == ["Record type", "JAGGAER id", "Prediction"]
    assert len(rows) - 1 == len(FitReport.objects.get(pk=report_id).records.all())
    assert bob.client.get(f"{base}/{report_id}").status_code in (403, 404)
    assert bob.client.get(f"{base}/{report_id}/csv").status_code in (403, 404)


def test_a_fit_report_request_refuses_unknown_fields_and_bad_page_caps(alice, tenant):
    base = f"/api/v1/tenants/{tenant.id}/fit-reports"
    assert alice.client.post(base, {"max_page": 5}, format="json").status_code == 400
    assert alice.client.post(base, {"max_pages": 0}, format="json").status_code == 400
    assert alice.client.post(base, {"max_pages": 10**6}, format="json").status_code == 400
    assert not FitReport.objects.exists()


def test_no_fit_report_while_a_sync_runs(alice, tenant, django_capture_on_commit_callbacks):
    connections_stored(tenant)
    with django_capture_on_commit_callbacks(execute=False):
        assert alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs", {}, format="json").status_code == 202
        answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/fit-reports", {}, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "sync_already_running"
    assert not FitReport.objects.exists()


def test_a_reconciliation_is_asked_for_a_month_followed_and_exported(alice, bob, tenant, run_sync, qbo_client,
                                                                    jaggaer_client,
                                                                    django_capture_on_commit_callbacks):
    assert run_sync().status == SyncRun.Status.SUCCEEDED
    base = f"/api/v1/tenants/{tenant.id}/reconciliations"
    assert alice.client.post(base, {"month": "2026-13"}, format="json").status_code == 400
    assert alice.client.post(base, {"month": "2026-10", "extra": 1}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=False):
        answer = alice.client.post(base, {"month": "2026-10"}, format="json")
    assert answer.status_code == 202, answer.json()
    body = answer.json()
    assert (body["month"], body["period_start"], body["period_end"]) == ("2026-10", "2026-10-01", "2026-10-31")
    reconciliation_perform(reconciliation_id=body["id"], qbo=qbo_client, jaggaer=jaggaer_client)
    shown = alice.client.get(f"{base}/{body['id']}").json()
    assert shown["status"] == "succeeded" and shown["summary"]["findings"] > 0
    findings = alice.client.get(f"{base}/{body['id']}/findings", {"kind": "invoice_without_bill"}).json()["results"]
    assert findings and all(f["severity"] == "high" and f["action"] for f in findings)
    rows = _csv_rows(alice.client.get(f"{base}/{body['id']}/csv"))
    assert rows[0][0] == "Kind" and len(rows) - 1 == shown["summary"]["findings"]
    assert bob.client.get(f"{base}/{body['id']}").status_code in (403, 404)
    assert Reconciliation.objects.count() == 1
    assert Action.objects.filter(action="reconciliation.request", target_id=body["id"]).exists()

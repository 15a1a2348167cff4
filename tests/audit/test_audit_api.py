"""The audit API: record rows and their filters, held records, the CSV export, people's actions, the call log."""

import csv
import datetime as dt
import io
import uuid

import pytest
from django.utils import timezone

import audit
from audit.models import Action, ApiCall, RecordEvent
from core.actor import SYSTEM
from tests.factories import TenantFactory
from tests.sync.helpers import SUPPLIERS, case_ids

pytestmark = pytest.mark.django_db

HELD = case_ids("duplicate_supplier_case")[1]
NAMELESS = case_ids("missing_required_fields")[0]


def _base(tenant):
    return f"/api/v1/tenants/{tenant.id}"


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["source_id"] for row in response.json()["results"]]


@pytest.fixture
def two_runs(run_sync, tenant):
    first = run_sync(entities=["suppliers"])
    second = run_sync(entities=["suppliers"])
    return first, second


def test_record_rows_are_filtered_by_run_entity_outcome_reason_and_source_id(alice, tenant, two_runs):
    first, second = two_runs
    url = f"{_base(tenant)}/audit/records"
    everything = alice.client.get(url, {"page_size": 500}).json()
    assert len(everything["results"]) == RecordEvent.objects.for_tenant(tenant).count() > len(SUPPLIERS)
    assert sorted(_ids(alice.client.get(url, {"run": first.pk, "page_size": 500}))) == sorted(SUPPLIERS)
    held = _ids(alice.client.get(url, {"run": first.pk, "outcome": "held"}))
    assert HELD in held and NAMELESS in held and len(held) == 3    # a malformed record is held, not failed
    both = _ids(alice.client.get(url, {"run": first.pk, "outcome": ["held", "failed"]}))
    assert sorted(both) == sorted(held)
    assert _ids(alice.client.get(url, {"reason": "invalid_record", "run": first.pk})) == [NAMELESS]
    # held in the first run; the second left the hold untouched (its twin did not change): no second row
    assert _ids(alice.client.get(url, {"source_id": HELD})) == [HELD]
    assert _ids(alice.client.get(url, {"entity": "invoices"})) == []
    row = alice.client.get(url, {"source_id": NAMELESS, "run": first.pk}).json()["results"][0]
    assert row["outcome"] == "held" and row["run_id"] == str(first.pk) and "companyName" in row["message"]


def test_record_rows_are_filtered_by_time_and_bad_filters_are_400(alice, tenant):
    now = timezone.now()
    RecordEvent.objects.bulk_create([
        RecordEvent(tenant=tenant, entity="suppliers", source_id=f"C-{days}", outcome="created")
        for days in (1, 5, 40)])
    for days in (1, 5, 40):
        RecordEvent.objects.filter(source_id=f"C-{days}").update(created_at=now - dt.timedelta(days=days))
    url = f"{_base(tenant)}/audit/records"
    since = (now - dt.timedelta(days=10)).isoformat()
    until = (now - dt.timedelta(days=2)).isoformat()
    assert _ids(alice.client.get(url, {"since": since})) == ["C-1", "C-5"]
    assert _ids(alice.client.get(url, {"since": since, "until": until})) == ["C-5"]
    bad = alice.client.get(url, {"outcome": "maybe", "run": "not-a-uuid"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"outcome", "run"}


def test_an_outsiders_rows_never_show(alice, bob, tenant, outsider_tenant):
    RecordEvent.objects.create(tenant=outsider_tenant, entity="suppliers", source_id="BOB-1", outcome="created")
    RecordEvent.objects.create(tenant=tenant, entity="suppliers", source_id="ALICE-1", outcome="created")
    assert _ids(alice.client.get(f"{_base(tenant)}/audit/records")) == ["ALICE-1"]
    assert alice.client.get(f"{_base(outsider_tenant)}/audit/records").status_code == 404


def test_held_records_are_listed_with_reason_detail_and_what_they_wait_on(alice, tenant, run_sync):
    run = run_sync(entities=["suppliers"])
    response = alice.client.get(f"{_base(tenant)}/holds")
    assert response.status_code == 200
    rows = {row["source_id"]: row for row in response.json()["results"]}
    assert set(rows) == {HELD, case_ids("duplicate_supplier_trailing_space")[1], NAMELESS}
    assert rows[NAMELESS]["reason"] == "invalid_record" and "companyName" in rows[NAMELESS]["message"]
    held = rows[HELD]
    assert held["entity"] == "suppliers" and held["reason"] == "duplicate_supplier_name"
    assert held["waits_on"] == [case_ids("duplicate_supplier_case")[0]] and "same name" in held["message"]
    assert held["id"] and held["created_at"].endswith("Z")
    assert held["last_run_id"] == str(run.pk) and "record" not in held
    waits = alice.client.get(f"{_base(tenant)}/holds", {"waits_on": case_ids("duplicate_supplier_case")[0]}).json()
    assert [r["source_id"] for r in waits["results"]] == [HELD]
    assert alice.client.get(f"{_base(tenant)}/holds", {"reason": "unmapped_gl"}).json()["results"] == []


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_the_csv_export_of_a_run_has_one_finance_friendly_line_per_record(alice, tenant, two_runs):
    first, _ = two_runs
    response = alice.client.get(f"{_base(tenant)}/audit/records.csv", {"run": first.pk},
                                HTTP_ACCEPT="text/csv")
    assert f'filename="audit-{tenant.slug}-{first.pk}.csv"' in response["Content-Disposition"]
    lines = _csv(response)
    assert sorted(line["JAGGAER id"] for line in lines) == sorted(SUPPLIERS)
    assert list(lines[0]) == ["Date (UTC)", "Time (UTC)", "Run", "Record type", "JAGGAER id", "Document number",
                              "Outcome", "Reason", "Details", "QuickBooks id", "QuickBooks error code",
                              "Intuit transaction id"]
    created = next(line for line in lines if line["Outcome"] == "created")
    assert created["QuickBooks id"] and created["Run"] == str(first.pk) and created["Record type"] == "suppliers"
    dt.date.fromisoformat(created["Date (UTC)"])
    malformed = next(line for line in lines if line["JAGGAER id"] == NAMELESS)
    assert malformed["Outcome"] == "held" and malformed["Reason"] == "invalid_record"


def test_the_csv_export_of_a_period_and_its_guards(alice, tenant):
    now = timezone.now()
    run_id = uuid.uuid4()
    audit.record_events([
        {"tenant_id": tenant.pk, "run_id": run_id, "entity": "invoices", "source_id": "INV-1", "outcome": "created",
         "qbo_id": "77", "message": "=HYPERLINK(\"http://evil\")", "data": {"doc_number": "INV-1"}},
        {"tenant_id": tenant.pk, "run_id": run_id, "entity": "invoices", "source_id": "INV-2", "outcome": "held",
         "reason": "unmapped_gl", "message": "GL 6850 is not mapped."}])
    RecordEvent.objects.filter(source_id="INV-2").update(created_at=now - dt.timedelta(days=40))
    url = f"{_base(tenant)}/audit/records.csv"
    since = (now - dt.timedelta(days=1)).date().isoformat()
    lines = _csv(alice.client.get(url, {"since": since}))
    assert [line["JAGGAER id"] for line in lines] == ["INV-1"]
    assert lines[0]["Document number"] == "INV-1"
    assert lines[0]["Details"] == "'=HYPERLINK(\"http://evil\")"        # a spreadsheet shows it as text
    everything = _csv(alice.client.get(url, {"run": run_id}))
    assert [line["Outcome"] for line in everything] == ["held", "created"]          # oldest first
    refused = alice.client.get(url)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "period_required"


def test_the_csv_export_streams_no_other_tenants_rows(alice, tenant):
    other = TenantFactory(partner=tenant.partner)
    audit.record_events([{"tenant_id": other.pk, "entity": "suppliers", "source_id": "X", "outcome": "created"},
                         {"tenant_id": tenant.pk, "entity": "suppliers", "source_id": "Y", "outcome": "created"}])
    lines = _csv(alice.client.get(f"{_base(tenant)}/audit/records.csv", {"since": "2000-01-01"}))
    assert [line["JAGGAER id"] for line in lines] == ["Y"]


def test_actions_are_listed_newest_first_and_filtered(alice, tenant):
    for code in ("mapping.set", "mapping.clear", "sync.request"):
        audit.action(code, actor=SYSTEM, tenant=tenant, target_type="x", target_id=code)
    Action.objects.create(tenant=TenantFactory(partner=tenant.partner), actor_kind="system", actor_label="system",
                          action="mapping.set")
    url = f"{_base(tenant)}/audit/actions"
    rows = alice.client.get(url).json()["results"]
    assert [r["action"] for r in rows] == ["sync.request", "mapping.clear", "mapping.set"]
    assert rows[0]["actor"] == {"kind": "system", "label": "system"}
    assert [r["action"] for r in alice.client.get(url, {"action": "mapping."}).json()["results"]] == [
        "mapping.clear", "mapping.set"]
    assert len(alice.client.get(url, {"action": "mapping.set"}).json()["results"]) == 1
    assert alice.client.get(url, {"actor_kind": "api_key"}).json()["results"] == []


def test_the_call_log_is_listed_with_filters(alice, tenant, run_sync, qbo_sandbox):
    qbo_sandbox.faults.inject(429, count=1, path=".*/batch.*")
    run = run_sync(entities=["suppliers"])
    url = f"{_base(tenant)}/audit/api-calls"
    listed = alice.client.get(url, {"run": run.pk, "page_size": 500}).json()
    assert len(listed["results"]) == ApiCall.objects.for_tenant(tenant).count() > 3
    failed = alice.client.get(url, {"failed": True}).json()["results"]
    assert [(r["status"], r["attempt"]) for r in failed] == [(429, 1)]
    assert len(alice.client.get(url, {"system": "jaggaer"}).json()["results"]) >= 1

"""The caller's X-Request-Id travels into error bodies and onto every audit row of the request; a running run
says where it is (step, records seen of JAGGAER's total, percent, elapsed)."""

import pytest
from django.test import Client

import audit
from audit.models import Action, ApiCall
from sync.models import SyncRun
from sync.runs.lifecycle import sync_request, sync_run_perform
from tests.factories import connections_stored
from tests.sync.helpers import SUPPLIERS

pytestmark = pytest.mark.django_db
RID = "portal-7f3a:42"


def test_an_error_body_carries_the_request_id(alice, tenant):
    answer = alice.client.post(f"/api/v1/tenants/{tenant.pk}/syncs", {"ful": True}, format="json",
                               HTTP_X_REQUEST_ID=RID)
    assert answer["X-Request-Id"] == RID
    assert answer.json()["error"]["request_id"] == RID
    unknown = Client().get("/no/such/page", HTTP_X_REQUEST_ID=RID)
    assert unknown.status_code == 404 and unknown.json()["error"]["request_id"] == RID
    made = alice.client.get("/api/v1/tenants/not-a-tenant/syncs")
    assert made.json()["error"]["request_id"] == made["X-Request-Id"]


def test_the_request_id_is_on_the_action_and_the_run_and_shown_by_the_api(alice, tenant,
                                                                           django_capture_on_commit_callbacks):
    connections_stored(tenant)
    with django_capture_on_commit_callbacks(execute=False):
        answer = alice.client.post(f"/api/v1/tenants/{tenant.pk}/syncs", {"entities": ["suppliers"]},
                                   format="json", HTTP_X_REQUEST_ID=RID)
    assert answer.status_code == 202, answer.content
    assert answer.json()["request_id"] == RID
    run = SyncRun.objects.get(pk=answer.json()["id"])
    assert run.request_id == RID
    action = Action.objects.get(action="sync.request")
    assert action.request_id == RID
    listed = alice.client.get(f"/api/v1/tenants/{tenant.pk}/audit/actions").json()["results"]
    assert listed[0]["request_id"] == RID
    other = alice.client.post(f"/api/v1/tenants/{tenant.pk}/syncs/{run.pk}/cancel", HTTP_X_REQUEST_ID="second-1")
    assert other.status_code == 202
    assert Action.objects.get(action="sync.cancel").request_id == "second-1"
    assert SyncRun.objects.get(pk=run.pk).request_id == RID       # the run keeps the request that asked for it


def test_outbound_calls_made_in_a_request_carry_its_id(alice, connected):
    answer = alice.client.post(f"/api/v1/tenants/{connected.pk}/connections/jaggaer/ping", HTTP_X_REQUEST_ID=RID)
    assert answer.status_code == 200, answer.content
    audit.api_calls_flush()
    calls = ApiCall.objects.filter(tenant_id=connected.pk, system="jaggaer")
    assert calls.exists()
    assert set(calls.values_list("request_id", flat=True)) == {RID}
    shown = alice.client.get(f"/api/v1/tenants/{connected.pk}/audit/api-calls").json()["results"]
    assert {row["request_id"] for row in shown if row["system"] == "jaggaer"} == {RID}


def test_a_running_run_writes_its_progress_with_jaggaers_total(alice, connected, settings):
    settings.SYNC_PROGRESS_SECONDS = 0
    run = sync_request(tenant=connected, entities=["catalogs", "suppliers"], enqueue=False)
    seen = []

    def watch(step, counts):
        row = SyncRun.objects.get(pk=run.pk)
        seen.append((row.current_step, row.step_seen, row.step_total))

    finished = sync_run_perform(run_id=run.pk, progress=watch)
    assert finished.status == "succeeded"
    suppliers = [s for s in seen if s[0] == "suppliers"]
    assert suppliers[0][1] == 0                                   # the step starts at nothing seen
    total = len(SUPPLIERS)
    assert suppliers[-1][2] == total                              # JAGGAER's totRecords of the supplier list
    assert suppliers[-1][1] == sum(finished.counts["suppliers"].values())
    shown = alice.client.get(f"/api/v1/tenants/{connected.pk}/syncs/{run.pk}").json()["progress"]
    assert shown["step"] == "suppliers" and shown["total"] == total
    assert shown["percent"] == 100.0
    assert shown["elapsed_seconds"] >= 0 and shown["updated_at"].endswith("Z")

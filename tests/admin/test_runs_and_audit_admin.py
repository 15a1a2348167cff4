"""Runs (duration, counts, failed and held records) and audit rows (filters, search, capped counts, replay)."""

import pytest
from django.urls import reverse

import audit
from audit.models import Action, ApiCall, RecordEvent
from sync.models import Hold, SyncLease, SyncRun
from sync.runs.lifecycle import sync_request
from tests.admin.support import populate

pytestmark = pytest.mark.django_db
EVENTS = "/admin/audit/recordevent/"


def shown(response) -> list:
    return list(response.context["cl"].result_list)


def test_runs_list_duration_and_counts_and_filters_by_status_and_tenant(superuser_client, tenant, outsider_tenant):
    populate(tenant)
    populate(outsider_tenant)
    SyncRun.objects.filter(tenant=outsider_tenant).update(status="failed")
    response = superuser_client.get(f"/admin/sync/syncrun/?tenant__id__exact={tenant.pk}")
    runs = shown(response)
    assert [r.tenant_id for r in runs] == [tenant.pk]
    html = response.content.decode()
    assert "0:01:15" in html and '<td class="field-written">3</td>' in html
    assert '<td class="field-held">1</td>' in html and '<td class="field-failed">1</td>' in html
    assert [r.tenant_id for r in shown(superuser_client.get("/admin/sync/syncrun/?status__exact=failed"))] == [
        outsider_tenant.pk]


def test_a_run_page_lists_its_failed_and_held_records_only(superuser_client, tenant):
    made = populate(tenant, n=2)
    run = made["run"]
    other = SyncRun.objects.for_tenant(tenant).exclude(pk=run.pk).get()
    response = superuser_client.get(reverse("admin:sync_syncrun_change", args=[run.pk]))
    groups = response.context["run_groups"]     # grouped by outcome and reason, counted over this run only
    assert {(g["outcome"], g["reason"], g["n"]) for g in groups} == {("failed", "qbo_rejected", 1),
                                                                    ("held", "gl_unmapped", 1)}
    html = response.content.decode()
    assert f"?run={run.pk}&amp;outcome__exact=held&amp;reason=gl_unmapped" in html
    assert str(other.pk) not in html


def test_audit_rows_filter_by_outcome_reason_entity_tenant_and_run(superuser_client, tenant, outsider_tenant):
    made = populate(tenant, n=2)
    populate(outsider_tenant)
    run = made["run"]
    cases = {
        "?outcome__exact=held": lambda e: e.outcome == "held",
        "?reason=qbo_rejected": lambda e: e.reason == "qbo_rejected",
        "?entity=suppliers": lambda e: e.entity == "suppliers",
        f"?tenant__id__exact={tenant.pk}": lambda e: e.tenant_id == tenant.pk,
        f"?run={run.pk}": lambda e: e.run_id == run.pk,
        f"?run={run.pk}&outcome__exact=failed": lambda e: e.run_id == run.pk and e.outcome == "failed",
    }
    everything = list(RecordEvent.objects.all())
    for query, keep in cases.items():
        got = {e.pk for e in shown(superuser_client.get(EVENTS + query))}
        assert got == {e.pk for e in everything if keep(e)} and got, query
    assert shown(superuser_client.get(EVENTS + "?run=not-a-run")) == []


def test_audit_rows_search_by_exact_source_id_and_do_not_count_the_whole_table(superuser_client, tenant):
    populate(tenant, n=12)
    response = superuser_client.get(EVENTS + "?q=S-1")
    assert {e.source_id for e in shown(response)} == {"S-1"}
    cl = response.context["cl"]
    assert cl.show_full_result_count is False and cl.model_admin.show_full_result_count is False


def test_replaying_selected_rows_queues_one_replay_run_per_tenant(superuser_client, tenant):
    made = populate(tenant, n=2)
    picked = RecordEvent.objects.filter(outcome__in=["held", "failed"], run_id=made["run"].pk)
    response = superuser_client.post(EVENTS, {"action": "replay", "_selected_action": [e.pk for e in picked]},
                                     follow=True)
    replay = SyncRun.objects.get(trigger="replay")
    assert replay.tenant_id == tenant.pk and replay.entities == ["suppliers"]
    assert list(replay.targets) == ["suppliers"] and len(replay.targets["suppliers"]) == 1
    assert SyncLease.objects.get(tenant=tenant).run_id == replay.pk
    page = superuser_client.get(reverse("admin:sync_syncrun_change", args=[replay.pk])).content.decode()
    assert replay.targets["suppliers"][0] in page
    assert any("replay of 1 record(s) queued" in str(m) for m in response.context["messages"])
    action = Action.objects.get(action="record.replay")
    assert action.actor_label == "root" and action.data["replay_run_id"] == str(replay.pk)


def test_replay_while_a_sync_runs_is_refused_politely(superuser_client, tenant):
    populate(tenant)
    running = sync_request(tenant=tenant, enqueue=False)
    event = RecordEvent.objects.filter(outcome="held").first()
    response = superuser_client.post(EVENTS, {"action": "replay", "_selected_action": [event.pk]}, follow=True)
    assert response.status_code == 200
    assert any("already queued or running" in str(m) and str(running.pk) in str(m)
               for m in response.context["messages"])
    assert not SyncRun.objects.filter(trigger="replay").exists()


def test_held_records_can_be_replayed_from_the_holds_list(superuser_client, tenant):
    populate(tenant, n=3)
    holds = Hold.objects.filter(tenant=tenant)
    superuser_client.post("/admin/sync/hold/", {"action": "replay", "_selected_action": [h.pk for h in holds]})
    records = Action.objects.get(action="record.replay").data["records"]
    assert sorted(records["suppliers"]) == ["S-0", "S-1", "S-2"]


def test_rows_that_cannot_be_replayed_are_named(superuser_client, tenant):
    audit.record_events([{"tenant_id": tenant.pk, "entity": "catalogs", "source_id": "x", "outcome": "failed"}])
    response = superuser_client.post(EVENTS, {"action": "replay",
                                              "_selected_action": [RecordEvent.objects.get().pk]}, follow=True)
    assert any("cannot be replayed" in str(m) for m in response.context["messages"])
    assert not SyncRun.objects.exists()


def test_the_people_audit_call_log_and_record_rows_are_read_only(superuser_client, tenant):
    populate(tenant)
    for model, rows in (("action", Action), ("apicall", ApiCall), ("recordevent", RecordEvent)):
        row = rows.objects.first()
        assert superuser_client.get(f"/admin/audit/{model}/add/").status_code == 403
        assert superuser_client.get(f"/admin/audit/{model}/{row.pk}/change/").status_code == 200
        assert superuser_client.post(f"/admin/audit/{model}/{row.pk}/change/", {}).status_code == 403
        assert superuser_client.post(f"/admin/audit/{model}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
        assert rows.objects.filter(pk=row.pk).exists()


def test_a_running_runs_page_shows_its_progress_and_refreshes(superuser_client, tenant):
    import datetime as dt

    from django.utils import timezone

    started = timezone.now() - dt.timedelta(seconds=70)
    run = SyncRun.objects.create(tenant=tenant, status=SyncRun.Status.RUNNING, started_at=started,
                                 current_step="invoices", step_seen=120, step_total=480, step_started_at=started,
                                 counts={"invoices": {"created": 100, "held": 20}})
    html = superuser_client.get(reverse("admin:sync_syncrun_change", args=[run.pk])).content.decode()
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "invoices: 120 of 480 records (25 %), 0:01:1" in html      # 0:01:10, or a second later
    listed = superuser_client.get(f"/admin/sync/syncrun/?tenant__id__exact={tenant.pk}").content.decode()
    assert "invoices: 120 of 480 records (25 %)" in listed

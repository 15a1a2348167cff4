"""Replay of one record and of a run's failed and held records: a run of its own, idempotent, single flight."""

import pytest

from audit.models import Action, RecordEvent
from sync.models import Hold, SyncRun, VendorLink
from sync.runs.lifecycle import sync_request
from tests.sync.helpers import SUPPLIERS, case_ids, qbo_writes, vendors_by_name

pytestmark = pytest.mark.django_db

HELD = case_ids("duplicate_supplier_case")[1]            # same name as another supplier: held
OTHER_HELD = case_ids("duplicate_supplier_trailing_space")[1]
NAMELESS = case_ids("missing_required_fields")[0]        # no companyName: held (invalid_record)


def _replay(alice, tenant, source_id, entity="suppliers"):
    return alice.client.post(f"/api/v1/tenants/{tenant.id}/records/{entity}/{source_id}/replay")


def _outcome(answer) -> str:
    [record] = answer["records"]
    return record["outcome"]


def test_a_held_record_replayed_after_the_fix_is_written_once_and_a_second_replay_writes_nothing(
        alice, sync_now, qbo_sandbox, jaggaer_sandbox, tenant):
    sync_now()
    assert Hold.objects.for_tenant(tenant).get(source_id=HELD).reason == "duplicate_supplier_name"

    qbo_sandbox.log.clear()
    unfixed = _replay(alice, tenant, HELD)
    assert unfixed.status_code == 200, unfixed.content
    assert _outcome(unfixed.json()) == "held" and qbo_writes(qbo_sandbox) == 0

    jaggaer_sandbox.app.rename_supplier(HELD, "Acme Castings West Ltd")
    qbo_sandbox.log.clear()
    fixed = _replay(alice, tenant, HELD).json()
    assert fixed["run"]["trigger"] == "replay" and fixed["run"]["status"] == "succeeded"
    assert _outcome(fixed) == "created"
    assert qbo_writes(qbo_sandbox) == 1
    assert len(vendors_by_name(qbo_sandbox)["acme castings west ltd"]) == 1
    assert not Hold.objects.for_tenant(tenant).filter(source_id=HELD).exists()
    link = VendorLink.objects.for_tenant(tenant).get(jaggaer_company_id=HELD)

    qbo_sandbox.log.clear()
    again = _replay(alice, tenant, HELD).json()
    assert _outcome(again) == "unchanged"
    assert qbo_writes(qbo_sandbox) == 0
    assert len(vendors_by_name(qbo_sandbox)["acme castings west ltd"]) == 1
    assert VendorLink.objects.for_tenant(tenant).get(jaggaer_company_id=HELD).qbo_vendor_id == link.qbo_vendor_id
    assert SyncRun.objects.for_tenant(tenant).filter(trigger="replay").count() == 3


def test_a_malformed_record_replayed_after_the_fix_is_written_once(alice, sync_now, qbo_sandbox, jaggaer_sandbox,
                                                                    tenant):
    run = sync_now()
    malformed = RecordEvent.objects.get(run_id=run.pk, source_id=NAMELESS)
    assert (malformed.outcome, malformed.reason) == ("held", "invalid_record")
    jaggaer_sandbox.app.patch("suppliers", NAMELESS, {"companyName": "Martinez Fasteners LLC"})

    qbo_sandbox.log.clear()
    answer = _replay(alice, tenant, NAMELESS).json()
    assert _outcome(answer) == "created"
    assert qbo_writes(qbo_sandbox) == 1
    assert len(vendors_by_name(qbo_sandbox)["martinez fasteners llc"]) == 1

    qbo_sandbox.log.clear()
    assert _outcome(_replay(alice, tenant, NAMELESS).json()) == "unchanged"
    assert qbo_writes(qbo_sandbox) == 0


def test_replay_failed_replays_the_failed_and_held_records_of_a_run(
        alice, sync_now, qbo_sandbox, jaggaer_sandbox, tenant, django_capture_on_commit_callbacks):
    run = sync_now()
    assert "failed" not in run.counts["suppliers"] and run.counts["suppliers"]["held"] == 3
    jaggaer_sandbox.app.patch("suppliers", NAMELESS, {"companyName": "Martinez Fasteners LLC"})
    jaggaer_sandbox.app.rename_supplier(HELD, "Acme Castings West Ltd")
    qbo_sandbox.log.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs/{run.pk}/replay-failed")
    assert response.status_code == 202, response.content
    answer = response.json()
    assert answer["targets"] == {"suppliers": 3} and answer["run"]["status"] == "queued"
    assert len(callbacks) == 1                                  # the sync_tenant task, once committed

    replay = SyncRun.objects.get(pk=answer["run"]["id"])
    assert (replay.trigger, replay.status) == ("replay", "succeeded")
    assert replay.counts["suppliers"] == {"created": 2, "held": 1}
    outcomes = dict(RecordEvent.objects.filter(run_id=replay.pk).values_list("source_id", "outcome"))
    assert outcomes == {NAMELESS: "created", HELD: "created", OTHER_HELD: "held"}
    assert list(Hold.objects.for_tenant(tenant).values_list("source_id", flat=True)) == [OTHER_HELD]
    assert qbo_writes(qbo_sandbox) == 1                          # both in one batch
    assert VendorLink.objects.for_tenant(tenant).count() == len(SUPPLIERS) - 1


def test_replay_failed_of_a_run_with_nothing_to_replay_says_so(alice, sync_now, tenant):
    run = sync_now(entities=["catalogs"])
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/syncs/{run.pk}/replay-failed")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "nothing_to_replay"


def test_a_replay_while_another_run_holds_the_lease_answers_409_and_starts_nothing(alice, connected):
    busy = sync_request(tenant=connected, enqueue=False)
    response = _replay(alice, connected, HELD)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "sync_already_running" and error["run"]["id"] == str(busy.pk)
    assert not SyncRun.objects.filter(trigger="replay").exists()
    assert not Action.objects.filter(action="record.replay").exists()


def test_only_record_steps_can_be_replayed(alice, connected):
    for entity in ("catalogs", "widgets"):
        response = _replay(alice, connected, "X-1", entity=entity)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_entity"
    assert not SyncRun.objects.exists()


def test_a_record_jaggaer_does_not_have_is_a_404_and_creates_no_run(alice, connected, qbo_sandbox):
    answer = _replay(alice, connected, "C-99999")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "not_in_jaggaer" and "C-99999" in error["message"]
    assert not SyncRun.objects.exists()
    assert not Action.objects.filter(action="record.replay").exists()
    assert qbo_writes(qbo_sandbox) == 0


def test_a_replay_is_queued_when_tasks_do_not_run_in_process(alice, connected, settings,
                                                             django_capture_on_commit_callbacks):
    from config.celery import app

    settings.TASKS_IN_PROCESS = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _replay(alice, connected, NAMELESS)
    assert response.status_code == 202
    assert response.json()["run"]["status"] == "queued" and response.json()["records"] == []
    assert len(callbacks) == 1
    run = SyncRun.objects.get(trigger="replay")
    assert run.status == "queued"
    # The worker's side, without a broker: the queued task runs here.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    callbacks[0]()
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert RecordEvent.objects.get(run_id=run.pk).source_id == NAMELESS


def test_a_replay_is_in_the_people_audit(alice, connected):
    answer = _replay(alice, connected, NAMELESS).json()
    row = Action.objects.for_tenant(connected).get(action="record.replay")
    assert row.actor_kind == "api_key" and alice.key.split(".")[0] in row.actor_label
    assert alice.key not in row.actor_label
    assert (row.target_type, row.target_id) == ("suppliers", NAMELESS)
    assert row.data["replay_run_id"] == answer["run"]["id"]


def test_a_replay_stores_its_targets_and_is_performed_by_the_sync_tenant_task(alice, connected, settings,
                                                                             django_capture_on_commit_callbacks):
    from config.celery import app

    settings.TASKS_IN_PROCESS = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=False):
        answer = _replay(alice, connected, NAMELESS).json()
    run = SyncRun.objects.get(pk=answer["run"]["id"])
    assert (run.trigger, run.targets, run.entities) == ("replay", {"suppliers": [NAMELESS]}, ["suppliers"])
    app.conf.task_always_eager = True
    assert app.tasks["sync.tasks.sync_tenant"].delay(str(run.pk)).get() == "succeeded"
    assert RecordEvent.objects.get(run_id=run.pk).source_id == NAMELESS


def test_a_replay_queued_under_the_old_task_name_takes_its_targets_from_the_message(
        alice, connected, settings, django_capture_on_commit_callbacks):
    """Replays queued before runs stored their targets arrive as replay_run(run_id, targets)."""
    from config.celery import app

    settings.TASKS_IN_PROCESS = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=False):
        answer = _replay(alice, connected, NAMELESS).json()
    SyncRun.objects.filter(pk=answer["run"]["id"]).update(targets={})
    app.conf.task_always_eager = True
    status = app.tasks["sync.tasks.replay_run"].delay(answer["run"]["id"], {"suppliers": [NAMELESS]}).get()
    assert status == "succeeded"
    run = SyncRun.objects.get(pk=answer["run"]["id"])
    assert run.targets == {"suppliers": [NAMELESS]}
    assert list(RecordEvent.objects.filter(run_id=run.pk).values_list("source_id", flat=True)) == [NAMELESS]

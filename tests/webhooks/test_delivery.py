"""Events reach a partner's endpoint (a real HTTP server) once per change, signed per Standard Webhooks, in
order per tenant through an outage, never for a rolled-back change; retries, rotation, redelivery, disabling,
the outbound policy and partner isolation."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from standardwebhooks.webhooks import WebhookVerificationError

from audit.models import Action
from sync.models import SyncRun
from sync.runs.lifecycle import run_finish, sync_run_create
from tests.connections.support import database_text
from tests.factories import TenantFactory
from tests.webhooks.conftest import REMOTE_BODY, add_endpoint
from tests.webhooks.support import closed_port_url, finish_run, later
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services import deliveries_send_due

pytestmark = pytest.mark.django_db


# ----------------------------------------------------------------------------- one event per change

def test_a_finished_run_sends_sync_succeeded_once_signed(alice, tenant, receiver, django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        run = finish_run(tenant)
    assert receiver.types() == ["sync.succeeded"]
    got = receiver.received[0]
    payload = got.verify(endpoint["secret"])
    assert payload["id"] == got.headers["webhook-id"] and payload["id"].startswith("msg_")
    assert payload["timestamp"].endswith("Z")
    data = payload["data"]
    assert data["tenant_id"] == str(tenant.pk) and data["run_id"] == str(run.pk)
    assert data["status"] == "succeeded" and data["held"] == 0 and data["error"] is None
    assert data["finished_at"].endswith("Z")
    assert got.headers["content-type"] == "application/json"
    deliveries_send_due(now=later(days=3))            # nothing left to send: nothing sent again
    assert len(receiver.attempts) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_run_with_holds_sends_one_digest_with_counts_by_reason(alice, tenant, receiver,
                                                                  django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    holds = tuple(("invoices", f"INV-{i}", "unmapped_gl_account") for i in range(6)) + (
        ("invoices", "INV-9", "vendor_missing"),)
    with django_capture_on_commit_callbacks(execute=True):
        run = finish_run(tenant, holds=holds)
    assert receiver.types() == ["sync.completed_with_holds", "records.held"]
    digest = receiver.received[1].verify(endpoint["secret"])["data"]
    assert digest["run_id"] == str(run.pk) and digest["total"] == 7
    assert digest["by_reason"] == {"unmapped_gl_account": 6, "vendor_missing": 1}
    assert len(digest["examples"]) == 5
    assert set(digest["examples"][0]) == {"entity", "source_id", "reason"}
    assert receiver.received[0].json["data"]["held"] == 7


def test_a_failed_run_sends_sync_failed_with_its_code(alice, tenant, receiver, django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant, fail=True)
    assert receiver.types() == ["sync.failed"]
    assert receiver.received[0].json["data"]["error"] == {"system": "qbo", "code": "not_configured"}


def test_a_cancelled_run_sends_nothing(alice, tenant, receiver, django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url)
    run = sync_run_create(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        run_finish(run, SyncRun.Status.CANCELLED, message="Cancelled on request.")
    assert receiver.attempts == [] and not WebhookEvent.objects.exists()


def test_an_endpoint_gets_only_the_event_types_it_subscribed_to(alice, tenant, receiver,
                                                                django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url, event_types=["sync.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
        finish_run(tenant, fail=True)
    assert receiver.types() == ["sync.failed"]


def test_a_rolled_back_change_sends_nothing(alice, tenant, receiver, django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url)
    run = sync_run_create(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            run_finish(run, SyncRun.Status.SUCCEEDED)
            raise RuntimeError("the change fails after the event was written")
    assert callbacks == []
    deliveries_send_due(now=later(days=2))
    assert receiver.attempts == []
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.QUEUED


# ----------------------------------------------------------------------------- outage, retries, order

def test_an_endpoint_down_for_several_tries_gets_everything_later_in_order_per_tenant(
        alice, tenant, receiver, django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url)
    other = TenantFactory(partner=alice.partner, name="Other", slug="other")
    receiver.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        first = finish_run(tenant)                       # attempt 1: 503
    with django_capture_on_commit_callbacks(execute=True):
        second = finish_run(tenant, fail=True)           # waits behind the first (same tenant)
        elsewhere = finish_run(other)                    # another tenant is not held up
    assert [r.json["data"]["run_id"] for r in receiver.received] == [str(elsewhere.pk)]
    pending = WebhookDelivery.objects.get(event__payload__data__run_id=str(first.pk))
    assert (pending.status, pending.attempts, pending.last_status_code) == ("pending", 1, 503)
    waiting = WebhookDelivery.objects.get(event__payload__data__run_id=str(second.pk))
    assert waiting.attempts == 0

    assert deliveries_send_due(now=later(seconds=1))["delivered"] == 0   # the first retry is not due yet
    receiver.fail_next(2)
    deliveries_send_due(now=later(seconds=10))           # attempt 2: 503
    deliveries_send_due(now=later(minutes=10))           # attempt 3: 503
    pending.refresh_from_db()
    assert (pending.attempts, pending.status) == (3, "pending")
    assert pending.last_error == "the endpoint answered HTTP 503"
    counts = deliveries_send_due(now=later(hours=1))     # attempt 4 delivers; then the second goes
    assert counts["delivered"] == 2
    assert [r.json["data"]["run_id"] for r in receiver.received] == [str(elsewhere.pk), str(first.pk),
                                                                      str(second.pk)]
    first_ids = {r.headers["webhook-id"] for r in receiver.attempts if r.json["data"]["run_id"] == str(first.pk)}
    assert len(first_ids) == 1                           # every attempt of one event carries its one id


def test_a_delivery_gives_up_after_the_schedule_and_the_next_one_goes(alice, tenant, receiver, settings,
                                                                      django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_SCHEDULE = [1, 1]
    add_endpoint(alice, receiver.url)
    receiver.fail_next(3, status=500)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
        finish_run(tenant, fail=True)
    deliveries_send_due(now=later(seconds=2))
    deliveries_send_due(now=later(seconds=4))
    first, second = WebhookDelivery.objects.order_by("id")
    assert (first.status, first.attempts, first.next_attempt_at) == ("failed", 3, None)
    assert second.status == "delivered"
    assert receiver.types() == ["sync.failed"]


def test_no_remote_body_is_stored_or_shown(alice, tenant, receiver, django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    receiver.fail_next(1, status=500)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_error == "the endpoint answered HTTP 500" and delivery.last_status_code == 500
    assert not [row for row in database_text() if "hunter2" in row[2] or "REMOTE-STACK" in row[2]]
    listed = alice.client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    assert listed.status_code == 200 and REMOTE_BODY not in listed.content.decode()


# ----------------------------------------------------------------------------- rotation

def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(alice, tenant, receiver,
                                                                         django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    old = endpoint["secret"]
    answer = alice.client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    assert answer.status_code == 200, answer.content
    new = answer.json()["secret"]
    assert new.startswith("whsec_") and new != old and answer.json()["previous_secret_expires_at"].endswith("Z")
    shown = alice.client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}").content.decode()
    assert new not in shown and old not in shown and "secret\"" not in shown

    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verify(old) == during.verify(new)

    with django_capture_on_commit_callbacks(execute=False):
        finish_run(tenant)
    deliveries_send_due(now=later(hours=25))            # past WEBHOOK_SECRET_OVERLAP_HOURS (24)
    after = receiver.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    after.verify(new)
    with pytest.raises(WebhookVerificationError):
        after.verify(old)
    assert Action.objects.filter(action="webhook_endpoint.rotate_secret").count() == 1
    stored = WebhookEndpoint.objects.values_list("secret", flat=True).get()
    assert stored == new          # readable through the field, encrypted in the column:
    assert not [row for row in database_text() if new in row[2] or old in row[2]]


# ----------------------------------------------------------------------------- redelivery

def test_a_partner_lists_filters_and_redelivers_a_delivery(alice, tenant, receiver, bob,
                                                           django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
        finish_run(tenant, fail=True)
    base = f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    listed = alice.client.get(base, {"event_type": "sync.failed", "status": "delivered"}).json()
    assert [d["event_type"] for d in listed["results"]] == ["sync.failed"]
    item = listed["results"][0]
    assert item["status"] == "delivered" and item["attempts"] == 1 and item["last_status_code"] == 200
    assert item["delivered_at"].endswith("Z") and item["id"]
    assert alice.client.get(base, {"status": "nonsense"}).status_code == 400

    assert bob.client.post(f"{base}/{item['id']}/redeliver").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        again = alice.client.post(f"{base}/{item['id']}/redeliver")
    assert again.status_code == 202, again.content
    assert again.json()["id"] != item["id"] and again.json()["event_id"] == item["event_id"]
    assert receiver.types() == ["sync.succeeded", "sync.failed", "sync.failed"]
    assert receiver.received[1].headers["webhook-id"] == receiver.received[2].headers["webhook-id"]
    receiver.received[2].verify(endpoint["secret"])
    assert Action.objects.filter(action="webhook_delivery.redeliver").count() == 1


def test_support_redelivers_from_the_admin_with_a_post(admin_client, alice, tenant, receiver,
                                                       django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
    delivery = WebhookDelivery.objects.get()
    page = admin_client.get("/admin/webhooks/webhookdelivery/")
    assert page.status_code == 200
    assert admin_client.get(f"/admin/webhooks/webhookendpoint/{endpoint['id']}/change/").status_code == 200
    for url in ("/admin/webhooks/webhookendpoint/", f"/admin/webhooks/webhookendpoint/{endpoint['id']}/change/"):
        assert endpoint["secret"] not in admin_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post("/admin/webhooks/webhookdelivery/",
                                   {"action": "redeliver", "_selected_action": [delivery.pk]})
    assert answer.status_code == 302
    assert receiver.types() == ["sync.succeeded", "sync.succeeded"]
    assert WebhookDelivery.objects.count() == 2


# ----------------------------------------------------------------------------- disabling

def test_an_endpoint_failing_too_long_is_disabled_and_the_partner_told(alice, tenant, receiver, settings,
                                                                       django_capture_on_commit_callbacks):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 1
    down = add_endpoint(alice, closed_port_url(), event_types=["sync.succeeded"])
    add_endpoint(alice, receiver.url, event_types=["webhook_endpoint.disabled"])
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)                                 # failure 1
    deliveries_send_due(now=later(seconds=10))             # failure 2
    deliveries_send_due(now=later(minutes=10))             # failure 3, but only for ten minutes: kept
    assert WebhookEndpoint.objects.get(pk=down["id"]).enabled
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_send_due(now=later(hours=2))            # failure 4, failing for two hours: disabled
    stored = WebhookEndpoint.objects.get(pk=down["id"])
    assert not stored.enabled and stored.failure_streak == 4 and "4 failed attempts" in stored.disabled_reason
    assert receiver.types() == ["webhook_endpoint.disabled"]
    told = receiver.received[0].json["data"]
    assert told["endpoint_id"] == down["id"] and told["failures"] == 4
    assert Action.objects.filter(action="webhook_endpoint.disable", actor_kind="system").count() == 1
    delivery = WebhookDelivery.objects.get(endpoint_id=down["id"])
    assert delivery.status == "pending" and "refused the connection" in delivery.last_error
    assert deliveries_send_due(now=later(days=1)) == {"delivered": 0, "retrying": 0, "failed": 0, "waiting": 0}

    answer = alice.client.patch(f"/api/v1/webhook-endpoints/{down['id']}", {"enabled": True}, format="json")
    assert answer.status_code == 200 and answer.json()["failure_streak"] == 0
    assert answer.json()["disabled_reason"] == ""
    assert deliveries_send_due(now=later(seconds=1))["retrying"] == 1     # resumed at once (still down)


# ----------------------------------------------------------------------------- outbound policy

def test_production_refuses_a_private_or_plain_http_url(alice, production):
    for url in ("https://127.0.0.1/hooks", "https://10.0.0.8/hooks", "https://localhost/hooks",
                "https://[::1]/hooks", "https://169.254.169.254/latest", "http://partner.example.com/hooks"):
        answer = alice.client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")
        assert answer.status_code == 400, url
        assert answer.json()["error"]["fields"]["url"], url
    assert not WebhookEndpoint.objects.exists()


def test_production_refuses_to_call_a_stored_loopback_url(alice, tenant, receiver, settings,
                                                          django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url)                      # accepted while private hosts are allowed
    settings.ENVIRONMENT = "production"
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
    assert receiver.attempts == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith("refused before connecting")


def test_a_redirect_is_not_followed(alice, tenant, receiver, django_capture_on_commit_callbacks):
    add_endpoint(alice, receiver.url)
    receiver.fail_next(1, status=307)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(tenant)
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 307 and "never followed" in delivery.last_error
    assert len(receiver.attempts) == 1


# ----------------------------------------------------------------------------- partners apart

def test_a_partner_sees_and_receives_only_its_own(alice, bob, tenant, outsider_tenant, receiver,
                                                  django_capture_on_commit_callbacks):
    mine = add_endpoint(alice, receiver.url)
    assert bob.client.get("/api/v1/webhook-endpoints").json()["results"] == []
    for method in ("get", "patch", "delete"):
        assert getattr(bob.client, method)(f"/api/v1/webhook-endpoints/{mine['id']}").status_code == 404
    assert bob.client.post(f"/api/v1/webhook-endpoints/{mine['id']}/rotate-secret").status_code == 404
    assert bob.client.get(f"/api/v1/webhook-endpoints/{mine['id']}/deliveries").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(outsider_tenant)                        # Bob's tenant: nothing for Alice
        finish_run(tenant)
    assert [r.json["data"]["tenant_id"] for r in receiver.received] == [str(tenant.pk)]
    assert not WebhookEvent.objects.filter(partner=bob.partner).exists()     # Bob has no endpoint: no outbox row
    assert WebhookDelivery.objects.count() == 1


# ----------------------------------------------------------------------------- the API itself

def test_endpoints_are_created_changed_and_deleted_through_the_api(alice, receiver):
    created = add_endpoint(alice, receiver.url, description="portal", event_types=["sync.failed"])
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    assert created["created_at"].endswith("Z")
    base = f"/api/v1/webhook-endpoints/{created['id']}"
    assert "secret" not in alice.client.get(base).json()
    bad = alice.client.post("/api/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["sync.done"]},
                            format="json")
    assert bad.status_code == 400 and "event_types" in bad.json()["error"]["fields"]
    unknown = alice.client.patch(base, {"enabeld": False}, format="json")
    assert unknown.status_code == 400 and "enabeld" in unknown.json()["error"]["fields"]
    changed = alice.client.patch(base, {"event_types": [], "description": "all"}, format="json")
    assert changed.status_code == 200 and changed.json()["event_types"] == []
    assert alice.client.delete(base).status_code == 204
    assert not WebhookEndpoint.objects.exists()
    codes = list(Action.objects.order_by("id").values_list("action", flat=True))
    assert codes == ["webhook_endpoint.create", "webhook_endpoint.update", "webhook_endpoint.delete"]
    assert not [a for a in Action.objects.all() if created["secret"] in json.dumps([a.before, a.after])]


# ----------------------------------------------------------------------------- the documentation

def test_the_openapi_schema_documents_every_event_as_a_webhook(anon_client):
    from webhooks.events import EVENTS

    schema = json.loads(anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    assert schema["openapi"].startswith("3.1")
    assert set(schema["webhooks"]) == set(EVENTS)
    held = schema["webhooks"]["records.held"]["post"]
    assert "webhook-signature" in held["description"]
    body = held["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    data = schema["components"]["schemas"][body]["properties"]["data"]
    data = schema["components"]["schemas"][data["$ref"].rsplit("/", 1)[1]] if "$ref" in data else data
    assert {"tenant_id", "run_id", "total", "by_reason", "examples"} <= set(data["properties"])
    operations = [op for path, item in schema["paths"].items() if "webhook" in path for op in item.values()]
    assert operations and all(op.get("summary") and "self." not in op.get("description", "") for op in operations)


def test_beat_runs_the_due_delivery_sweep_every_minute():
    from config.celery import app

    entry = app.conf.beat_schedule["deliver-due-webhooks"]
    assert entry["schedule"] == 60.0 and entry["task"] in app.tasks

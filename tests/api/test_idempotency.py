"""Idempotency-Key: a retried POST gets the first answer, never a second effect; stored per partner, pruned."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import IdempotencyKey, Tenant
from tenants.tasks import prune_idempotency_keys

BODY = {"name": "Globex", "slug": "globex", "time_zone": "America/Chicago", "sync_hour": 3}


def _post(context, body, key, path="/api/v1/tenants"):
    return context.client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_the_same_key_and_body_get_the_stored_answer_and_run_once(alice):
    first = _post(alice, BODY, "key-1")
    again = _post(alice, dict(reversed(list(BODY.items()))), "key-1")      # same body, other key order
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Tenant.objects.filter(partner=alice.partner).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(alice):
    assert _post(alice, BODY, "key-2").status_code == 201
    other = _post(alice, {**BODY, "slug": "globex-2"}, "key-2")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Tenant.objects.filter(partner=alice.partner).count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_422(alice):
    tenant_id = _post(alice, BODY, "key-3").json()["id"]
    other = _post(alice, {}, "key-3", path=f"/api/v1/tenants/{tenant_id}/deactivate")
    assert other.status_code == 422
    assert Tenant.objects.get(pk=tenant_id).is_active


@pytest.mark.django_db
def test_an_error_is_not_stored_and_a_fixed_retry_runs(alice):
    refused = _post(alice, {**BODY, "time_zone": "Mars/Olympus"}, "key-4")
    assert refused.status_code == 400
    fixed = _post(alice, BODY, "key-4")
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed


@pytest.mark.django_db
def test_keys_are_per_partner(alice, bob):
    assert _post(alice, BODY, "shared-key").status_code == 201
    theirs = _post(bob, BODY, "shared-key")
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    assert theirs.json()["id"] != Tenant.objects.get(partner=alice.partner).pk
    assert IdempotencyKey.objects.filter(key="shared-key").count() == 2


@pytest.mark.django_db
def test_a_put_is_covered_too(alice):
    tenant_id = _post(alice, BODY, "key-5").json()["id"]
    url = f"/api/v1/tenants/{tenant_id}"
    changed = alice.client.put(url, {**BODY, "name": "Globex Corp"}, format="json", HTTP_IDEMPOTENCY_KEY="put-1")
    again = alice.client.put(url, {**BODY, "name": "Globex Corp"}, format="json", HTTP_IDEMPOTENCY_KEY="put-1")
    assert changed.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_an_unusable_key_is_400(alice, key):
    answer = _post(alice, BODY, key)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_idempotency_key"
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_without_a_valid_api_key_nothing_is_claimed(anon_client):
    answer = anon_client.post("/api/v1/tenants", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 401
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_old_keys_are_pruned(alice):
    _post(alice, BODY, "old")
    _post(alice, {**BODY, "slug": "newer"}, "new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert prune_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    again = _post(alice, BODY, "old")            # an expired key is a new request (here refused: slug taken)
    assert again.status_code == 409 and "Idempotent-Replayed" not in again
    assert not again.json()["error"]["code"].startswith("idempotency")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_run_once_and_the_other_gets_409(alice):
    answers = {}

    def request(name):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {alice.key}")
        try:
            answers[name] = client.post("/api/v1/tenants", BODY, format="json", HTTP_IDEMPOTENCY_KEY="race")
        finally:
            connection.close()

    first = threading.Thread(target=request, args=("first",))
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The first request claims the key, then waits on this lock to write its tenant.
            cursor.execute("LOCK TABLE tenants_tenant IN EXCLUSIVE MODE")
        first.start()
        deadline = time.monotonic() + 20
        while not IdempotencyKey.objects.filter(key="race").exists():
            assert time.monotonic() < deadline, "the first request never claimed its key"
            time.sleep(0.05)
        second = threading.Thread(target=request, args=("second",))
        second.start()
        second.join(timeout=30)
    first.join(timeout=30)

    assert answers["second"].status_code == 409
    assert answers["second"].json()["error"]["code"] == "idempotency_request_in_progress"
    assert answers["first"].status_code == 201
    assert Tenant.objects.filter(partner=alice.partner).count() == 1
    third = _post(alice, BODY, "race")
    assert third.status_code == 201 and third["Idempotent-Replayed"] == "true"
    assert third.json()["id"] == answers["first"].json()["id"]

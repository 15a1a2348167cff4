"""Answers say how much of the caller's budget is left: RateLimit-Limit, -Remaining and -Reset."""

import pytest

# Each test's partner key is new: its budgets start full (the counters are kept per key).
pytestmark = pytest.mark.django_db


def test_each_answer_carries_the_budget_left(alice, settings):
    settings.API_THROTTLE_PARTNER = "5/minute"
    first = alice.client.get("/api/v1/tenants")
    second = alice.client.get("/api/v1/tenants")
    assert first["RateLimit-Limit"] == "5" and first["RateLimit-Remaining"] == "4"
    assert second["RateLimit-Remaining"] == "3"
    assert 0 < int(second["RateLimit-Reset"]) <= 60


def test_the_tightest_budget_is_shown_and_a_429_has_none_left(alice, tenant, settings):
    settings.API_THROTTLE_SYNC = "1/minute"
    url = f"/api/v1/tenants/{tenant.pk}/syncs"
    first = alice.client.post(url, {}, format="json")              # 409 (no connections), but counted
    assert first["RateLimit-Limit"] == "1" and first["RateLimit-Remaining"] == "0"
    refused = alice.client.post(url, {}, format="json")
    assert refused.status_code == 429
    assert refused["RateLimit-Remaining"] == "0" and int(refused["RateLimit-Reset"]) >= 1
    assert refused.json()["error"]["code"] == "throttled"


def test_calls_without_a_key_carry_the_budget_of_failed_authentications_of_their_address(anon_client, settings):
    answer, again = anon_client.get("/api/v1/tenants"), anon_client.get("/api/v1/tenants")
    limit = settings.API_THROTTLE_AUTH_FAILURES.split("/")[0]
    assert answer.status_code == again.status_code == 401 and answer["RateLimit-Limit"] == limit
    assert int(again["RateLimit-Remaining"]) == int(answer["RateLimit-Remaining"]) - 1 < int(limit)

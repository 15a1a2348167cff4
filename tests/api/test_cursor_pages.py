"""Growing lists page by cursor: rows added while a partner pages never shift or repeat a page."""

import datetime as dt

import pytest
from django.utils import timezone

import audit
from audit.models import Action, RecordEvent
from core.actor import Actor
from sync.models import Hold, SyncRun

pytestmark = pytest.mark.django_db
SYSTEM = Actor("system", "system")


def _walk(client, url, **params):
    seen, answer = [], client.get(url, params).json()
    pages = [answer]
    while True:
        seen += answer["results"]
        if not answer["next"]:
            return seen, pages
        answer = client.get(answer["next"]).json()
        pages.append(answer)


def test_actions_page_stably_while_new_ones_arrive(alice, tenant):
    for n in range(5):
        audit.action("mapping.set", actor=SYSTEM, tenant=tenant, target_type="mapping", target_id=f"old-{n}")
    same_time = timezone.now() - dt.timedelta(minutes=5)
    Action.objects.filter(tenant=tenant).update(created_at=same_time)    # ties: the id keeps the order
    url = f"/api/v1/tenants/{tenant.pk}/audit/actions"
    first = alice.client.get(url, {"page_size": 2}).json()
    assert set(first) == {"next", "previous", "results"}
    for n in range(3):     # newer rows arrive at the top while the partner reads on
        audit.action("mapping.set", actor=SYSTEM, tenant=tenant, target_type="mapping", target_id=f"new-{n}")
    rest, _ = _walk(alice.client, first["next"])
    targets = [row["target_id"] for row in first["results"] + rest]
    assert targets == [f"old-{n}" for n in (4, 3, 2, 1, 0)]


def test_record_rows_runs_calls_and_holds_are_cursor_pages(alice, tenant):
    for n in range(3):
        SyncRun.objects.create(tenant=tenant, status=SyncRun.Status.SUCCEEDED)
        RecordEvent.objects.create(tenant=tenant, entity="suppliers", source_id=f"C-{n}", outcome="created")
        Hold.objects.create(tenant=tenant, entity="suppliers", source_id=f"C-{n}", reason="invalid_record",
                            record={}, source_digest="x")
    base = f"/api/v1/tenants/{tenant.pk}"
    for path in ("syncs", "audit/records", "holds", "audit/api-calls"):
        answer = alice.client.get(f"{base}/{path}", {"page_size": 2})
        assert answer.status_code == 200, (path, answer.content)
        body = answer.json()
        assert set(body) == {"next", "previous", "results"}, path
        if path != "audit/api-calls":
            rows, pages = _walk(alice.client, f"{base}/{path}", page_size=2)
            assert len(rows) == 3 and len({row["id"] for row in rows}) == 3 and len(pages) == 2, path
            assert "cursor=" in pages[0]["next"]


def test_a_forged_cursor_is_a_400_in_the_error_format(alice, tenant):
    answer = alice.client.get(f"/api/v1/tenants/{tenant.pk}/syncs", {"cursor": "not-a-cursor"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_cursor"


def test_previous_links_walk_back_to_the_first_page(alice, tenant):
    for n in range(5):
        audit.action("mapping.set", actor=SYSTEM, tenant=tenant, target_type="mapping", target_id=f"a-{n}")
    url = f"/api/v1/tenants/{tenant.pk}/audit/actions"
    first = alice.client.get(url, {"page_size": 2}).json()
    second = alice.client.get(first["next"]).json()
    third = alice.client.get(second["next"]).json()
    assert [r["target_id"] for r in third["results"]] == ["a-0"] and third["next"] is None
    back = alice.client.get(third["previous"]).json()
    assert back["results"] == second["results"]
    assert alice.client.get(back["previous"]).json()["results"] == first["results"]

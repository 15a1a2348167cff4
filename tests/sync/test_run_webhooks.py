"""A real sync against the sandboxes tells the partner's endpoint (a local HTTP server) once: its outcome and,
when it left records on hold, one digest that counts them all."""

from __future__ import annotations

import pytest
from django.db.models import Count

from sync.models import Hold
from tests.webhooks.conftest import add_endpoint, receiver  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def test_a_sandbox_sync_sends_one_outcome_and_one_digest(alice, tenant, receiver, run_sync,  # noqa: F811
                                                         django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        run = run_sync()
    held = dict(Hold.objects.filter(last_run=run).values_list("reason").annotate(n=Count("id")))
    outcome = receiver.received[0].verify(endpoint["secret"])
    assert outcome["data"]["run_id"] == str(run.pk) and outcome["data"]["counts"] == run.counts
    if held:
        assert receiver.types() == ["sync.completed_with_holds", "records.held"]
        assert receiver.received[1].verify(endpoint["secret"])["data"]["by_reason"] == held
    else:
        assert receiver.types() == ["sync.succeeded"]
    with django_capture_on_commit_callbacks(execute=True):
        second = run_sync()
    outcomes = [r.json["data"]["run_id"] for r in receiver.received if r.json["type"].startswith("sync.")]
    assert outcomes == [str(run.pk), str(second.pk)]          # one outcome per run, in order

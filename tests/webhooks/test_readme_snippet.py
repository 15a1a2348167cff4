"""README's "Verifying a delivery in Python" snippet, run as written against a real delivery."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.webhooks.conftest import add_endpoint
from tests.webhooks.support import finish_run

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippet() -> str:
    section = README.read_text().split("### Verifying a delivery in Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_snippet_verifies_a_real_delivery(alice, tenant, receiver, monkeypatch,
                                                     django_capture_on_commit_callbacks):
    endpoint = add_endpoint(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        run = finish_run(tenant)
    delivery = receiver.received[0]
    monkeypatch.setenv("MLC_WEBHOOK_SECRET", endpoint["secret"])
    namespace: dict = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    handle = namespace["handle_ml_connector_event"]

    event = handle(delivery.body, delivery.headers)
    assert event["type"] == "sync.succeeded" and event["data"]["run_id"] == str(run.pk)
    assert event["id"] == delivery.headers["webhook-id"]
    assert handle(delivery.body.replace(b"succeeded", b"failed"), delivery.headers) is None
    forged = {**delivery.headers, "webhook-signature": "v1,AAAA"}
    assert handle(delivery.body, forged) is None

"""One style across the API: every listed object has an id, every time is RFC 3339 UTC ending in Z."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from sync.models import Hold, SyncRun

pytestmark = pytest.mark.django_db
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def _resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _list_item_schemas():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        operation = item.get("get")
        if not operation:
            continue
        content = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if not content:
            continue
        body = _resolve(schema, content["schema"])
        items = None
        if body.get("type") == "array":
            items = body["items"]
        elif "results" in body.get("properties", {}):
            items = body["properties"]["results"]["items"]
        if items is not None:
            yield path, _resolve(schema, items)


def test_every_listed_object_has_an_id():
    found = dict(_list_item_schemas())
    assert "/api/v1/tenants/{tenant_id}/holds" in found and "/api/v1/api-keys" in found
    missing = [path for path, item in found.items() if "id" not in item.get("properties", {})]
    assert missing == []


def _times(value, where=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _times(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _times(inner, where)
    elif isinstance(value, str) and TIME.match(value):
        yield where, value


def test_every_time_in_the_answers_ends_in_z(alice, connected):
    tenant = connected
    run = SyncRun.objects.create(tenant=tenant, status=SyncRun.Status.SUCCEEDED)
    Hold.objects.create(tenant=tenant, entity="suppliers", source_id="C-1", reason="invalid_record", record={},
                        source_digest="x", last_run=run)
    base = f"/api/v1/tenants/{tenant.pk}"
    answers = [alice.client.post(f"{base}/connections/jaggaer/ping").json()]
    for path in ("", "/syncs", f"/syncs/{run.pk}", "/holds", "/audit/actions", "/audit/api-calls", "/connections"):
        answer = alice.client.get(f"{base}{path}")
        assert answer.status_code == 200, (path, answer.content)
        answers.append(answer.json())
    answers.append(alice.client.get("/api/v1/api-keys").json())
    seen = [pair for answer in answers for pair in _times(answer)]
    assert any(where == ".checked_at" for where, _ in seen)
    assert [pair for pair in seen if not pair[1].endswith("Z")] == []

"""The OpenAPI schema reads for a partner: written summaries and descriptions, real error examples, the
headers that matter documented."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_has_a_summary_and_a_description_for_partners(schema):
    lacking = [(m, p) for p, m, op in _operations(schema) if not op.get("summary") or not op.get("description")]
    assert lacking == []
    code_words = re.compile(r"\bself\.|queryset|for_tenant|TenantScopedMixin|resolves `|docstring")
    leaking = [(m, p) for p, m, op in _operations(schema) if code_words.search(op["description"])]
    assert leaking == []


def test_error_answers_carry_their_real_codes(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        for status, expected in (("401", "invalid_api_key"), ("403", "permission_denied"), ("404", "not_found"),
                                 ("429", "throttled")):
            examples = responses[status]["content"]["application/json"]["examples"]
            assert expected in examples, (method, path, status)
            assert all(e["value"]["error"]["code"] != "validation_error" for e in examples.values())
        assert "Retry-After" in responses["429"]["headers"]
    sync = schema["paths"]["/api/v1/tenants/{tenant_id}/syncs"]["post"]["responses"]
    assert {"sync_already_running", "connection_not_usable"} <= set(sync["409"]["content"]["application/json"]
                                                                     ["examples"])


def test_headers_are_documented(schema):
    for path, method, operation in _operations(schema):
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "X-Request-Id" in names, (method, path)
        assert ("Idempotency-Key" in names) == (method in ("post", "put")), (method, path)
        if method in ("post", "put"):
            assert "idempotency_key_reused" in operation["responses"]["422"]["content"]["application/json"][
                "examples"]
        for status, response in operation["responses"].items():
            assert {"X-Request-Id", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                response.get("headers", {})), (method, path, status)


def test_counts_and_entities_of_a_run_are_typed(schema):
    run = schema["components"]["schemas"]["SyncRun"]["properties"]
    assert run["counts"]["additionalProperties"]["additionalProperties"]["type"] == "integer"
    assert run["entities"]["type"] == "array" and "$ref" in run["entities"]["items"]
    assert run["progress"]["allOf"][0]["$ref"].endswith("/RunProgress") or "$ref" in run["progress"]

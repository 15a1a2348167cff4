"""Every write operation of the API refuses a body field it does not take, naming it, before doing anything.

The walk covers each POST, PUT and PATCH of the OpenAPI schema (and DELETE): an operation added later is
covered without editing this test."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from audit.models import Action
from sync.models import SyncRun
from webhooks.models import WebhookEndpoint

WRITE_METHODS = ("post", "put", "patch", "delete")


def _operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in WRITE_METHODS and path.startswith("/api/"):
                yield path, method, operation


OPERATIONS = sorted((path, method) for path, method, _ in _operations())


def test_the_walk_sees_the_write_operations():
    assert ("/api/v1/tenants", "post") in OPERATIONS
    assert ("/api/v1/tenants/{tenant_id}/syncs", "post") in OPERATIONS
    assert len(OPERATIONS) >= 20


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_an_unknown_body_field_is_refused_by_name(alice, tenant, path, method):
    run = SyncRun.objects.create(tenant=tenant, status=SyncRun.Status.SUCCEEDED)
    endpoint = WebhookEndpoint.objects.create(partner=alice.partner, url="https://hooks.portal.example/in",
                                              secret="whsec_" + "A" * 32)
    values = {"endpoint_id": endpoint.pk, "delivery_id": 1, "tenant_id": tenant.pk, "run_id": run.pk,
              "kind": "gl_account", "code": "6100", "entity": "invoices", "source_id": "INV-1",
              "key_id": alice.key.partition(".")[0]}
    url = path.format(**values)
    actions_before = Action.objects.count()
    runs_before = SyncRun.objects.count()

    answer = getattr(alice.client, method)(url, {"ful": True}, format="json")

    assert answer.status_code == 400, (url, answer.status_code, answer.content)
    error = answer.json()["error"]
    assert error["code"] == "unknown_fields"
    assert "ful" in error["message"]
    assert "ful" in error["fields"]
    assert Action.objects.count() == actions_before       # nothing was done
    assert SyncRun.objects.count() == runs_before


@pytest.mark.django_db
def test_the_sync_request_names_the_accepted_fields(alice, tenant):
    answer = alice.client.post(f"/api/v1/tenants/{tenant.pk}/syncs", {"ful": True}, format="json")
    assert answer.json()["error"]["fields"]["ful"] == ["Unknown field; accepted fields: entities, full."]


@pytest.mark.django_db
def test_an_unknown_field_inside_a_list_item_is_named_with_its_place(alice, tenant):
    answer = alice.client.post(f"/api/v1/tenants/{tenant.pk}/mappings/bulk",
                               {"mappings": [{"kind": "gl_account", "code": "6100", "qbo_id": "1", "qbo": "x"}]},
                               format="json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unknown_fields"
    assert "mappings[0].qbo" in answer.json()["error"]["message"]


@pytest.mark.django_db
def test_an_empty_body_is_fine_where_none_is_taken(alice, tenant):
    answer = alice.client.post(f"/api/v1/tenants/{tenant.pk}/deactivate", {}, format="json")
    assert answer.status_code == 200

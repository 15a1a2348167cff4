"""No 500 on input: slug races, over-long address parts, deep JSON (API and signed webhooks), capped list bodies."""

import base64
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.test import override_settings

from core.parsers import json_depth
from tenants.models import Tenant

URL = "/api/v1/tenants"


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code, body
    return body


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_creates_of_one_new_slug_answer_201_once_and_409_otherwise(alice, live_server):
    headers = {"Authorization": f"Api-Key {alice.key}"}

    def create(n: int) -> requests.Response:
        return requests.post(f"{live_server.url}{URL}", json={"name": f"Race {n}", "slug": "race-slug"},
                             headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(create, range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 19, statuses
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "slug_taken"
    assert Tenant.objects.filter(partner=alice.partner, slug="race-slug").count() == 1


@pytest.mark.django_db
def test_a_slug_of_another_partner_is_neither_refused_nor_confirmed(alice, outsider_tenant):
    response = alice.client.post(URL, {"name": "Mine", "slug": outsider_tenant.slug}, format="json")
    assert response.status_code == 201
    assert outsider_tenant.partner.name not in response.content.decode()
    body = error(alice.client.post(URL, {"name": "Twice", "slug": outsider_tenant.slug}, format="json"),
                 409, "slug_taken")
    assert "You already have" in body["message"]


@pytest.mark.django_db
def test_renaming_to_a_slug_the_partner_already_uses_is_a_409(alice, tenant):
    other = alice.client.post(URL, {"name": "Other", "slug": "other"}, format="json").json()
    error(alice.client.patch(f"{URL}/{other['id']}", {"slug": tenant.slug}, format="json"), 409, "slug_taken")


@pytest.mark.django_db
@pytest.mark.parametrize("path", [
    "mappings/gl_account/" + "9" * 300,
    "mappings/gl_account/" + "9" * 101,
    "mappings/" + "k" * 300 + "/1000",
    "links/invoice/" + "7" * 300,
    "records/purchase_orders/" + "1" * 300 + "/replay",
    "records/" + "e" * 300 + "/1/replay",
])
def test_over_long_address_parts_are_a_400(alice, tenant, path):
    url = f"{URL}/{tenant.pk}/{path}"
    for method in ("get", "put", "delete", "post"):
        response = getattr(alice.client, method)(url, {"qbo_id": "1"}, format="json")
        if response.status_code == 405:
            continue
        body = error(response, 400, "path_value_too_long")
        assert "characters long; at most" in body["message"]


@pytest.mark.django_db
def test_the_longest_allowed_code_still_works(alice, tenant):
    response = alice.client.get(f"{URL}/{tenant.pk}/mappings/gl_account/{'9' * 100}")
    assert response.status_code == 404  # no such mapping: an ordinary answer, not a length refusal


@pytest.mark.django_db
@pytest.mark.parametrize("levels", [33, 5000, 100_000])
def test_json_nested_deeper_than_the_limit_is_a_400(alice, levels):
    body = error(alice.client.generic("POST", URL, deep(levels), content_type="application/json"),
                 400, "too_deeply_nested")
    assert "more than 32 levels" in body["message"]


@pytest.mark.django_db
def test_nesting_within_the_limit_is_validated_as_usual(alice):
    response = alice.client.generic("POST", URL, json.dumps({"name": "N", "slug": json.loads(deep(31))}),
                                    content_type="application/json")
    error(response, 400, "validation_error")


def test_the_depth_count_ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[[{{{{", "b": [1, {"c": "]]]\\"[["}]}') == 3
    assert json_depth(b"[]") == 1 and json_depth(b'"x"') == 0


@pytest.mark.django_db
@pytest.mark.parametrize("levels", [40, 50_000])
def test_a_correctly_signed_webhook_nested_too_deep_is_a_400(client, settings, levels):
    settings.QBO_WEBHOOK_VERIFIER_TOKEN = "verifier"
    body = ('{"eventNotifications": ' + deep(levels) + "}").encode()
    signature = base64.b64encode(hmac.new(b"verifier", body, hashlib.sha256).digest()).decode()
    response = client.post("/webhooks/qbo", body, content_type="application/json",
                           headers={"intuit-signature": signature})
    body = error(response, 400, "invalid_webhook")
    assert "levels deep" in body["message"]


@pytest.mark.django_db
def test_bulk_mappings_are_capped_before_any_item_is_read(alice, tenant):
    items = [{"kind": "gl_account", "code": str(n), "qbo_id": "1"} for n in range(10_000)]
    body = error(alice.client.post(f"{URL}/{tenant.pk}/mappings/bulk", {"mappings": items}, format="json"),
                 400, "validation_error")
    assert "At most 500 mappings in one request" in body["message"]


@pytest.mark.django_db
@override_settings(MAPPINGS_BULK_MAX_ITEMS=3)
def test_the_bulk_cap_is_a_setting(alice, tenant):
    items = [{"kind": "gl_account", "code": str(n), "qbo_id": "1"} for n in range(4)]
    body = error(alice.client.post(f"{URL}/{tenant.pk}/mappings/bulk", {"mappings": items}, format="json"),
                 400, "validation_error")
    assert body["message"].endswith("At most 3 mappings in one request; send the rest in further requests.")
    fewer = alice.client.post(f"{URL}/{tenant.pk}/mappings/bulk", {"mappings": items[:3]}, format="json")
    assert "At most" not in fewer.content.decode()


@pytest.mark.django_db
def test_a_sync_request_cannot_list_more_steps_than_there_are(alice, tenant):
    response = alice.client.post(f"{URL}/{tenant.pk}/syncs", {"entities": ["vendors"] * 1000}, format="json")
    error(response, 400, "validation_error")


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "Mars/Olympus", "../etc/passwd"])
def test_only_iana_zone_names_are_accepted(alice, zone):
    body = error(alice.client.post(URL, {"name": "Z", "slug": "zone", "time_zone": zone}, format="json"),
                 400, "validation_error")
    assert "time_zone" in body["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "query"), [
    ("", {"created_before": "0257-11-15T15:44:15.77-18:15"}),
    ("", {"created_after": "2025-01-01T00:00:00+16:00"}),
    ("/{tenant}/audit/records", {"until": "0307-10-17T17:04:54+17:57"}),
    ("/{tenant}/audit/api-calls", {"since": "0850-11-22T16:32:32+18:00"}),
    ("/{tenant}/audit/records.csv", {"since": "0001-01-01T00:00:00+14:00"}),
])
def test_datetimes_postgresql_cannot_compare_are_a_400(alice, tenant, path, query):
    # Found by the schemathesis run: offsets beyond ±15:59 were a DataError (500).
    response = alice.client.get(URL + path.format(tenant=tenant.pk), query)
    error(response, 400, "validation_error")


@pytest.mark.django_db
def test_the_widest_real_offsets_still_filter(alice, tenant):
    for value in ("2025-01-01T00:00:00+14:00", "2025-01-01T00:00:00-12:00", "2025-01-01"):
        assert alice.client.get(URL, {"created_after": value}).status_code == 200
        assert alice.client.get(f"{URL}/{tenant.pk}/audit/records", {"since": value}).status_code == 200


@pytest.mark.django_db
def test_manage_py_sync_asks_for_the_id_when_two_partners_use_one_slug(alice, bob):
    from django.core.management import CommandError, call_command

    from tests.factories import TenantFactory

    mine = TenantFactory(partner=alice.partner, slug="shared")
    TenantFactory(partner=bob.partner, slug="shared")
    with pytest.raises(CommandError) as refusal:
        call_command("sync", "shared")
    message = str(refusal.value)
    assert message.startswith("Several partners have a tenant with slug 'shared'; give its id instead:")
    assert str(mine.pk) in message and "\n" not in message
    with pytest.raises(CommandError, match="No tenant with slug or id 'nobody'"):
        call_command("sync", "nobody")

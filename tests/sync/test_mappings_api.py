"""The tenant-scoped mapping API: list and filter, set and clear one, bulk, auto-match, alignment, settings."""

import pytest

from sync.models import Mapping, QboCatalogItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogs(run_sync):
    return run_sync(entities=["catalogs"])


def _base(tenant):
    return f"/api/v1/tenants/{tenant.id}"


def test_it_lists_and_filters_mappings(alice, tenant, catalogs):
    response = alice.client.get(f"{_base(tenant)}/mappings", {"kind": "gl_account", "state": "unmapped"})
    assert response.status_code == 200
    codes = {row["code"] for row in response.json()["results"]}
    assert "6850" in codes and "6100" not in codes
    row = alice.client.get(f"{_base(tenant)}/mappings/gl_account/6100").json()
    assert row["state"] == "mapped" and row["qbo_name"] == "Raw materials" and row["source"] == "auto"


def test_it_sets_and_clears_one_mapping(alice, tenant, catalogs):
    account = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", name="Professional services")
    url = f"{_base(tenant)}/mappings/gl_account/6850"
    response = alice.client.put(url, {"qbo_id": account.qbo_id}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() | {"updated_at": None} == {
        "id": Mapping.objects.get(tenant=tenant, kind="gl_account", code="6850").pk, "kind": "gl_account",
        "code": "6850", "qbo_id": account.qbo_id, "qbo_name": "Professional services",
        "source": "person", "state": "mapped", "state_detail": "", "updated_at": None}
    response = alice.client.delete(url)
    assert response.json()["state"] == "unmapped" and response.json()["qbo_id"] is None
    assert Mapping.objects.get(tenant=tenant, kind="gl_account", code="6850").source == "person"


def test_it_refuses_an_inactive_or_unknown_or_ap_account(alice, tenant, catalogs):
    inactive = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", active=False, number="6450")
    ap = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", account_sub_type="AccountsPayable")
    url = f"{_base(tenant)}/mappings/gl_account/6850"
    for qbo_id, code in ((inactive.qbo_id, "qbo_item_inactive"), ("99999", "qbo_item_not_found"),
                         (ap.qbo_id, "qbo_item_unusable")):
        response = alice.client.put(url, {"qbo_id": qbo_id}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code


def test_bulk_set_is_all_or_nothing(alice, tenant, catalogs):
    account = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", number="6700")
    body = {"mappings": [{"kind": "gl_account", "code": "6850", "qbo_id": account.qbo_id},
                         {"kind": "gl_account", "code": "6650", "qbo_id": "nope"}]}
    response = alice.client.post(f"{_base(tenant)}/mappings/bulk", body, format="json")
    assert response.status_code == 400 and "1" in response.json()["error"]["fields"]["mappings"]
    assert Mapping.objects.get(tenant=tenant, kind="gl_account", code="6850").state == "unmapped"
    body["mappings"].pop()
    response = alice.client.post(f"{_base(tenant)}/mappings/bulk", body, format="json")
    assert response.status_code == 200 and response.json()[0]["state"] == "mapped"


def test_rerunning_auto_match_leaves_a_persons_mapping_alone(alice, tenant, catalogs):
    account = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", number="6200")
    alice.client.put(f"{_base(tenant)}/mappings/gl_account/6100", {"qbo_id": account.qbo_id}, format="json")
    response = alice.client.post(f"{_base(tenant)}/mappings/auto-match", {}, format="json")
    assert response.status_code == 200
    assert Mapping.objects.get(tenant=tenant, kind="gl_account", code="6100").qbo_item == account
    alice.client.post(f"{_base(tenant)}/mappings/auto-match", {"include_person": True}, format="json")
    assert Mapping.objects.get(tenant=tenant, kind="gl_account", code="6100").qbo_item.number == "6100"


def test_the_alignment_report(alice, tenant, catalogs):
    report = alice.client.get(f"{_base(tenant)}/alignment").json()
    unaligned = {row["code"]: row for row in report["gl_account"]["jaggaer_without_qbo"]}
    assert set(unaligned) == {"6850", "6450", "6650"}
    assert unaligned["6450"]["state"] == "stale" and unaligned["6850"]["held_records"] == 0
    unused = {row["name"] for row in report["gl_account"]["qbo_unused"]}
    assert "Checking" in unused and "Raw materials" not in unused and "Accounts Payable (A/P)" not in unused


def test_the_default_ap_account_must_be_accounts_payable(alice, tenant, catalogs):
    url = f"{_base(tenant)}/sync-settings"
    assert alice.client.get(url).json()["ap_account_id"] is None
    expense = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", number="6100")
    response = alice.client.patch(url, {"ap_account_id": expense.qbo_id}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_ap_account"
    ap = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", account_sub_type="AccountsPayable")
    response = alice.client.patch(url, {"ap_account_id": ap.qbo_id}, format="json")
    assert response.status_code == 200
    assert response.json()["ap_account_id"] == ap.qbo_id and response.json()["ap_account_name"]


def test_an_outsider_cannot_touch_the_mappings(bob, tenant, catalogs):
    response = bob.client.put(f"{_base(tenant)}/mappings/gl_account/6100", {"qbo_id": "1"}, format="json")
    assert response.status_code == 404
    assert Mapping.objects.get(tenant=tenant, kind="gl_account", code="6100").source == "auto"

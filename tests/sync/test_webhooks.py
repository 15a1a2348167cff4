"""QBO webhooks end to end: the QBO sandbox POSTs signed notifications to our live server."""

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests

from audit.models import RecordEvent
from connections.tokens import qbo_client_for_tenant
from sync.mappings.selectors import alignment_report
from sync.models import Kind, Mapping, QboCatalogItem, VendorLink
from sync.qbo_changes.services import qbo_changes_reconcile
from tests.connections.support import configured_jaggaer, connected_qbo

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "webhook-verifier-token"


@pytest.fixture
def hooked(settings, tenant, qbo_app, jaggaer_sandbox, live_server):
    settings.QBO_WEBHOOK_VERIFIER_TOKEN = TOKEN
    connection = connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_sandbox)
    return connection


def _sign(body: bytes, token: str = TOKEN) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def _post(live_server, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["intuit-signature"] = signature
    return requests.post(f"{live_server.url}/webhooks/qbo", data=body, headers=headers, timeout=10)


def _wait(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _link_a_vendor(tenant, qbo_sandbox):
    vendor = qbo_sandbox.app.create("Vendor", {"DisplayName": "Webhook Castings Ltd"})
    return VendorLink.objects.create(tenant=tenant, jaggaer_company_id="C-WEB-1", qbo_vendor_id=vendor["Id"],
                                     display_name=vendor["DisplayName"]), vendor


@pytest.mark.parametrize("fmt", ["classic", "cloudevents"])
def test_a_vendor_made_inactive_in_qbo_marks_its_link_for_attention(hooked, tenant, qbo_app, live_server, fmt):
    link, vendor = _link_a_vendor(tenant, qbo_app)
    qbo_app.app.configure_webhooks(f"{live_server.url}/webhooks/qbo", TOKEN, format=fmt)
    qbo_app.app.deactivate("Vendor", vendor["Id"])
    assert _wait(lambda: VendorLink.objects.get(pk=link.pk).attention == "qbo_vendor_inactive")
    assert _wait(lambda: qbo_app.app.webhook_deliveries())
    assert [d["status"] for d in qbo_app.app.webhook_deliveries()] == [200]
    event = RecordEvent.objects.get(tenant=tenant, source_id="C-WEB-1")
    assert event.reason == "qbo_vendor_inactive" and event.qbo_id == vendor["Id"]
    report = alignment_report(tenant=tenant)
    assert [v["jaggaer_company_id"] for v in report["vendor_links_needing_attention"]] == ["C-WEB-1"]


def test_a_vendor_deleted_in_qbo_is_flagged_and_a_reactivated_one_is_cleared(hooked, tenant, qbo_app, live_server):
    link, vendor = _link_a_vendor(tenant, qbo_app)
    qbo_app.app.configure_webhooks(f"{live_server.url}/webhooks/qbo", TOKEN)
    qbo_app.app.deactivate("Vendor", vendor["Id"])
    assert _wait(lambda: VendorLink.objects.get(pk=link.pk).attention == "qbo_vendor_inactive")
    qbo_app.app.deactivate("Vendor", vendor["Id"], active=True)
    assert _wait(lambda: VendorLink.objects.get(pk=link.pk).attention == "")


def test_an_account_made_inactive_refreshes_the_catalog_and_marks_its_mapping_stale(hooked, tenant, qbo_app,
                                                                                    live_server):
    from sync.mappings.catalogs import mappings_refresh, qbo_catalog_import

    account = next(a for a in qbo_app.app.state("Account") if a.get("AccountType") == "Expense")
    qbo = qbo_client_for_tenant(tenant)
    qbo_catalog_import(tenant=tenant, qbo=qbo, kind=Kind.GL_ACCOUNT)
    item = QboCatalogItem.objects.get(tenant=tenant, kind=Kind.GL_ACCOUNT, qbo_id=account["Id"])
    Mapping.objects.create(tenant=tenant, kind=Kind.GL_ACCOUNT, code="6100", qbo_item=item,
                           source=Mapping.Source.PERSON, state=Mapping.State.MAPPED)
    mappings_refresh(tenant=tenant, kind=Kind.GL_ACCOUNT)
    qbo_app.app.configure_webhooks(f"{live_server.url}/webhooks/qbo", TOKEN)
    qbo_app.app.deactivate("Account", account["Id"])
    assert _wait(lambda: Mapping.objects.get(tenant=tenant, code="6100").state == Mapping.State.STALE)
    assert QboCatalogItem.objects.get(pk=item.pk).active is False


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl", "wrong-token"])
def test_bad_signatures_answer_401_and_change_nothing(hooked, tenant, qbo_app, live_server, signature):
    link, vendor = _link_a_vendor(tenant, qbo_app)
    body = json.dumps({"eventNotifications": [{"realmId": hooked.realm_id, "dataChangeEvent": {"entities": [
        {"name": "Vendor", "id": vendor["Id"], "operation": "Delete", "lastUpdated": "2026-11-25T10:00:00Z"}]}}]})
    if signature == "wrong-token":
        signature = _sign(body.encode(), "another-token")
    assert _post(live_server, body.encode(), signature).status_code == 401
    assert VendorLink.objects.get(pk=link.pk).attention == ""


def test_an_unknown_realm_answers_401(hooked, live_server):
    body = json.dumps({"eventNotifications": [{"realmId": "999999", "dataChangeEvent": {"entities": [
        {"name": "Vendor", "id": "1", "operation": "Delete", "lastUpdated": "2026-11-25T10:00:00Z"}]}}]}).encode()
    assert _post(live_server, body, _sign(body)).status_code == 401


def test_a_signed_delete_in_the_classic_shape_flags_the_link(hooked, tenant, qbo_app, live_server):
    link, vendor = _link_a_vendor(tenant, qbo_app)
    body = json.dumps({"eventNotifications": [{"realmId": hooked.realm_id, "dataChangeEvent": {"entities": [
        {"name": "Vendor", "id": vendor["Id"], "operation": "Merge", "lastUpdated": "2026-11-25T10:00:00Z"}]}}]})
    response = _post(live_server, body.encode(), _sign(body.encode()))
    assert response.status_code == 200
    assert VendorLink.objects.get(pk=link.pk).attention == "qbo_vendor_merged"


def test_a_malformed_but_signed_body_is_a_400(hooked, live_server):
    body = b'{"something": "else"}'
    assert _post(live_server, body, _sign(body)).status_code == 400


def test_the_daily_cdc_catches_what_webhooks_missed(hooked, tenant, qbo_app):
    link, vendor = _link_a_vendor(tenant, qbo_app)
    qbo_app.app.deactivate("Vendor", vendor["Id"])            # no webhook configured: nobody was told
    result = qbo_changes_reconcile()
    assert result["tenants"] == 1 and result["vendors_flagged"] == 1
    assert VendorLink.objects.get(pk=link.pk).attention == "qbo_vendor_inactive"

import base64
import hashlib
import hmac
import json

import pytest

from sync.qbo_changes.webhooks import EntityChange, WebhookRejected, parse_notification, signature_valid

TOKEN = "verifier-token-123"


def _sign(body: bytes, token: str = TOKEN) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def test_a_signature_made_with_the_verifier_token_is_valid():
    body = b'{"eventNotifications": []}'
    assert signature_valid(body=body, signature=_sign(body), verifier_token=TOKEN)


@pytest.mark.parametrize("signature", [None, "", "garbage", _sign(b"other body")])
def test_missing_or_wrong_signatures_are_invalid(signature):
    assert not signature_valid(body=b'{"eventNotifications": []}', signature=signature, verifier_token=TOKEN)


def test_a_signature_made_with_another_token_is_invalid():
    body = b"{}"
    assert not signature_valid(body=body, signature=_sign(body, "other"), verifier_token=TOKEN)


def test_it_reads_the_classic_shape():
    body = json.dumps({"eventNotifications": [{"realmId": "123", "dataChangeEvent": {"entities": [
        {"name": "Vendor", "id": "56", "operation": "Update", "lastUpdated": "2026-11-25T10:00:00Z"},
        {"name": "Account", "id": "7", "operation": "Delete", "lastUpdated": "2026-11-25T10:00:01Z"},
    ]}}]}).encode()
    assert parse_notification(body) == [
        EntityChange("123", "Vendor", "56", "Update", "2026-11-25T10:00:00Z"),
        EntityChange("123", "Account", "7", "Delete", "2026-11-25T10:00:01Z"),
    ]


def test_it_reads_the_cloud_events_shape():
    body = json.dumps([{
        "specversion": "1.0", "id": "e1", "source": "intuit.com", "type": "qbo.department.updated.v1",
        "time": "2026-11-25T10:00:00Z", "intuitentityid": "3", "intuitaccountid": "123",
    }, {
        "specversion": "1.0", "id": "e2", "source": "intuit.com", "type": "qbo.vendor.merged.v1",
        "time": "2026-11-25T10:00:00Z", "intuitentityid": "9", "intuitaccountid": "123",
    }]).encode()
    assert parse_notification(body) == [
        EntityChange("123", "Department", "3", "Update", "2026-11-25T10:00:00Z"),
        EntityChange("123", "Vendor", "9", "Merge", "2026-11-25T10:00:00Z"),
    ]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"hello": 1}', json.dumps(
    [{"specversion": "1.0", "type": "qbo.vendor.updated.v1", "intuitaccountid": "1"}]).encode(),
    json.dumps([{"specversion": "1.0", "type": "something.else"}]).encode()])
def test_other_bodies_are_rejected(body):
    with pytest.raises(WebhookRejected):
        parse_notification(body)

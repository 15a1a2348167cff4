"""QBO sandbox contract: signed webhook notifications, received by a small stdlib HTTP server in the test."""
import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

VERIFIER = "sandbox-verifier-token-123"


class Receiver:
    """Collects POSTs; answers `statuses` in turn (then 200)."""

    def __init__(self, statuses=()):
        self.received: list[tuple[dict, bytes]] = []
        self.statuses = list(statuses)
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with outer.arrived:
                    outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    outer.arrived.notify_all()

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/qbo"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < n and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
            return list(self.received)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _verify(headers: dict, body: bytes, token: str = VERIFIER) -> bool:
    expected = base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, headers["intuit-signature"])


def test_vendor_changes_are_posted_in_the_classic_shape_and_signed_with_the_verifier_token(qbo_api, receiver):
    qbo_api.app.configure_webhooks(receiver.url, VERIFIER)
    v = qbo_api.create("Vendor", {"DisplayName": "Hooked Vendor"})
    qbo_api.post("vendor", json={"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "7"})
    (headers, body), = receiver.wait_for(1)
    assert _verify(headers, body)
    assert not _verify(headers, body, token="another-token")
    payload = json.loads(body)
    note, = payload["eventNotifications"]
    assert note["realmId"] == qbo_api.realm
    entities = note["dataChangeEvent"]["entities"]
    assert [(e["name"], e["id"], e["operation"]) for e in entities] == [("Vendor", v["Id"], "Create"),
                                                                         ("Vendor", v["Id"], "Update")]
    assert entities[0]["lastUpdated"] == v["MetaData"]["LastUpdatedTime"]


def test_accounts_and_departments_notify_and_other_entities_do_not(qbo_api, receiver):
    qbo_api.app.configure_webhooks(receiver.url, VERIFIER, delay=0.2)
    qbo_api.create("Customer", {"DisplayName": "Quiet Customer"})
    acct = qbo_api.create("Account", {"Name": "Hooked Account", "AccountType": "Expense"})
    dept = qbo_api.create("Department", {"Name": "Hooked Plant"})
    qbo_api.app.deactivate("Department", dept["Id"])
    (headers, body), = receiver.wait_for(1)
    entities = json.loads(body)["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert [(e["name"], e["id"], e["operation"]) for e in entities] == [
        ("Account", acct["Id"], "Create"), ("Department", dept["Id"], "Create"), ("Department", dept["Id"], "Update")]


def test_the_cloudevents_shape_is_selectable(qbo_api, receiver):
    qbo_api.app.configure_webhooks(receiver.url, VERIFIER, format="cloudevents")
    v = qbo_api.create("Vendor", {"DisplayName": "Cloud Vendor"})
    (headers, body), = receiver.wait_for(1)
    assert _verify(headers, body)
    event, = json.loads(body)
    assert event["type"] == "qbo.vendor.created.v1" and event["specversion"] == "1.0"
    assert event["intuitentityid"] == v["Id"] and event["intuitaccountid"] == qbo_api.realm


def test_a_failing_target_is_retried_until_it_accepts(qbo_api):
    receiver = Receiver(statuses=[500, 503])
    try:
        qbo_api.app.configure_webhooks(receiver.url, VERIFIER)
        qbo_api.create("Vendor", {"DisplayName": "Retried Vendor"})
        got = receiver.wait_for(3)
        assert len(got) == 3 and got[0][1] == got[2][1]            # the same notification again
        deadline = time.monotonic() + 5
        while len(qbo_api.app.webhook_deliveries()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [d["status"] for d in qbo_api.app.webhook_deliveries()] == [500, 503, 200]
    finally:
        receiver.close()


def test_webhooks_are_configured_over_the_control_api(qbo_api, receiver):
    import requests
    resp = requests.post(qbo_api.server.url + "/_sandbox/webhooks", json={"url": receiver.url,
                                                                           "verifier_token": VERIFIER})
    assert resp.status_code == 200
    qbo_api.create("Account", {"Name": "Control Account", "AccountType": "Expense"})
    (headers, body), = receiver.wait_for(1)
    assert _verify(headers, body)

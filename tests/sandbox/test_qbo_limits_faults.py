"""QBO sandbox contract: per-realm limits answer 429 with Intuit's XML fault; injected faults of every kind."""
import threading
import xml.etree.ElementTree as ET

import pytest
import requests

from sandbox.testing import QboApi


def _xml_codes(resp) -> list[str]:
    root = ET.fromstring(resp.content)
    return [el.get("code") for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Error"]


def _assert_throttle_shape(resp):
    assert resp.status_code == 429
    assert resp.headers["Content-Type"].startswith("application/xml")
    assert resp.content.startswith(b'<?xml version="1.0"')
    root = ET.fromstring(resp.content)
    assert root.tag.endswith("IntuitResponse")
    fault = next(el for el in root.iter() if el.tag.endswith("Fault"))
    assert fault.get("type") == "SERVICE"
    assert _xml_codes(resp) == ["3001"]
    assert b"message=ThrottleExceeded; errorCode=003001; statusCode=429" in resp.content


def test_requests_per_minute_are_limited_per_realm(qbo_api):
    qbo_api.app.set_limits(requests_per_minute=5)
    answers = [qbo_api.get(f"companyinfo/{qbo_api.realm}") for _ in range(7)]
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
    _assert_throttle_shape(answers[-1])
    other_realm = qbo_api.app.create_realm()
    other = QboApi(qbo_api.server, realm_id=other_realm.id)
    assert other.get(f"companyinfo/{other_realm.id}").status_code == 200          # its own budget


def test_batches_per_minute_are_limited(qbo_api):
    qbo_api.app.set_limits(batches_per_minute=2)
    item = {"BatchItemRequest": [{"bId": "1", "Query": "select count(*) from Vendor"}]}
    codes = [qbo_api.post("batch", json=item).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code == 200        # other calls still pass


def test_concurrent_requests_over_the_limit_get_429(qbo_api, monkeypatch):
    qbo_api.app.set_limits(concurrent=2)
    inside, release = threading.Semaphore(0), threading.Event()
    original = qbo_api.app._route

    def slow_route(realm, req, rest):                     # QBO taking its time over two requests
        if req.arg("slow"):
            inside.release()
            release.wait(5)
        return original(realm, req, rest)
    monkeypatch.setattr(qbo_api.app, "_route", slow_route)
    slow_answers = []
    slow = [threading.Thread(target=lambda: slow_answers.append(
        qbo_api.get(f"companyinfo/{qbo_api.realm}", params={"slow": "1"}))) for _ in range(2)]
    for t in slow:
        t.start()
    assert inside.acquire(timeout=5) and inside.acquire(timeout=5)
    try:
        third = [qbo_api.get(f"companyinfo/{qbo_api.realm}") for _ in range(3)]
    finally:
        release.set()
        for t in slow:
            t.join()
    assert [r.status_code for r in third] == [429, 429, 429]
    _assert_throttle_shape(third[0])
    assert [r.status_code for r in slow_answers] == [200, 200]
    assert qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code == 200      # slots are given back


def test_limits_can_be_switched_off(qbo_api):
    qbo_api.app.set_limits(requests_per_minute=None, concurrent=None, batches_per_minute=None)
    assert all(qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code == 200 for _ in range(20))


def test_the_ten_per_second_limit_can_be_switched_on(qbo_api):
    qbo_api.app.set_limits(requests_per_second=3)
    codes = [qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_limits_are_set_over_the_control_api(qbo_api):
    resp = requests.post(qbo_api.server.url + "/_sandbox/limits", json={"requests_per_minute": 1})
    assert resp.json()["limits"]["requests_per_minute"] == 1
    assert [qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code for _ in range(2)] == [200, 429]


# ---------------------------------------------------------------- injected faults

def test_an_injected_429_has_the_xml_body_and_retry_after_only_when_asked(qbo_api):
    qbo_api.server.faults.inject("429", path="/query")
    qbo_api.server.faults.inject("429", path="/query", retry_after=3)
    first = qbo_api.query("select * from Vendor")
    second = qbo_api.query("select * from Vendor")
    _assert_throttle_shape(first)
    assert "Retry-After" not in first.headers
    _assert_throttle_shape(second)
    assert second.headers["Retry-After"] == "3"
    assert qbo_api.query("select * from Vendor").status_code == 200


@pytest.mark.parametrize("kind,status", [("500", 500), ("503", 503)])
def test_injected_server_errors(qbo_api, kind, status):
    requests.post(qbo_api.server.url + "/_sandbox/faults", json={"kind": kind, "count": 2, "path": "/batch"})
    item = {"BatchItemRequest": [{"bId": "1", "operation": "create", "Vendor": {"DisplayName": "Fault Probe"}}]}
    assert [qbo_api.post("batch", json=item).status_code for _ in range(2)] == [status, status]
    assert qbo_api.post("batch", json=item).status_code == 200
    assert len(qbo_api.app.find("Vendor", DisplayName="Fault Probe")) == 1       # faulted calls did nothing
    counts = qbo_api.server.log.counts()
    assert counts[f"POST /v3/company/{{realm}}/batch {status}"] == 2
    assert counts["POST /v3/company/{realm}/batch 200"] == 1


def test_an_injected_hang_outlasts_the_client_timeout(qbo_api):
    qbo_api.server.faults.inject("hang", seconds=1.0, path="/vendor")
    with pytest.raises(requests.Timeout):
        requests.post(qbo_api.url("vendor"), json={"DisplayName": "Hung"}, params={"minorversion": "75"},
                      headers={"Authorization": "Bearer " + qbo_api.tokens["access_token"]}, timeout=0.3)
    assert qbo_api.app.find("Vendor", DisplayName="Hung") == []


def test_an_injected_drop_closes_the_connection(qbo_api):
    qbo_api.server.faults.inject("drop", method="POST")
    with pytest.raises(requests.ConnectionError):
        requests.post(qbo_api.url("vendor"), json={"DisplayName": "Dropped"}, params={"minorversion": "75"},
                      headers={"Authorization": "Bearer " + qbo_api.tokens["access_token"]})
    assert qbo_api.create("Vendor", {"DisplayName": "Dropped"})["Id"]


def test_the_log_counts_what_qbo_received_per_endpoint_and_status(qbo_api):
    qbo_api.create("Vendor", {"DisplayName": "Logged"})
    qbo_api.post("vendor", json={"DisplayName": "Logged"})
    qbo_api.query("select * from Vendor")
    log = requests.get(qbo_api.server.url + "/_sandbox/log").json()
    assert log["counts"] == {"GET /v3/company/{realm}/query 200": 1, "POST /v3/company/{realm}/vendor 200": 1,
                             "POST /v3/company/{realm}/vendor 400": 1}

"""The shared sandbox server: keep-alive, the control routes, fault injection, the request log."""
import socket
import threading
import time

import pytest
import requests

from sandbox.common.http import Request, Response, SandboxServer, normalise_path


class EchoApp:
    name = "echo"

    def __init__(self):
        self.resets = []
        self.connections = set()
        self.lock = threading.Lock()

    def handle(self, req: Request) -> Response:
        with self.lock:
            self.connections.add(req.client)
        if req.path == "/json":
            return Response.json(200, req.json())
        return Response.json(200, {"method": req.method, "path": req.path, "q": req.arg("q"),
                                   "h": req.headers.get("x-test")})

    def control(self, req: Request, subpath: str) -> Response:
        return Response.json(200, {"app_control": subpath})

    def throttle_response(self, retry_after):
        return Response.text(429, "<Fault>slow down</Fault>", content_type="application/xml")

    def reset(self, dataset):
        self.resets.append(dataset)


@pytest.fixture
def server():
    srv = SandboxServer(EchoApp()).start()
    yield srv
    srv.stop()


def test_it_answers_with_content_length_and_keeps_the_connection_alive(server):
    s = requests.Session()
    for i in range(5):
        r = s.get(server.url + "/x/1", params={"q": str(i)}, headers={"X-Test": "yes"})
        assert r.status_code == 200
        assert r.headers["Content-Length"] == str(len(r.content))
        assert r.json() == {"method": "GET", "path": "/x/1", "q": str(i), "h": "yes"}
    assert len(server.app.connections) == 1


def test_it_reads_json_bodies_and_reports_malformed_ones_as_500_free_errors(server):
    r = requests.post(server.url + "/json", json={"a": [1, "ü"]})
    assert r.json() == {"a": [1, "ü"]}


def test_the_log_counts_requests_per_normalised_endpoint(server):
    requests.get(server.url + "/v3/company/9130355000000001/vendor/17")
    requests.get(server.url + "/v3/company/9130355000000002/vendor/18")
    requests.post(server.url + "/v3/company/9130355000000001/batch")
    requests.get(server.url + "/_sandbox/log")          # control calls are not logged
    counts = requests.get(server.url + "/_sandbox/log").json()["counts"]
    assert counts == {"GET /v3/company/{realm}/vendor/{id} 200": 2, "POST /v3/company/{realm}/batch 200": 1}
    assert server.log.counts() == counts
    assert requests.delete(server.url + "/_sandbox/log").status_code == 200
    assert server.log.entries() == []


def test_normalise_path_keeps_names_and_replaces_ids():
    assert normalise_path("/v3/company/123/query") == "/v3/company/{realm}/query"
    assert normalise_path("/oauth2/v1/tokens/bearer") == "/oauth2/v1/tokens/bearer"
    assert normalise_path("/api/suppliers/SUP-00123") == "/api/suppliers/{id}"
    assert normalise_path("/x/0c7e6a4e-8f1a-4a8e-9b1e-3c2f1d0e9a7b") == "/x/{id}"


def test_injected_429_uses_the_apps_body_and_retry_after_only_when_given(server):
    server.faults.inject("429", count=2, path="/slow")
    server.faults.inject("429", path="/slow", retry_after=7)
    r1 = requests.get(server.url + "/slow")
    r2 = requests.get(server.url + "/slow")
    r3 = requests.get(server.url + "/slow")
    r4 = requests.get(server.url + "/slow")
    assert [r.status_code for r in (r1, r2, r3, r4)] == [429, 429, 429, 200]
    assert r1.text == "<Fault>slow down</Fault>" and "Retry-After" not in r1.headers
    assert r3.headers["Retry-After"] == "7"
    assert server.log.counts() == {"GET /slow 200": 1, "GET /slow 429": 3}


def test_faults_are_set_over_http_and_match_path_and_method(server):
    r = requests.post(server.url + "/_sandbox/faults",
                      json={"kind": "500", "count": 1, "path": "^/a$", "method": "POST"})
    assert r.status_code == 200
    assert requests.get(server.url + "/a").status_code == 200
    assert requests.post(server.url + "/b").status_code == 200
    assert requests.post(server.url + "/a").status_code == 500
    assert requests.post(server.url + "/a").status_code == 200
    requests.post(server.url + "/_sandbox/faults", json=[{"kind": "503", "count": 5}])
    assert requests.get(server.url + "/z").status_code == 503
    assert requests.delete(server.url + "/_sandbox/faults").status_code == 200
    assert requests.get(server.url + "/z").status_code == 200
    assert requests.post(server.url + "/_sandbox/faults", json={"kind": "teapot"}).status_code == 400


def test_a_hang_outlasts_the_client_timeout_then_answers_503(server):
    server.faults.inject("hang", seconds=0.6)
    with pytest.raises(requests.Timeout):
        requests.get(server.url + "/h", timeout=0.2)
    server.faults.inject("hang", seconds=0.2)
    assert requests.get(server.url + "/h", timeout=5).status_code == 503


def test_a_drop_closes_the_socket_without_an_answer(server):
    server.faults.inject("drop")
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/d")
    assert requests.get(server.url + "/d").status_code == 200
    assert [e["status"] for e in server.log.entries()] == [0, 200]


def test_latency_delays_every_answer(server):
    requests.post(server.url + "/_sandbox/latency", json={"ms": 150})
    t = time.perf_counter()
    requests.get(server.url + "/l")
    assert time.perf_counter() - t >= 0.15
    server.faults.set_latency(0)


def test_unknown_control_routes_go_to_the_app_and_reset_clears_faults_and_log(server):
    assert requests.get(server.url + "/_sandbox/realms").json() == {"app_control": "realms"}
    server.faults.inject("500", count=3)
    requests.get(server.url + "/x")
    r = requests.post(server.url + "/_sandbox/reset", json={"dataset": "empty"})
    assert r.status_code == 200
    assert server.app.resets == [None]
    assert server.faults.rules() == [] and server.log.entries() == []


def test_stop_closes_idle_keep_alive_connections(server):
    s = requests.Session()
    assert s.get(server.url + "/k").status_code == 200
    url = server.url
    server.stop()
    with pytest.raises(requests.ConnectionError):
        s.get(url + "/k", timeout=2)


def test_it_serves_many_concurrent_clients():
    srv = SandboxServer(EchoApp()).start()
    try:
        errors = []

        def worker():
            s = requests.Session()
            for _ in range(20):
                if s.get(srv.url + "/c").status_code != 200:
                    errors.append(1)
        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert srv.log.counts() == {"GET /c 200": 400}
    finally:
        srv.stop()


def test_a_raw_http10_client_gets_an_answer():
    srv = SandboxServer(EchoApp()).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as sock:
            sock.sendall(b"GET /raw HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200")
    finally:
        srv.stop()


def test_on_sent_runs_after_the_answer_is_written(server):
    calls = []
    original = server.app.handle

    def handle(req):
        resp = original(req)
        resp.on_sent = lambda: calls.append(req.path)
        return resp
    server.app.handle = handle
    assert requests.get(server.url + "/s").status_code == 200
    deadline = time.monotonic() + 2
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == ["/s"]


def test_counts_survive_the_entry_cap_and_count_filters():
    from sandbox.common.http import RequestLog
    log = RequestLog(max_entries=3)
    for status in (200, 200, 200, 429, 200):
        log.add("GET", "/v3/company/1/query", status, 1.0)
    assert len(log.entries()) == 3
    assert log.counts() == {"GET /v3/company/{realm}/query 200": 4, "GET /v3/company/{realm}/query 429": 1}
    assert log.count(method="GET", status=200) == 4 and log.count(endpoint="/v3/company/{realm}/query") == 5

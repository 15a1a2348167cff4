"""core/transport.py against a real HTTP server on 127.0.0.1: a request leaves in one write, answers of any size
and framing are read whole, ~/.netrc is never read, and the CA bundle is looked at once per host."""

import hashlib
import http.client
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connections.clients.http import HttpClient
from core.transport import RESPONSE_BUFFER, LeanAdapter, LeanHTTPConnection

BIG = bytes(range(256)) * (3 * RESPONSE_BUFFER // 256 + 7)     # more than three buffers


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                          "sha": hashlib.sha256(body).hexdigest()})
        self._answer(b'{"ok": true}')

    def do_GET(self):
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        if self.path == "/big":
            self._answer(BIG)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BIG), 70_000):
                part = BIG[start:start + 70_000]
                self.wfile.write(b"%x\r\n%b\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._answer(b"{}")

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def lean_session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", LeanAdapter())
    return session


def test_a_request_leaves_in_one_write_and_arrives_whole(server, monkeypatch):
    writes = []
    send = http.client.HTTPConnection.send

    def counted(self, data):
        if isinstance(self, LeanHTTPConnection):
            writes.append(len(data))
        return send(self, data)

    monkeypatch.setattr(http.client.HTTPConnection, "send", counted)
    body = os.urandom(200_000)
    with lean_session() as session:
        for _ in range(3):                  # a new connection, then the same one kept alive
            assert session.post(f"{server}/batch", data=body, timeout=10).json() == {"ok": True}

    assert len(writes) == 3 and all(n > len(body) for n in writes)      # headers and body together, each time
    assert [s["sha"] for s in Handler.seen] == [hashlib.sha256(body).hexdigest()] * 3


def test_answers_larger_than_the_buffer_and_chunked_ones_are_read_whole(server):
    with lean_session() as session:
        assert session.get(f"{server}/big", timeout=10).content == BIG
        assert session.get(f"{server}/chunked", timeout=10).content == BIG
        streamed = session.get(f"{server}/big", timeout=10, stream=True)
        assert b"".join(streamed.iter_content(10_240)) == BIG
        assert session.get(f"{server}/small", timeout=10).json() == {}


def test_a_netrc_on_the_host_is_never_sent(server, tmp_path, monkeypatch):
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login someone password not-for-anyone\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    with requests.Session() as plain:           # what requests alone would do: the netrc's password goes along
        plain.get(f"{server}/plain", timeout=10)
    with HttpClient("qbo", server) as client:
        client.request("GET", "/ours")

    sent = {s["path"]: s["authorization"] for s in Handler.seen}
    assert sent["/plain"] and sent["/plain"].startswith("Basic ")
    assert sent["/ours"] is None


def test_the_ca_bundle_is_looked_at_once_per_host(server, monkeypatch):
    looked = []
    isdir = os.path.isdir

    def counted(path):
        looked.append(path)
        return isdir(path)

    monkeypatch.setattr(os.path, "isdir", counted)
    bundle = requests.certs.where()
    with lean_session() as session:
        for _ in range(4):
            session.get(f"{server}/small", timeout=10, verify=bundle)
    assert looked.count(bundle) == 1

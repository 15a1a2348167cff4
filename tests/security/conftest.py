"""Fixtures of the security tests: production-mode settings, a DNS answered at the boundary, small HTTP servers.

The test settings let every test call the sandboxes on 127.0.0.1 (OUTBOUND_ALLOW_PRIVATE_HOSTS); the
outbound policy itself is tested with that switch off and ENVIRONMENT=production. Names resolve through
`fake_dns` (socket.getaddrinfo answered for the names a test registers): that is the HTTP boundary, where
no sandbox can stand in for the internet's DNS.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.connections.support import fast_http, jaggaer_app, qbo_app, secret_guard  # noqa: F401

PUBLIC_IP = "93.184.215.14"          # a public unicast address (example.com); never actually dialled


@pytest.fixture
def production(settings):
    """The outbound policy as production applies it."""
    settings.ENVIRONMENT = "production"
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    return settings


class FakeDns:
    """socket.getaddrinfo for registered names: each name answers its list of addresses in turn (the last
    one repeats); other names do not resolve; numeric hosts resolve as the system would."""

    def __init__(self, real: Callable):
        self.real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def add(self, name: str, *answers: str | list[str]) -> None:
        self.answers[name.lower()] = [[a] if isinstance(a, str) else list(a) for a in answers]

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's signature
        name = (host.decode() if isinstance(host, bytes) else str(host)).lower().rstrip(".")
        if name not in self.answers:
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
            except OSError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            return self.real(host, port, family, type, proto, flags)
        self.lookups.append(name)
        queue = self.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        out = []
        for address in addresses:
            if ":" in address:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, int(port or 0), 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0))))
        return out


@pytest.fixture
def fake_dns(monkeypatch):
    dns = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


@pytest.fixture
def dialled(monkeypatch):
    """Every address a Python socket connects to while the test runs (the connection is refused)."""
    seen: list[tuple] = []
    real_connect = socket.socket.connect

    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            seen.append(address)
            raise ConnectionRefusedError(111, "Connection refused")
        seen.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


class Remote:
    """A small HTTP server on 127.0.0.1 that answers every request with `handler(method, path, body)`:
    (status, headers, body bytes). It stands for a host the customer gave, answering whatever it likes."""

    def __init__(self, handler):
        self.handler = handler
        self.requests: list[tuple[str, str]] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                remote.requests.append((self.command, self.path))
                status, headers, content = remote.handler(self.command, self.path, body)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def remote():
    servers: list[Remote] = []

    def start(handler) -> Remote:
        server = Remote(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def fresh_call_log():
    """Calls recorded by an earlier test and not yet written must not count in this one."""
    from audit.services import api_calls_discard

    api_calls_discard()
    yield
    api_calls_discard()

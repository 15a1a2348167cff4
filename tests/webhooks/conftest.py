"""A partner's webhook receiver: a real HTTP server on 127.0.0.1 that records what it is sent and answers
the statuses a test queues (then 200), and helpers to add endpoints through the partner API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from tests.connections.support import fast_http, jaggaer_app, qbo_app  # noqa: F401  (fixtures)
from tests.security.conftest import production  # noqa: F401  (fixture)

REMOTE_BODY = "REMOTE-STACK-TRACE db=prod password=hunter2"     # what a failing receiver answers


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        import json

        return json.loads(self.body)

    def verify(self, secret: str) -> dict:
        """The body as the `standardwebhooks` library verifies it (WebhookVerificationError otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)     # only the requests answered 2xx
    attempts: list[Received] = field(default_factory=list)     # every request
    statuses: list[int] = field(default_factory=list)          # answers to give, in turn; then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int, status: int = 503) -> None:
        with self.lock:
            self.statuses.extend([status] * count)

    def types(self) -> list[str]:
        return [r.json["type"] for r in self.received]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with receiver.lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.attempts.append(item)
                if 200 <= status < 300:
                    receiver.received.append(item)
            answer = (b"ok" if status < 300 else REMOTE_BODY.encode())
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


def add_endpoint(partner_ctx, url: str, **body) -> dict:
    """POST /api/v1/webhook-endpoints as the partner; the answer (with its secret)."""
    answer = partner_ctx.client.post("/api/v1/webhook-endpoints", {"url": url, **body}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()

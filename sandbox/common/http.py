"""The HTTP server every sandbox runs on: stdlib only, HTTP/1.1 keep-alive, one daemon thread per connection.

A sandbox app (QBO, JAGGAER) implements `SandboxApp`; `SandboxServer` adds what all of them share:
fault injection, latency, a request log and the control routes under `/_sandbox/`.
"""
from __future__ import annotations

import json
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

CONTROL_PREFIX = "/_sandbox/"
FAULT_KINDS = ("429", "500", "503", "hang", "drop")
DEFAULT_HANG_SECONDS = 30.0

_REASONS = {s.value: s.phrase for s in HTTPStatus}
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


# ============================================================================ request / response

@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""
    client: tuple[str, int] | None = None

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is empty or malformed."""
        if not self.body:
            raise ValueError("empty body")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(str(e)) from e

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.headers.get(name)
        return default if value is None else value


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # called once the answer has been written (or the write failed): an app that counts requests
    # in flight holds the slot until the client has the whole answer, as QBO does
    on_sent: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    # what the request log notes beside the request (e.g. "reads": a QBO batch of queries only, no write)
    log_note: str = field(default="", repr=False, compare=False)

    @classmethod
    def json(cls, status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
        h = {"Content-Type": "application/json;charset=UTF-8"}
        if headers:
            h.update(headers)
        return cls(status, _dumps(obj).encode("utf-8"), h)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain",
             headers: dict[str, str] | None = None) -> Response:
        h = {"Content-Type": content_type if "charset" in content_type else content_type + ";charset=UTF-8"}
        if headers:
            h.update(headers)
        return cls(status, text.encode("utf-8"), h)


class SandboxApp(Protocol):
    name: str

    def handle(self, req: Request) -> Response: ...

    def control(self, req: Request, subpath: str) -> Response: ...

    def throttle_response(self, retry_after: int | None) -> Response: ...

    def reset(self, dataset: Any) -> None: ...


# ============================================================================ fault injection

@dataclass
class FaultRule:
    kind: str
    remaining: int
    path: str
    method: str | None
    retry_after: int | None
    seconds: float | None
    pattern: re.Pattern = field(repr=False, default=None)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "remaining": self.remaining, "path": self.path, "method": self.method,
                "retry_after": self.retry_after, "seconds": self.seconds}


class FaultInjector:
    """Make the next N matching requests fail in a chosen way. Rules are tried in the order added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self.latency_ms = 0
        self.latency_max_ms: float | None = None     # with it, each answer waits a uniform draw in [ms, max_ms]

    def inject(self, kind: str | int, count: int = 1, path: str = ".*", method: str | None = None,
               retry_after: int | None = None, seconds: float | None = None) -> FaultRule:
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
        count = int(count)
        if count < 1:
            raise ValueError("count must be at least 1")
        rule = FaultRule(kind, count, path, method.upper() if method else None,
                         None if retry_after is None else int(retry_after),
                         None if seconds is None else float(seconds), re.compile(path))
        with self._lock:
            self._rules.append(rule)
        return rule

    def set_latency(self, ms: float, max_ms: float | None = None) -> None:
        """Every answer waits `ms`, or a uniform draw between `ms` and `max_ms` when that is given."""
        if ms < 0 or (max_ms is not None and max_ms < ms):
            raise ValueError("latency must not be negative, and max_ms not below ms")
        self.latency_ms = ms
        self.latency_max_ms = max_ms

    def latency_seconds(self) -> float:
        if self.latency_max_ms is not None:
            return random.uniform(self.latency_ms, self.latency_max_ms) / 1000.0
        return self.latency_ms / 1000.0

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self.latency_ms = 0
        self.latency_max_ms = None

    def rules(self) -> list[dict]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first rule matching this request, with one use consumed; None when no rule matches."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.method and rule.method != method:
                    continue
                if not rule.pattern.search(path):
                    continue
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                return rule
        return None


# ============================================================================ request log

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ID_LIKE = re.compile(r"^(?=(?:.*\d){3})[A-Za-z0-9_.~-]+$")      # at least three digits


def normalise_path(path: str) -> str:
    """Replace the ids in a path with placeholders so counts group by endpoint.

    The segment after `company` is `{realm}`; segments of digits, UUIDs and id-like tokens (three or more
    digits) are `{id}`. `v3`, `oauth2` and other names stay as they are."""
    parts = path.split("/")
    out = []
    prev = ""
    for part in parts:
        if part and prev == "company":
            out.append("{realm}")
        elif part and (part.isdigit() or _UUID.match(part) or _ID_LIKE.match(part)):
            out.append("{id}")
        else:
            out.append(part)
        prev = part
    return "/".join(out)


class RequestLog:
    """Every request but the control calls. Counts are exact for the server's life (until `clear`); the
    entries themselves keep the latest `max_entries` so a demo left running does not grow without end."""

    def __init__(self, normaliser=normalise_path, max_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict] = deque(maxlen=max_entries)
        self._counts: Counter[str] = Counter()
        self._normalise = normaliser

    def add(self, method: str, path: str, status: int, duration_ms: float, fault: str | None = None,
            note: str = "") -> None:
        endpoint = self._normalise(path)
        entry = {"method": method, "path": path, "endpoint": endpoint, "status": status,
                 "duration_ms": round(duration_ms, 3), "at": time.time()}
        if fault:
            entry["fault"] = fault
        if note:
            entry["note"] = note
        key = f"{method} {endpoint} {status}"
        with self._lock:
            self._entries.append(entry)
            self._counts[key] += 1

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def count(self, method: str | None = None, endpoint: str | None = None, status: int | None = None) -> int:
        """How many requests match all the given filters (endpoint is the normalised path)."""
        n = 0
        for key, value in self.counts().items():
            m, ep, st = key.split(" ")
            if method and m != method:
                continue
            if endpoint and ep != endpoint:
                continue
            if status is not None and st != str(status):
                continue
            n += value
        return n

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()


# ============================================================================ server

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ml-sandbox"
    sys_version = ""
    timeout = 300            # idle keep-alive connections are closed after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.sandbox._track(self.connection, True)
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:   # noqa: A002 - stdlib signature
        pass

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _dispatch(self) -> None:
        sb = self.server.sandbox
        started = time.perf_counter()
        split = urlsplit(self.path)
        path = split.path or "/"
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        req = Request(self.command, path, parse_qs(split.query, keep_blank_values=True), self.headers, body,
                      self.client_address)
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            self._send(sb._control(req))
            return
        rule = sb.faults.take(req.method, path)
        if sb.faults.latency_ms or sb.faults.latency_max_ms:
            time.sleep(sb.faults.latency_seconds())
        if rule is not None:
            resp = sb._fault_response(rule)
            if resp is None:                           # drop: close without answering
                sb.log.add(req.method, path, 0, (time.perf_counter() - started) * 1000, fault=rule.kind)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            sb.log.add(req.method, path, resp.status, (time.perf_counter() - started) * 1000, fault=rule.kind)
            self._send(resp)
            return
        try:
            resp = sb.app.handle(req)
        except Exception:                              # noqa: BLE001 - a bug in an app must not kill the server
            traceback.print_exc(file=sys.stderr)
            resp = Response.json(500, {"error": "internal sandbox error"})
        sb.log.add(req.method, path, resp.status, (time.perf_counter() - started) * 1000, note=resp.log_note)
        try:
            self._send(resp)
        finally:
            if resp.on_sent is not None:
                resp.on_sent()

    def _send(self, resp: Response) -> None:
        body = resp.body if self.command != "HEAD" else b""
        lines = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Status')}"]
        has_length = False
        for k, v in resp.headers.items():
            if k.lower() == "content-length":
                has_length = True
            lines.append(f"{k}: {v}")
        if not has_length:
            lines.append(f"Content-Length: {len(resp.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + body)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


class SandboxServer:
    """One sandbox app on its own port. `start()` returns at once; the server runs in a daemon thread."""

    def __init__(self, app: SandboxApp, port: int = 0, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.faults = FaultInjector()
        self.log = RequestLog(getattr(app, "normalise_path", normalise_path))
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            if alive:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server((self.host, self.port), _Handler)
        httpd.sandbox = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sandbox-{getattr(self.app, 'name', 'app')}-{self.port}",
                                        daemon=True)
        self._thread.start()
        if hasattr(self.app, "attach"):
            self.app.attach(self)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:                              # idle keep-alive connections would keep answering
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if hasattr(self.app, "close"):
            self.app.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- faults
    def _fault_response(self, rule: FaultRule) -> Response | None:
        if rule.kind == "429":
            resp = self.app.throttle_response(rule.retry_after)
            if rule.retry_after is not None:
                resp.headers["Retry-After"] = str(rule.retry_after)
            return resp
        if rule.kind in ("500", "503"):
            return self._error_response(int(rule.kind))
        if rule.kind == "hang":
            self._stopping.wait(DEFAULT_HANG_SECONDS if rule.seconds is None else rule.seconds)
            return self._error_response(503)
        return None

    def _error_response(self, status: int) -> Response:
        make = getattr(self.app, "error_response", None)
        if make is not None:
            return make(status)
        return Response.text(status, f"{status} {_REASONS.get(status, '')}")

    # ---- control API
    def reset(self, dataset: str | None = "small", seed: int = 42, scale: float = 1.0) -> None:
        """Load a generated dataset (None or "empty": no data) and clear faults and the log."""
        from sandbox.datagen import load_dataset  # generated once per (name, seed, scale)
        data = load_dataset(dataset, seed, scale)
        self.app.reset(data)
        self.faults.clear()
        self.log.clear()

    def _control(self, req: Request) -> Response:
        sub = req.path[len(CONTROL_PREFIX):] if req.path.startswith(CONTROL_PREFIX) else ""
        try:
            if sub == "log":
                if req.method == "GET":
                    return Response.json(200, {"entries": self.log.entries(), "counts": self.log.counts()})
                if req.method == "DELETE":
                    self.log.clear()
                    return Response.json(200, {"cleared": True})
            elif sub == "faults":
                if req.method == "GET":
                    return Response.json(200, {"faults": self.faults.rules(),
                                               "latency_ms": self.faults.latency_ms})
                if req.method == "POST":
                    spec = req.json()
                    items = spec if isinstance(spec, list) else [spec]
                    rules = []
                    for item in items:
                        if not isinstance(item, dict) or "kind" not in item:
                            raise ValueError("each fault needs a kind")
                        allowed = {"kind", "count", "path", "method", "retry_after", "seconds"}
                        unknown = set(item) - allowed
                        if unknown:
                            raise ValueError("unknown fault fields: " + ", ".join(sorted(unknown)))
                        rules.append(self.faults.inject(**item).as_dict())
                    return Response.json(200, {"faults": rules})
                if req.method == "DELETE":
                    self.faults.clear()
                    return Response.json(200, {"cleared": True})
            elif sub == "latency":
                if req.method == "POST":
                    spec = req.json()
                    high = spec.get("max_ms")
                    self.faults.set_latency(float(spec.get("ms", 0)), None if high is None else float(high))
                    return Response.json(200, {"latency_ms": self.faults.latency_ms,
                                               "latency_max_ms": self.faults.latency_max_ms})
            elif sub == "reset":
                if req.method == "POST":
                    spec = req.json() if req.body else {}
                    self.reset(spec.get("dataset", "small"), seed=int(spec.get("seed", 42)),
                               scale=float(spec.get("scale", 1)))
                    return Response.json(200, {"reset": True, "dataset": spec.get("dataset", "small")})
            else:
                return self.app.control(req, sub)
            return Response.json(405, {"error": "method not allowed"})
        except (ValueError, TypeError, KeyError, re.error) as e:
            return Response.json(400, {"error": str(e)})
        except Exception as e:                          # noqa: BLE001 - report control errors to the caller
            traceback.print_exc(file=sys.stderr)
            return Response.json(500, {"error": f"{type(e).__name__}: {e}"})

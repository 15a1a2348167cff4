"""A partner portal's side of the demo: plain HTTP calls to ml-connector's public REST API (urllib).

Nothing here imports the app: it knows a base URL and an API key, sends JSON, reads JSON, and follows
the browser's redirects of the QuickBooks consent by hand so each hop can be shown.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit


class ApiError(Exception):
    def __init__(self, method: str, url: str, status: int, body: Any):
        self.method, self.url, self.status, self.body = method, url, status, body
        error = body.get("error") if isinstance(body, dict) else None
        detail = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else str(body)[:300]
        super().__init__(f"{method} {urlsplit(url).path} answered HTTP {status} ({detail})")


@dataclass
class Call:
    method: str
    path: str
    status: int
    seconds: float


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def _send(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None,
          timeout: float = 120.0) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:  # 3xx (not followed), 4xx, 5xx: an answer all the same
        return e.code, dict(e.headers), e.read()


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


@dataclass
class Portal:
    """`Portal(base_url, api_key).post("/api/v1/tenants", {...})` -> the decoded JSON answer."""

    base_url: str
    api_key: str = ""
    calls: list[Call] = field(default_factory=list)

    def request(self, method: str, path: str, payload: Any = None, *, query: dict | None = None,
                expect: tuple[int, ...] = (200, 201, 202)) -> Any:
        url = urljoin(self.base_url, path) + (f"?{urlencode(query, doseq=True)}" if query else "")
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Api-Key {self.api_key}"
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        status, _, raw = _send(method, url, body=body, headers=headers)
        self.calls.append(Call(method, urlsplit(url).path, status, time.monotonic() - started))
        answer = _decode(raw)
        if status not in expect:
            raise ApiError(method, url, status, answer)
        return answer

    def get(self, path: str, **query) -> Any:
        return self.request("GET", path, query=query or None)

    def post(self, path: str, payload: Any = None, **kw) -> Any:
        return self.request("POST", path, payload if payload is not None else {}, **kw)

    def put(self, path: str, payload: Any, **kw) -> Any:
        return self.request("PUT", path, payload, **kw)

    def patch(self, path: str, payload: Any, **kw) -> Any:
        return self.request("PATCH", path, payload, **kw)

    def all_pages(self, path: str, **query) -> list[dict]:
        """Every row of a paginated list (`results` + `next`)."""
        rows: list[dict] = []
        answer = self.get(path, **query)
        while True:
            rows.extend(answer["results"])
            if not answer.get("next"):
                return rows
            next_url = answer["next"]
            answer = self.request("GET", next_url)


@dataclass
class Hop:
    url: str
    status: int


def follow_browser_redirects(start_url: str, *, max_hops: int = 5) -> tuple[list[Hop], Any]:
    """GET `start_url` as the customer's browser would and follow each 302; the hops and the last answer."""
    hops: list[Hop] = []
    url = start_url
    for _ in range(max_hops):
        status, headers, raw = _send("GET", url, headers={"Accept": "application/json"})
        hops.append(Hop(url, status))
        location = headers.get("Location") or headers.get("location")
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        return hops, _decode(raw)
    raise RuntimeError(f"more than {max_hops} redirects starting at {urlsplit(start_url).path}")

"""The one HTTP layer under both clients: timeouts, retries, backoff, call reporting, transport errors.

`HttpClient.request()` answers the final `requests.Response` (any status: the vendor client reads its
own error shapes) or raises `TransportError` when no usable answer came. It retries 429, 500-504,
connection errors and timeouts (plus whatever the vendor's `read_error` marks transient), with
exponential backoff and full jitter, honouring `Retry-After` up to a cap. Every attempt is reported to
`calls.call_listeners` as an `ApiCallInfo` that carries no secret: tokens travel in headers, which are
never reported, and query-string values of secret-looking keys are masked (`core.redaction.sanitize_path`).

A client of a system whose host the customer gives (JAGGAER) follows that system's outbound policy
(`connections.clients.outbound`): the URL is checked before anything is sent, the name is resolved once
per connection and every address checked, the connection goes to exactly the checked address (TLS still
verifies the host name), a redirect is refused as our own error, environment proxies are not used and
the connect timeout is OUTBOUND_CONNECT_TIMEOUT at most.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import email.utils
import json as jsonlib
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from django import db
from django.conf import settings

from connections.clients import calls
from connections.clients.calls import ApiCallInfo, notify
from connections.clients.outbound import policy_for
from connections.exceptions import SYSTEM_NAMES, CredentialsRejected, TransportError
from core.outbound import REDIRECT_CODE, GuardedAdapter, OutboundBlocked, OutboundPolicy
from core.redaction import sanitize_path
from core.transport import LeanAdapter, NoNetrc

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 501, 502, 503, 504})
USER_AGENT = "ml-connector/1.0 (+requests)"

DEFAULTS = {
    "HTTP_CONNECT_TIMEOUT": 5.0,
    "HTTP_READ_TIMEOUT": 60.0,
    "HTTP_MAX_ATTEMPTS": 5,
    "HTTP_BACKOFF_BASE": 0.5,
    "HTTP_BACKOFF_CAP": 30.0,
    "HTTP_RETRY_AFTER_CAP": 60.0,
    "HTTP_THROTTLE_DEFAULT_WAIT": 60.0,
    "OUTBOUND_CONNECT_TIMEOUT": 3.0,
}


def _setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


# ============================================================================ helpers

def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def json_body(response: requests.Response) -> Any:
    """The body parsed as JSON (None when it is not JSON), parsed once and kept on the response."""
    cached = getattr(response, "_mlc_json", _MISSING)
    if cached is not _MISSING:
        return cached
    try:
        value = response.json() if response.content else None
    except ValueError:
        value = None
    response._mlc_json = value
    return value


_MISSING = object()


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # QBO takes amounts as JSON numbers; a float carries the few decimals an amount has exactly.
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_json(obj: Any) -> bytes:
    return jsonlib.dumps(obj, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception nested in a requests/urllib3 error: causes, contexts, `.reason` and exception args."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        nested = (e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ()))
        stack.extend(x for x in nested if isinstance(x, BaseException))


def _host_of(url: str) -> str:
    split = urlsplit(url)
    host = split.hostname or url
    if split.port:
        host = f"{host}:{split.port}"
    return host


def describe_transport_error(exc: BaseException, url: str, system: str,
                             timeout: tuple[float, float]) -> tuple[str, str, bool]:
    """(code, customer-readable message, transient) for a failure that produced no HTTP answer."""
    host = _host_of(url)
    name = {"qbo": "QuickBooks Online", "jaggaer": "JAGGAER"}.get(system, system)
    chain = list(_exception_chain(exc))

    def has(*types: type) -> bool:
        return any(isinstance(e, types) for e in chain)

    def text_has(*needles: str) -> bool:
        blob = " ".join(str(e) for e in chain).lower()
        return any(n in blob for n in needles)

    if has(requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
           urllib3.exceptions.LocationParseError):
        return "invalid_url", f"{url.split('?')[0]!r} is not a valid URL: check the {name} base URL", False
    if has(requests.exceptions.SSLError, ssl.SSLError, urllib3.exceptions.SSLError):
        return "tls", (f"the secure (TLS) connection to {host} failed: its certificate is not trusted or it does "
                       f"not speak HTTPS on that port; check the {name} base URL"), False
    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        temporary = any(isinstance(e, socket.gaierror) and e.errno == socket.EAI_AGAIN for e in chain) or \
            text_has("temporary failure in name resolution")
        if temporary:
            return "dns", f"could not resolve host {_bare_host(host)} right now (DNS did not answer)", True
        return "dns", f"could not resolve host {_bare_host(host)}: check the {name} base URL", False
    if has(ConnectionRefusedError) or text_has("connection refused", "errno 111", "actively refused"):
        return "refused", (f"{host} refused the connection: nothing is listening there; check the {name} "
                           f"base URL and port, or whether {name} is down"), True
    connect_timeout = has(requests.exceptions.ConnectTimeout) or any(
        isinstance(e, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain)
    if connect_timeout:
        return "connect_timeout", (f"{host} did not accept a connection within {timeout[0]:g} s: it may be down "
                                   f"or blocked by a firewall; check the {name} base URL"), True
    if has(requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError):
        return "read_timeout", f"{name} ({host}) did not answer within {timeout[1]:g} s", True
    if has(ConnectionResetError, ConnectionAbortedError, BrokenPipeError, urllib3.exceptions.ProtocolError,
           requests.exceptions.ChunkedEncodingError, urllib3.exceptions.IncompleteRead) or text_has(
            "remote end closed connection", "connection aborted", "connection reset"):
        return "dropped", f"{name} ({host}) closed the connection without a complete answer", True
    if text_has("network is unreachable", "no route to host"):
        return "unreachable", (f"no network route to {host}: check the {name} base URL and this server's "
                               f"network"), True
    return "connection", f"could not talk to {name} at {host} ({type(exc).__name__})", True


def _bare_host(host: str) -> str:
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# ============================================================================ dialing a checked address

# ============================================================================ the client

@dataclass
class ErrorReading:
    """What a vendor client reads from an answer: its error code and whether a retry may help.

    `transient=None` lets the HTTP status decide (429 and 500-504 are retried)."""

    code: str | None = None
    message: str | None = None
    transient: bool | None = None
    throttled: bool = False     # a throttle without Retry-After waits HTTP_THROTTLE_DEFAULT_WAIT


ErrorReader = Callable[[requests.Response], "ErrorReading | None"]


def give_back_db_connection() -> None:
    """Before waiting on the network: with a connection pool (DB_POOL_MAX_SIZE), hand this thread's PostgreSQL
    connection back unless a transaction needs it, so a worker's threads waiting on HTTP hold none; the next query
    takes one from the pool again (no new connection)."""
    if not getattr(settings, "DB_POOL_MAX_SIZE", 0):
        return
    connection = db.connections["default"]
    if connection.connection is not None and not connection.in_atomic_block:
        connection.close()


class Exchange:
    """A call sent from a client's helper thread (`Exchange.start`): the calls it reports are held
    (`calls.holding`) and told to the listeners on the thread that started it, when that thread takes the answer
    (`response`) or lets the exchange end (`settle`): the audit's buffer and the run's ids are that thread's."""

    def __init__(self, future: Future, held: list):
        self._future, self._held = future, held

    @classmethod
    def start(cls, executor: ThreadPoolExecutor, send: Callable[..., Any], *args: Any) -> Exchange:
        """`send(*args)` on `executor`, in this thread's context (run and request ids, tenant)."""
        held: list = []

        def holding_calls() -> Any:
            with calls.holding(held):
                return send(*args)

        return cls(executor.submit(contextvars.copy_context().run, holding_calls), held)

    @property
    def future(self) -> Future:
        """Done once `send` has returned or raised (the answer is taken with `response`)."""
        return self._future

    def response(self) -> Any:
        """What `send` returned (its error raised here), once it is there."""
        give_back_db_connection()
        try:
            return self._future.result()
        finally:
            self._replay()

    def settle(self) -> None:
        """Wait for the exchange to end and tell its calls, whatever the outcome (a caller stopping early)."""
        wait([self._future])
        self._replay()

    def _replay(self) -> None:
        held, self._held = self._held, []
        calls.replay(held)


class HelperThread:
    """A client's one helper thread, started on first use: the exchanges it is given (`start`) run one at a time,
    in the order given."""

    def __init__(self, name: str):
        self.name = name
        self._executor: ThreadPoolExecutor | None = None

    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return self._executor

    def start(self, send: Callable[..., Any], *args: Any) -> Exchange:
        return Exchange.start(self.executor(), send, *args)

    def close(self) -> None:
        """Wait for what it was given and stop the thread (it starts again if given more)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class HttpClient:
    """One `requests.Session` (keep-alive) for one system, with the retry policy of ml-connector."""

    def __init__(self, system: str, base_url: str = "", *, timeout: tuple[float, float] | None = None,
                 max_attempts: int | None = None, backoff_base: float | None = None,
                 backoff_cap: float | None = None, retry_after_cap: float | None = None,
                 throttle_default_wait: float | None = None, limiter=None,
                 read_error: ErrorReader | None = None, tenant_id: Any = None, realm_id: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random, pool_size: int = 10,
                 policy: OutboundPolicy | None = None):
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout or (float(_setting("HTTP_CONNECT_TIMEOUT")), float(_setting("HTTP_READ_TIMEOUT")))
        self.max_attempts = max(1, int(max_attempts or _setting("HTTP_MAX_ATTEMPTS")))
        self.backoff_base = float(_setting("HTTP_BACKOFF_BASE") if backoff_base is None else backoff_base)
        self.backoff_cap = float(_setting("HTTP_BACKOFF_CAP") if backoff_cap is None else backoff_cap)
        self.retry_after_cap = float(_setting("HTTP_RETRY_AFTER_CAP") if retry_after_cap is None
                                     else retry_after_cap)
        self.throttle_default_wait = float(_setting("HTTP_THROTTLE_DEFAULT_WAIT") if throttle_default_wait is None
                                           else throttle_default_wait)
        self.limiter = limiter
        self.read_error = read_error
        self.tenant_id = tenant_id
        self.realm_id = realm_id
        self.sleep = sleep
        self.clock = clock
        self.rand = rand
        self.pool_size = pool_size
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.policy: OutboundPolicy | None = None
        self.session.auth = NoNetrc()     # never ~/.netrc: each call carries its own credentials
        adapter = LeanAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.use_policy(policy or policy_for(system))

    def use_policy(self, policy: OutboundPolicy | None) -> None:
        """Call only hosts that `policy` allows, from now on (None: no policy, for operator-set hosts)."""
        if policy is None or policy == self.policy:
            return
        self.policy = policy
        self.session.trust_env = False      # no proxy from the environment: we dial the checked address
        adapter = GuardedAdapter(policy, pool_connections=self.pool_size, pool_maxsize=self.pool_size,
                                 max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        connect, read = self.timeout
        self.timeout = (min(connect, float(_setting("OUTBOUND_CONNECT_TIMEOUT"))), read)

    # ---- lifecycle
    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- the policy
    def url_for(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        if not self.base_url:
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform wait between 0 and min(cap, base * 2^(attempt-1))."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return self.rand() * ceiling

    def wait_before_retry(self, attempt: int, response: requests.Response | None,
                          reading: ErrorReading | None) -> float:
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                return min(retry_after, self.retry_after_cap)
            if response.status_code == 429 or (reading is not None and reading.throttled):
                return min(self.throttle_default_wait, self.retry_after_cap)
        return self.backoff(attempt)

    # ---- the call
    def request(self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                auth: Any = None, content: bytes | str | None = None, max_attempts: int | None = None,
                timeout: tuple[float, float] | None = None, limit_kind: str | None = None) -> requests.Response:
        """Send one call, retrying what is transient; the final answer, or TransportError.

        `json` is encoded here (Decimal and dates allowed); `content` is a raw body (str is sent as UTF-8);
        `data` is passed to requests as is (a dict is form-encoded). `max_attempts=1` disables retries,
        e.g. for a token refresh that must not be repeated blindly. `limit_kind` is passed to the limiter's
        `slot()` (the QBO realm limiter counts "batch" requests separately).
        """
        give_back_db_connection()
        method = method.upper()
        url = self.url_for(path_or_url)
        shown_path = sanitize_path(url, params)
        send_headers = dict(headers or {})
        body = data
        if json is not None:
            body = encode_json(json)
            send_headers.setdefault("Content-Type", "application/json")
        elif content is not None:
            body = content.encode("utf-8") if isinstance(content, str) else content
        attempts = max(1, int(max_attempts or self.max_attempts))
        timeout = timeout or self.timeout
        if self.policy is not None:
            timeout = (min(timeout[0], self.timeout[0]), timeout[1])
        attempt = 0
        while True:
            attempt += 1
            started = self.clock()
            response: requests.Response | None = None
            reading: ErrorReading | None = None
            failure: tuple[str, str, bool] | None = None
            caught: BaseException | None = None
            if self.limiter is None:
                slot = nullcontext()
            else:
                slot = self.limiter.slot(limit_kind) if limit_kind else self.limiter.slot()
            try:
                if self.policy is not None:
                    self.policy.check_url(url)
                with slot:
                    response = self.session.request(method, url, params=params, data=body, headers=send_headers,
                                                    auth=auth, timeout=timeout, allow_redirects=False)
            except OutboundBlocked as exc:
                self._report_refusal(method, shown_path, attempt, started, exc.code, exc.message)
                raise
            except requests.RequestException as exc:
                failure = describe_transport_error(exc, url, self.system, timeout)
                caught = exc
                response = None
            duration_ms = (self.clock() - started) * 1000.0

            if response is not None and self.policy is not None and response.is_redirect:
                # Never followed, never shown: where a customer-given host redirects to is its own business.
                status = response.status_code
                response.close()
                name = SYSTEM_NAMES.get(self.system, self.system)
                message = (f"{name} answered with a redirect (HTTP {status}), which ml-connector never follows: "
                           f"set the {name} {self.policy.field} to the final https:// address")
                self._report_refusal(method, shown_path, attempt, started, REDIRECT_CODE, message, status=status)
                raise TransportError(message, system=self.system, status=status, code=REDIRECT_CODE,
                                     transient=False)

            if response is not None:
                if self.read_error is not None:
                    reading = self.read_error(response)
                failed = not response.ok or reading is not None
                if reading is not None and reading.transient is not None:
                    transient = reading.transient
                else:
                    transient = response.status_code in RETRY_STATUSES
                code = reading.code if reading else None
                error = None
                if failed:
                    error = (reading.message if reading and reading.message else f"HTTP {response.status_code}")
                intuit_tid = response.headers.get("intuit_tid")
                status = response.status_code
            else:
                code, error, transient = failure
                failed = True
                intuit_tid = None
                status = None

            notify(ApiCallInfo(system=self.system, method=method, path=shown_path, status=status, code=code,
                                intuit_tid=intuit_tid, attempt=attempt, duration_ms=round(duration_ms, 3),
                                tenant_id=self.tenant_id, realm_id=self.realm_id, error=error))

            if not failed:
                return response
            if not transient or attempt >= attempts:
                if response is not None:
                    return response
                raise TransportError(error, system=self.system, code=code, transient=transient) from caught
            wait = self.wait_before_retry(attempt, response, reading)
            logger.warning("%s %s %s failed (%s), attempt %d of %d, retrying in %.2f s", self.system, method,
                           shown_path, status if status is not None else code, attempt, attempts, wait)
            if wait > 0:
                self.sleep(wait)

    def _report_refusal(self, method: str, shown_path: str, attempt: int, started: float, code: str,
                        message: str, status: int | None = None) -> None:
        notify(ApiCallInfo(system=self.system, method=method, path=shown_path, status=status, code=code,
                            intuit_tid=None, attempt=attempt, duration_ms=round((self.clock() - started) * 1000.0, 3),
                            tenant_id=self.tenant_id, realm_id=self.realm_id, error=message))
        logger.warning("%s %s %s refused: %s", self.system, method, shown_path, code)


# ============================================================================ tokens for tests and fixed setups

class StaticTokenProvider:
    """A token provider around a fixed token (tests, one-off scripts).

    `renew_with` gives what a renewal answers after a 401: a callable taking the rejected token, or an
    iterable of further tokens; without it (or once exhausted) renewal raises CredentialsRejected.
    """

    def __init__(self, token: str, *, renew_with: Callable[[str], str] | Iterable[str] | None = None,
                 system: str = ""):
        self._token = token
        self._lock = threading.Lock()
        self.system = system
        self.renewals = 0
        if renew_with is None or callable(renew_with):
            self._renew_fn = renew_with
            self._next: Iterator[str] | None = None
        else:
            self._renew_fn = None
            self._next = iter(renew_with)

    def access_token(self) -> str:
        return self._token

    def renew(self, rejected: str) -> str:
        with self._lock:
            if rejected != self._token:      # someone else renewed already
                return self._token
            new: str | None = None
            if self._renew_fn is not None:
                new = self._renew_fn(rejected)
            elif self._next is not None:
                new = next(self._next, None)
            if not new:
                raise CredentialsRejected(
                    "the access token was rejected and no new one can be obtained: reconnect or fix the "
                    "credentials", system=self.system or "unknown")
            self.renewals += 1
            self._token = new
            return new


__all__ = [
    "ErrorReading", "GuardedAdapter", "HttpClient", "StaticTokenProvider",
    "describe_transport_error", "encode_json", "json_body", "parse_retry_after",
]

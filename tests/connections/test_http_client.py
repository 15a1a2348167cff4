"""The shared HTTP layer over a real socket: retries, backoff, Retry-After, transport errors, reporting.

The server is the sandboxes' own stdlib server (keep-alive, fault injection) with a tiny scripted app, so
every case crosses a real HTTP boundary; the sleep function is injected so backoff costs no time.
"""

import datetime as dt
import email.utils
import json
import logging
import socket
import threading
from decimal import Decimal

import pytest

from connections.clients.calls import call_listeners, record_calls
from connections.clients.http import ErrorReading, HttpClient, StaticTokenProvider, parse_retry_after
from connections.exceptions import CredentialsRejected, TransportError
from core.redaction import redact_text, sanitize_path
from sandbox.common.http import Request, Response, SandboxServer

SECRET = "s3cr3t-token-value-0123456789"


class ScriptApp:
    """Answers by path; counts hits so a test can script "fail once, then succeed"."""

    name = "script"

    def __init__(self):
        self.hits: dict[str, int] = {}
        self.seen: list[Request] = []
        self.lock = threading.Lock()

    def handle(self, req: Request) -> Response:
        with self.lock:
            n = self.hits[req.path] = self.hits.get(req.path, 0) + 1
            self.seen.append(req)
        tid = {"intuit_tid": f"tid-{n}"}
        if req.path == "/ok":
            return Response.json(200, {"ok": True, "query": req.query}, headers=tid)
        if req.path.startswith("/status/"):
            return Response.json(int(req.path.rsplit("/", 1)[1]), {"error": "as asked"}, headers=tid)
        if req.path == "/echo":
            return Response.json(200, {"body": req.body.decode("utf-8"),
                                       "content_type": req.headers.get("Content-Type")})
        if req.path == "/retry-after-date":
            if n == 1:
                when = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
                return Response.json(503, {"error": "maintenance"}, headers={"Retry-After": when})
            return Response.json(200, {"ok": True})
        if req.path == "/soft-fault":     # a 200 that the vendor reader says is a throttle
            if n == 1:
                return Response.json(200, {"fault": "throttled"})
            return Response.json(200, {"ok": True})
        return Response.json(404, {"error": "no such path"})

    def control(self, req, subpath):
        return Response.json(404, {})

    def throttle_response(self, retry_after):
        return Response.json(429, {"error": "slow down"})

    def reset(self, dataset):
        self.hits.clear()


@pytest.fixture
def server():
    srv = SandboxServer(ScriptApp()).start()
    yield srv
    srv.stop()


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


def client_for(server, sleeps, **kwargs):
    options = {"timeout": (2.0, 2.0), "max_attempts": 4, "backoff_base": 0.5, "backoff_cap": 30.0,
               "retry_after_cap": 60.0, "throttle_default_wait": 7.0, "sleep": sleeps, "rand": lambda: 1.0}
    options.update(kwargs)
    return HttpClient("qbo", server.url, **options)


# ---------------------------------------------------------------------------- retries and backoff

def test_it_retries_a_503_with_exponential_backoff_and_then_succeeds(server, sleeps):
    server.faults.inject("503", count=2)
    with record_calls() as calls:
        response = client_for(server, sleeps).request("GET", "/ok")
    assert response.status_code == 200
    assert server.app.hits["/ok"] == 1                     # the two 503s never reached the app
    assert [c.status for c in calls] == [503, 503, 200]
    assert [c.attempt for c in calls] == [1, 2, 3]
    assert sleeps == [0.5, 1.0]                            # base * 2^(n-1) at jitter 1.0


def test_it_retries_500_and_returns_the_last_answer_when_attempts_run_out(server, sleeps):
    server.faults.inject("500", count=10)
    response = client_for(server, sleeps, max_attempts=3).request("GET", "/ok")
    assert response.status_code == 500
    assert server.log.count(status=500) == 3
    assert len(sleeps) == 2


def test_full_jitter_draws_between_zero_and_the_capped_exponential(server, sleeps):
    http = client_for(server, sleeps, backoff_base=1.0, backoff_cap=5.0, rand=lambda: 0.5)
    assert [http.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    draws = iter([0.0, 0.99])
    http = client_for(server, sleeps, backoff_base=1.0, backoff_cap=5.0, rand=lambda: next(draws))
    assert http.backoff(3) == 0.0
    assert http.backoff(3) == pytest.approx(3.96)


def test_a_429_with_retry_after_waits_exactly_that_long(server, sleeps):
    server.faults.inject("429", retry_after=3)
    response = client_for(server, sleeps).request("GET", "/ok")
    assert response.status_code == 200
    assert sleeps == [3.0]


def test_retry_after_is_capped(server, sleeps):
    server.faults.inject("429", retry_after=3600)
    client_for(server, sleeps, retry_after_cap=12.0).request("GET", "/ok")
    assert sleeps == [12.0]


def test_a_429_without_retry_after_waits_the_default_throttle_wait(server, sleeps):
    server.faults.inject("429", count=2)
    response = client_for(server, sleeps, throttle_default_wait=7.0).request("GET", "/ok")
    assert response.status_code == 200
    assert sleeps == [7.0, 7.0]


def test_retry_after_as_an_http_date_is_honoured(server, sleeps):
    response = client_for(server, sleeps).request("GET", "/retry-after-date")
    assert response.status_code == 200
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


def test_parse_retry_after_reads_seconds_and_dates():
    now = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Wed, 25 Nov 2026 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now=now) == 0.0   # in the past: go now
    assert parse_retry_after("-5", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_4xx_answers_are_never_retried(server, sleeps, status):
    response = client_for(server, sleeps).request("GET", f"/status/{status}")
    assert response.status_code == status
    assert server.app.hits[f"/status/{status}"] == 1
    assert sleeps == []


def test_a_vendor_reader_can_mark_a_200_as_a_transient_failure(server, sleeps):
    def read_error(response):
        if response.json().get("fault") == "throttled":
            return ErrorReading(code="3001", message="throttled", transient=True, throttled=True)
        return None

    with record_calls() as calls:
        response = client_for(server, sleeps, read_error=read_error).request("GET", "/soft-fault")
    assert response.json() == {"ok": True}
    assert [(c.status, c.code) for c in calls] == [(200, "3001"), (200, None)]
    assert sleeps == [7.0]                                   # a throttle without Retry-After


def test_max_attempts_one_disables_retries_for_a_single_call(server, sleeps):
    server.faults.inject("503", count=5)
    response = client_for(server, sleeps).request("POST", "/ok", max_attempts=1)
    assert response.status_code == 503
    assert sleeps == []


# ---------------------------------------------------------------------------- transport failures

def test_a_hang_past_the_read_timeout_is_retried_then_reported_in_plain_words(server, sleeps):
    server.faults.inject("hang", count=2, seconds=2)
    with record_calls() as calls:
        with pytest.raises(TransportError) as err:
            client_for(server, sleeps, timeout=(1.0, 0.2), max_attempts=2).request("GET", "/ok")
    e = err.value
    assert e.code == "read_timeout" and e.status is None and e.transient
    assert "did not answer within 0.2 s" in str(e)
    assert [c.code for c in calls] == ["read_timeout", "read_timeout"]


def test_a_hang_once_then_an_answer_succeeds(server, sleeps):
    server.faults.inject("hang", count=1, seconds=2)
    response = client_for(server, sleeps, timeout=(1.0, 0.2)).request("GET", "/ok")
    assert response.status_code == 200


def test_a_dropped_connection_is_retried(server, sleeps):
    server.faults.inject("drop", count=1)
    with record_calls() as calls:
        response = client_for(server, sleeps).request("GET", "/ok")
    assert response.status_code == 200
    assert [c.code for c in calls] == ["dropped", None]
    assert "closed the connection" in calls[0].error


def test_a_connection_that_keeps_dropping_becomes_a_transport_error(server, sleeps):
    server.faults.inject("drop", count=10)
    with pytest.raises(TransportError) as err:
        client_for(server, sleeps, max_attempts=3).request("GET", "/ok")
    assert err.value.code == "dropped"
    assert "QuickBooks Online (127.0.0.1:" in str(err.value)
    assert len(sleeps) == 2


def test_connection_refused_says_nothing_is_listening(sleeps):
    with socket.socket() as s:           # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http = HttpClient("jaggaer", f"http://127.0.0.1:{port}", max_attempts=2, sleep=sleeps, rand=lambda: 1.0,
                      backoff_base=0.1)
    with pytest.raises(TransportError) as err:
        http.request("GET", "/x")
    assert err.value.code == "refused" and err.value.transient
    assert f"127.0.0.1:{port} refused the connection" in str(err.value)
    assert "JAGGAER base URL" in str(err.value)
    assert sleeps == [0.1]


def test_an_unknown_host_says_it_could_not_be_resolved_and_is_not_retried(sleeps):
    http = HttpClient("jaggaer", "http://no-such-host.invalid", max_attempts=3, sleep=sleeps)
    with pytest.raises(TransportError) as err:
        http.request("GET", "/x")
    assert err.value.code == "dns"
    assert str(err.value) == "could not resolve host no-such-host.invalid: check the JAGGAER base URL"
    assert sleeps == []


def test_https_to_a_plain_http_server_is_a_tls_error(server, sleeps):
    http = HttpClient("qbo", server.url.replace("http://", "https://"), max_attempts=3, sleep=sleeps)
    with pytest.raises(TransportError) as err:
        http.request("GET", "/ok")
    assert err.value.code == "tls" and not err.value.transient
    assert "secure (TLS) connection" in str(err.value)
    assert sleeps == []


def test_a_malformed_url_is_reported_as_such(sleeps):
    http = HttpClient("qbo", "", max_attempts=3, sleep=sleeps)
    with pytest.raises(TransportError) as err:
        http.request("GET", "not a url")
    assert err.value.code == "invalid_url"


def test_a_connect_timeout_is_reported_as_such(sleeps):
    # A listener that never accepts, with its backlog filled: the next SYN is left unanswered.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        http = HttpClient("qbo", f"http://127.0.0.1:{port}", max_attempts=1, timeout=(0.3, 1.0), sleep=sleeps)
        with pytest.raises(TransportError) as err:
            http.request("GET", "/x")
        assert err.value.code == "connect_timeout"
        assert "did not accept a connection within 0.3 s" in str(err.value)
    finally:
        for s in fillers:
            s.close()
        listener.close()


# ---------------------------------------------------------------------------- reporting, secrets, bodies

def test_listeners_see_every_attempt_with_duration_ids_and_intuit_tid(server, sleeps):
    server.faults.inject("503", count=1)
    http = client_for(server, sleeps)
    http.tenant_id, http.realm_id = 42, "9130"
    with record_calls() as calls:
        http.request("GET", "/ok", params={"minorversion": 75})
    first, second = calls
    assert first.status == 503 and first.error == "HTTP 503" and first.intuit_tid is None
    assert second.status == 200 and second.error is None and second.intuit_tid == "tid-1"
    assert all(c.system == "qbo" and c.method == "GET" and c.tenant_id == 42 and c.realm_id == "9130"
               for c in calls)
    assert all(c.path == "/ok?minorversion=75" and c.duration_ms >= 0 for c in calls)


def test_a_failing_listener_does_not_break_the_call(server, sleeps):
    def broken(info):
        raise RuntimeError("listener bug")

    call_listeners.append(broken)
    try:
        assert client_for(server, sleeps).request("GET", "/ok").status_code == 200
    finally:
        call_listeners.remove(broken)


def test_no_secret_reaches_listeners_logs_or_errors(server, sleeps, caplog):
    server.faults.inject("503", count=1)
    server.faults.inject("drop", count=10, path="^/echo")
    caplog.set_level(logging.DEBUG)
    http = client_for(server, sleeps, max_attempts=2)
    with record_calls() as calls:
        http.request("GET", "/ok", headers={"Authorization": f"Bearer {SECRET}"},
                     params={"access_token": SECRET, "client_secret": SECRET, "code": SECRET, "minorversion": 75})
        with pytest.raises(TransportError) as err:
            http.request("POST", f"/echo?refresh_token={SECRET}", data={"client_secret": SECRET},
                         auth=("client-id", SECRET))
    assert server.app.seen[0].headers["Authorization"] == f"Bearer {SECRET}"   # it was sent...
    everything = " ".join([repr(c) for c in calls] + [caplog.text, str(err.value), repr(err.value)])
    assert SECRET not in everything                                          # ...and never reported
    assert calls[0].path == "/ok?access_token=***&client_secret=***&code=***&minorversion=75"
    assert calls[-1].path == "/echo?refresh_token=***"


def test_sanitize_path_cuts_long_queries_and_keeps_harmless_values():
    long_sql = "select * from Vendor where DisplayName = '" + "x" * 300 + "'"
    shown = sanitize_path("https://h/v3/company/1/query?query=" + long_sql.replace(" ", "%20"),
                          {"minorversion": 75, "requestid": "abc", "state": "xyz", "token": "t"})
    assert shown.startswith("/v3/company/1/query?query=select * from Vendor where DisplayName = 'xxx")
    assert "…&minorversion=75&requestid=abc&state=***&token=***" in shown
    assert len(shown) < 250


def test_redact_text_masks_secrets_in_logged_urls_form_bodies_and_dicts():
    assert redact_text('"GET /x?access_token=abc&minorversion=75 HTTP/1.1"') == \
        '"GET /x?access_token=***&minorversion=75 HTTP/1.1"'
    assert redact_text("refresh_token=rt1&grant_type=refresh_token") == \
        "refresh_token=***&grant_type=refresh_token"
    assert redact_text("token {'access_token': 'eyJ1', \"expires_in\": 3600, \"id_token\": \"x\"}") == \
        "token {'access_token': '***', \"expires_in\": 3600, \"id_token\": \"***\"}"
    assert redact_text("select * from Vendor where DisplayName = 'Keys & Locks'") == \
        "select * from Vendor where DisplayName = 'Keys & Locks'"


def test_json_bodies_carry_decimals_as_numbers_and_raw_content_is_sent_as_is(server, sleeps):
    http = client_for(server, sleeps)
    echoed = http.request("POST", "/echo", json={"Amount": Decimal("1250.10"), "When": dt.date(2026, 11, 25)}).json()
    assert json.loads(echoed["body"]) == {"Amount": 1250.1, "When": "2026-11-25"}
    assert echoed["content_type"] == "application/json"
    echoed = http.request("POST", "/echo", content="select * from Vendor",
                          headers={"Content-Type": "application/text"}).json()
    assert echoed == {"body": "select * from Vendor", "content_type": "application/text"}


def test_one_session_keeps_the_connection_alive(server, sleeps):
    http = client_for(server, sleeps)
    for _ in range(5):
        http.request("GET", "/ok")
    assert len({r.client for r in server.app.seen}) == 1


def test_the_limiter_slot_is_held_around_every_attempt(server, sleeps):
    class CountingLimiter:
        def __init__(self):
            self.kinds = []
            self.held = 0
            self.max_held = 0

        def slot(self, kind="request"):
            limiter = self

            class _Slot:
                def __enter__(self):
                    limiter.kinds.append(kind)
                    limiter.held += 1
                    limiter.max_held = max(limiter.max_held, limiter.held)

                def __exit__(self, *exc):
                    limiter.held -= 1

            return _Slot()

    limiter = CountingLimiter()
    server.faults.inject("503", count=1)
    http = client_for(server, sleeps, limiter=limiter)
    http.request("GET", "/ok")
    http.request("POST", "/ok", limit_kind="batch")
    assert limiter.kinds == ["request", "request", "batch"]
    assert limiter.held == 0 and limiter.max_held == 1


# ---------------------------------------------------------------------------- the static token provider

def test_static_token_provider_renews_from_a_list_then_gives_up():
    tokens = StaticTokenProvider("t1", renew_with=["t2"], system="jaggaer")
    assert tokens.access_token() == "t1"
    assert tokens.renew("t1") == "t2"
    assert tokens.renew("t1") == "t2"            # someone else already renewed: the current token
    with pytest.raises(CredentialsRejected) as err:
        tokens.renew("t2")
    assert err.value.system == "jaggaer" and "t2" not in str(err.value)
    assert tokens.renewals == 1

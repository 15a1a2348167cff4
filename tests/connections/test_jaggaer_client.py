"""JaggaerClient against the JAGGAER sandbox over real HTTP: streaming pages, the dialect, the filter,
envelope errors, retries, token renewal and what listeners see."""

import datetime as dt
import logging

import pytest

from connections.clients.calls import record_calls
from connections.clients.http import HttpClient, StaticTokenProvider
from connections.clients.jaggaer import DEFAULT_DIALECT, JaggaerClient, effective_dialect
from connections.exceptions import CredentialsRejected, JaggaerError, TransportError


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


def sandbox_tokens(server) -> StaticTokenProvider:
    return StaticTokenProvider(server.app.issue_token(), renew_with=lambda rejected: server.app.issue_token(),
                               system="jaggaer")


def make_client(server, sleeps, *, dialect=None, tokens=None, **http_options):
    options = {"timeout": (2.0, 5.0), "max_attempts": 3, "backoff_base": 0.01, "backoff_cap": 0.05,
               "throttle_default_wait": 0.25, "retry_after_cap": 2.0, "sleep": sleeps}
    options.update(http_options)
    return JaggaerClient(api_base_url=server.url, tokens=tokens or sandbox_tokens(server), dialect=dialect,
                         http=HttpClient("jaggaer", **options), tenant_id=11)


@pytest.fixture
def jaggaer(jaggaer_sandbox, sleeps):
    client = make_client(jaggaer_sandbox, sleeps, dialect={"page_size": 15})
    yield client
    client.close()


def ids(pages, field="companyId"):
    return [r[field] for page in pages for r in page]


# ---------------------------------------------------------------------------- paging and the filter

def test_it_pages_through_every_supplier_in_list_order(jaggaer, jaggaer_sandbox):
    pages = list(jaggaer.iter_pages("suppliers"))
    assert [len(p) for p in pages] == [15, 15, 10]
    assert ids(pages) == [r["companyId"] for r in jaggaer_sandbox.app.records("suppliers")]
    assert jaggaer.request_counts == {"list": 3}                     # stopped at totRecords, no empty page


@pytest.mark.parametrize("total", ["about 40", 12.5, None, [40]])
def test_a_total_that_is_not_a_count_is_not_trusted_the_pages_are_read_to_the_first_empty_one(jaggaer,
                                                                                            jaggaer_sandbox, total):
    """JAGGAER's answers are edited on their way in (the HTTP boundary): their `totRecords` is not a count."""
    import json

    send = jaggaer._send

    def edited(token, path, params):
        response = send(token, path, params)
        body = response.json()
        body["totRecords"] = total
        response._content = json.dumps(body).encode()
        response.__dict__.pop("_mlc_json", None)       # parsed once already: parsed again from the new body
        return response

    jaggaer._send = edited
    pages = list(jaggaer.iter_pages("suppliers"))
    assert [len(p) for p in pages] == [15, 15, 10]
    assert ids(pages) == [r["companyId"] for r in jaggaer_sandbox.app.records("suppliers")]
    assert jaggaer.request_counts == {"list": 4}                     # the empty page ends it
    assert "suppliers" not in jaggaer.page_totals


def test_read_ahead_asks_for_the_next_pages_before_handing_one_over_and_never_past_the_total(jaggaer,
                                                                                            jaggaer_sandbox):
    with record_calls() as calls:
        pages = jaggaer.iter_pages("suppliers", read_ahead=30)
        first = next(pages)
        assert len(first) == 15 and jaggaer.request_counts == {"list": 3}     # pages 2 and 3 asked for
        rest = list(pages)
    assert [len(p) for p in [first, *rest]] == [15, 15, 10]
    assert ids([first, *rest]) == [r["companyId"] for r in jaggaer_sandbox.app.records("suppliers")]
    assert jaggaer.request_counts == {"list": 3}                     # none past totRecords
    assert [c.status for c in calls] == [200, 200, 200]             # told on this thread, each once


def test_read_ahead_asks_again_from_where_a_shorter_page_ended(jaggaer, jaggaer_sandbox):
    """JAGGAER's second page comes one row short (a record changed while paging, or a server's own cap): the
    page asked for ahead from row 31 is dropped and asked for again from row 30; no record is missed."""
    import json

    send = jaggaer._send

    def second_page_short(token, path, params):
        response = send(token, path, params)
        if params.get("start") == 16:
            body = response.json()
            body["returnCompanyData"] = body["returnCompanyData"][:-1]
            response._content = json.dumps(body).encode()
            response.__dict__.pop("_mlc_json", None)
        return response

    jaggaer._send = second_page_short
    pages = list(jaggaer.iter_pages("suppliers", read_ahead=30))
    assert [len(p) for p in pages] == [15, 14, 11]
    assert ids(pages) == [r["companyId"] for r in jaggaer_sandbox.app.records("suppliers")]
    assert jaggaer.request_counts == {"list": 4}                     # the dropped one, and from row 30 again


def test_a_reader_that_stops_early_waits_for_the_pages_asked_for_and_tells_their_calls(jaggaer, jaggaer_sandbox):
    with record_calls() as calls:
        pages = jaggaer.iter_pages("suppliers", read_ahead=30)
        next(pages)
        pages.close()
    assert len(calls) == 3 and jaggaer_sandbox.log.count() == 3


def test_pages_are_fetched_only_as_they_are_consumed(jaggaer, jaggaer_sandbox):
    pages = jaggaer.iter_pages("invoices")
    assert jaggaer_sandbox.log.count() == 0
    first = next(pages)
    assert len(first) == 15 and jaggaer_sandbox.log.count() == 1
    next(pages)
    assert jaggaer_sandbox.log.count() == 2
    pages.close()


def test_a_server_capping_the_page_size_loses_no_rows(jaggaer_sandbox, sleeps):
    jaggaer_sandbox.app.max_page_size = 7
    client = make_client(jaggaer_sandbox, sleeps, dialect={"page_size": 200})
    pages = list(client.iter_pages("purchase_orders"))
    assert all(len(p) <= 7 for p in pages)
    assert ids(pages, "poId") == [r["poId"] for r in jaggaer_sandbox.app.records("purchase_orders")]


def test_since_filters_on_the_dialect_field_in_utc(jaggaer, jaggaer_sandbox):
    app = jaggaer_sandbox.app
    app.advance_clock(3600)
    mark = dt.datetime.fromisoformat(app.now())
    renamed = app.rename_supplier(app.records("suppliers")[0]["companyId"], "Renamed Foundry")
    added = app.add_supplier("Brand New Supplies")
    with record_calls() as calls:
        pages = list(jaggaer.iter_pages("suppliers", since=mark.astimezone(dt.timezone(dt.timedelta(hours=-8)))))
    assert ids(pages) == [renamed["companyId"], added["companyId"]]
    assert f"flt=LASTMODTIME>={mark.strftime('%Y-%m-%dT%H:%M:%SZ')}" in calls[0].path
    with pytest.raises(ValueError):
        next(jaggaer.iter_pages("suppliers", since=dt.datetime(2026, 11, 1)))


def test_an_entity_with_nothing_changed_yields_no_pages(jaggaer, jaggaer_sandbox):
    later = dt.datetime.fromisoformat(jaggaer_sandbox.app.now()) + dt.timedelta(days=1)
    assert list(jaggaer.iter_pages("departments", since=later)) == []
    assert jaggaer.request_counts == {"list": 1}


def test_every_entity_reads_with_the_default_dialect(jaggaer_sandbox, sleeps):
    client = make_client(jaggaer_sandbox, sleeps)
    sizes = {entity: sum(len(p) for p in client.iter_pages(entity)) for entity in DEFAULT_DIALECT["paths"]}
    assert sizes == {entity: jaggaer_sandbox.app.count(entity) for entity in DEFAULT_DIALECT["paths"]}


def test_overridden_paths_and_filter_field_are_used(jaggaer_sandbox, sleeps):
    jaggaer_sandbox.app.set_paths({"purchase_orders": "/custom/api/v2/orders"})
    client = make_client(jaggaer_sandbox, sleeps, dialect={
        "paths": {"purchase_orders": "/custom/api/v2/orders"}, "filter_field": "LASTUPDATE", "page_size": 50})
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    with record_calls() as calls:
        pages = list(client.iter_pages("purchase_orders", since=since))
    assert sum(len(p) for p in pages) == jaggaer_sandbox.app.count("purchase_orders")
    assert calls[0].path.startswith("/custom/api/v2/orders?start=1&size=50&flt=LASTUPDATE>=2000-01-01T00:00:00Z")


def test_a_wrong_list_key_is_an_error_that_names_it(jaggaer_sandbox, sleeps):
    client = make_client(jaggaer_sandbox, sleeps, dialect={"list_keys": {"suppliers": "companies"}})
    with pytest.raises(JaggaerError) as err:
        next(client.iter_pages("suppliers"))
    assert err.value.code == "no_list" and "'companies'" in str(err.value)


def test_a_non_zero_return_code_raises_with_its_code_in_our_words(jaggaer_sandbox, sleeps):
    client = make_client(jaggaer_sandbox, sleeps, dialect={"filter_field": "CREATED"})
    with record_calls() as calls:
        with pytest.raises(JaggaerError) as err:
            next(client.iter_pages("suppliers", since=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    e = err.value
    assert (e.status, e.code, e.transient) == (200, "101", False)
    # The base URL is the customer's: the remote's returnMessage is never repeated, its returnCode is.
    assert e.message == "JAGGAER answered with error returnCode 101 (HTTP 200)"
    assert "Invalid filter field" not in str(e)
    assert [(c.status, c.code) for c in calls] == [(200, "101")]
    assert "Invalid filter field" not in (calls[0].error or "")


def test_a_wrong_path_is_a_404_that_says_so(jaggaer_sandbox, sleeps):
    client = make_client(jaggaer_sandbox, sleeps, dialect={"paths": {"suppliers": "/j1p/api/nope"}})
    with pytest.raises(JaggaerError) as err:
        next(client.iter_pages("suppliers"))
    assert (err.value.status, err.value.code) == (404, "404")
    assert "check the base URL and the endpoint paths" in str(err.value)
    assert "No resource at" not in str(err.value)


def test_unknown_entities_are_refused(jaggaer):
    with pytest.raises(ValueError):
        next(jaggaer.iter_pages("contracts"))


# ---------------------------------------------------------------------------- single records

def test_get_reads_one_record(jaggaer, jaggaer_sandbox):
    po = jaggaer_sandbox.app.records("purchase_orders")[3]
    assert jaggaer.get("purchase_orders", po["poId"]) == po
    assert jaggaer.request_counts == {"single": 1}


def test_get_of_a_missing_record_is_a_404_error(jaggaer):
    with pytest.raises(JaggaerError) as err:
        jaggaer.get("suppliers", "C-00000")
    assert (err.value.status, err.value.code, err.value.transient) == (404, "404", False)
    assert "C-00000" in err.value.message


def test_count_is_a_one_row_call(jaggaer, jaggaer_sandbox):
    assert jaggaer.count("gl_accounts") == jaggaer_sandbox.app.count("gl_accounts")
    assert "size=1" in jaggaer_sandbox.log.entries()[0]["path"] or jaggaer.request_counts == {"list": 1}


# ---------------------------------------------------------------------------- tokens

def test_a_401_gets_a_new_token_once_and_repeats_the_call(jaggaer, jaggaer_sandbox):
    jaggaer_sandbox.app.expire_tokens()
    with record_calls() as calls:
        pages = list(jaggaer.iter_pages("departments"))
    assert sum(len(p) for p in pages) == jaggaer_sandbox.app.count("departments")
    assert jaggaer.tokens.renewals == 1
    assert [c.status for c in calls] == [401, 200]


def test_a_token_expiring_mid_stream_is_renewed_and_paging_continues(jaggaer, jaggaer_sandbox):
    pages = jaggaer.iter_pages("suppliers")
    first = next(pages)
    jaggaer_sandbox.app.expire_tokens()
    rest = list(pages)
    assert len(first) + sum(len(p) for p in rest) == 40
    assert jaggaer.tokens.renewals == 1


def test_a_second_401_means_the_credentials_are_rejected(jaggaer_sandbox, sleeps):
    client = make_client(jaggaer_sandbox, sleeps, tokens=StaticTokenProvider("bad", renew_with=["worse"],
                                                                            system="jaggaer"))
    with pytest.raises(CredentialsRejected) as err:
        client.get("suppliers", "C-10001")
    assert err.value.system == "jaggaer" and err.value.reason == "credentials_rejected"
    assert jaggaer_sandbox.log.count(status=401) == 2


# ---------------------------------------------------------------------------- retries

def test_a_429_without_retry_after_waits_the_default_then_succeeds(jaggaer, jaggaer_sandbox, sleeps):
    jaggaer_sandbox.faults.inject("429", count=1)
    with record_calls() as calls:
        assert len(next(jaggaer.iter_pages("suppliers"))) == 15
    assert sleeps == [0.25]
    assert [(c.status, c.code) for c in calls] == [(429, "429"), (200, None)]


def test_a_429_with_retry_after_waits_that_long(jaggaer, jaggaer_sandbox, sleeps):
    jaggaer_sandbox.faults.inject("429", count=1, retry_after=2)
    next(jaggaer.iter_pages("suppliers"))
    assert sleeps == [2.0]


@pytest.mark.parametrize("kind", ["500", "503", "drop"])
def test_server_errors_and_dropped_connections_are_retried_mid_stream(jaggaer, jaggaer_sandbox, kind):
    jaggaer_sandbox.faults.inject(kind, count=2, path="/companyprofiles$")
    pages = jaggaer.iter_pages("suppliers")
    first = next(pages)
    rest = list(pages)
    assert len(first) + sum(len(p) for p in rest) == 40


def test_persistent_503_html_becomes_a_transient_error(jaggaer, jaggaer_sandbox):
    jaggaer_sandbox.faults.inject("503", count=5)
    with pytest.raises(JaggaerError) as err:
        jaggaer.get("suppliers", "C-10001")
    assert (err.value.status, err.value.transient) == (503, True)
    assert "not available right now" in str(err.value)
    assert jaggaer_sandbox.log.count(status=503) == 3


def test_a_hang_past_the_read_timeout_is_retried_then_reported(jaggaer_sandbox, sleeps):
    client = make_client(jaggaer_sandbox, sleeps, timeout=(1.0, 0.3), max_attempts=2)
    jaggaer_sandbox.faults.inject("hang", count=1, seconds=2)
    assert client.count("suppliers") == 40
    jaggaer_sandbox.faults.inject("hang", count=2, seconds=2)
    with pytest.raises(TransportError) as err:
        client.count("suppliers")
    assert err.value.code == "read_timeout"
    assert str(err.value).startswith("JAGGAER (127.0.0.1:")


def test_listeners_see_every_attempt_and_never_the_token(jaggaer, jaggaer_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    old = jaggaer.tokens.access_token()
    jaggaer_sandbox.app.expire_tokens()
    jaggaer_sandbox.faults.inject("500", count=1, path="/departments$")
    with record_calls() as calls:
        list(jaggaer.iter_pages("departments"))
    new = jaggaer.tokens.access_token()
    assert [c.status for c in calls] == [500, 401, 200]       # faults strike before the token check
    assert all(c.system == "jaggaer" and c.tenant_id == 11 and c.realm_id is None for c in calls)
    text = " ".join(repr(c) for c in calls) + caplog.text
    assert old not in text and new not in text


# ---------------------------------------------------------------------------- the dialect

def test_effective_dialect_merges_overrides_deeply():
    dialect = effective_dialect({"paths": {"invoices": "/x/invoices"}, "page_size": 50, "gl_segment": "GLAccount"})
    assert dialect["paths"]["invoices"] == "/x/invoices"
    assert dialect["paths"]["suppliers"] == DEFAULT_DIALECT["paths"]["suppliers"]
    assert (dialect["page_size"], dialect["gl_segment"], dialect["department_segment"]) == (
        50, "GLAccount", "DepartmentCode")
    assert effective_dialect(None) == DEFAULT_DIALECT
    assert DEFAULT_DIALECT["paths"]["invoices"] == "/j1p/api/public/ji/v1/invoices"     # defaults untouched


@pytest.mark.parametrize("overrides", [
    {"page_sise": 10},
    {"paths": {"contracts": "/x"}},
    {"paths": {"suppliers": "no-slash"}},
    {"paths": "/x"},
    {"page_size": 0},
    {"page_size": "100"},
    {"filter_field": ""},
    {"params": {"start": ""}},
])
def test_effective_dialect_refuses_bad_settings(overrides):
    with pytest.raises(ValueError):
        effective_dialect(overrides)

"""QboClient against the QBO sandbox over real HTTP: reads, paging, escaping, writes, batch, CDC,
faults in every shape, retries, token renewal and what listeners see."""

import datetime as dt
import logging
import re
from decimal import Decimal

import pytest

from connections.clients import calls
from connections.clients.calls import record_calls
from connections.clients.http import HttpClient, StaticTokenProvider
from connections.clients.qbo import BatchItem, QboClient, escape_query_value
from connections.exceptions import ConnectionFailure, NeedsReauthorization, QboFault, TransportError
from sandbox.qbo.app import DEFAULT_REALM


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


def sandbox_tokens(server, **kwargs) -> StaticTokenProvider:
    """A provider holding a real sandbox access token; renewal asks the sandbox for a fresh grant."""
    return StaticTokenProvider(server.app.issue_tokens()["access_token"],
                               renew_with=lambda rejected: server.app.issue_tokens()["access_token"],
                               system="qbo", **kwargs)


def make_client(server, sleeps, *, tokens=None, minor_version=75, realm_id=DEFAULT_REALM, **http_options):
    options = {"timeout": (2.0, 5.0), "max_attempts": 3, "backoff_base": 0.01, "backoff_cap": 0.05,
               "throttle_default_wait": 0.25, "retry_after_cap": 1.0, "sleep": sleeps}
    options.update(http_options)
    return QboClient(api_base=server.url, realm_id=realm_id, tokens=tokens or sandbox_tokens(server),
                     minor_version=minor_version, http=HttpClient("qbo", **options), tenant_id=7)


@pytest.fixture
def qbo(qbo_sandbox, sleeps):
    client = make_client(qbo_sandbox, sleeps)
    yield client
    client.close()


# ---------------------------------------------------------------------------- reads

def test_it_reads_company_info_with_the_minor_version_the_sandbox_insists_on(qbo, qbo_sandbox):
    info = qbo.company_info()
    assert info["CompanyName"]
    assert qbo.request_counts == {"single": 1}
    assert qbo_sandbox.log.count(method="GET", status=200) == 1


def test_an_unsupported_minor_version_is_a_permanent_fault(qbo_sandbox, sleeps):
    client = make_client(qbo_sandbox, sleeps, minor_version=70)
    with pytest.raises(QboFault) as err:
        client.company_info()
    assert err.value.code == "2010" and err.value.status == 400 and not err.value.transient
    assert "minorversion=70" in err.value.detail
    assert qbo_sandbox.log.count() == 1                                  # not retried


def test_it_reads_one_entity_by_id(qbo, qbo_sandbox):
    vendor = qbo_sandbox.app.state("Vendor")[0]
    assert qbo.read("Vendor", vendor["Id"])["DisplayName"] == vendor["DisplayName"]


def test_reading_a_missing_object_is_fault_610(qbo):
    with pytest.raises(QboFault) as err:
        qbo.read("Vendor", "999999")
    assert err.value.code == "610" and not err.value.transient
    assert err.value.intuit_tid


def test_query_pages_reads_every_row_past_the_1000_row_cap(qbo, qbo_sandbox):
    existing = len(qbo_sandbox.app.state("Vendor"))
    for n in range(1100 - existing):
        qbo_sandbox.app.create("Vendor", {"DisplayName": f"Paging Vendor {n:04d}"})
    with record_calls() as calls:
        pages = list(qbo.query_pages("Vendor"))
    assert [len(p) for p in pages] == [1000, 100]
    ids = [v["Id"] for page in pages for v in page]
    assert len(set(ids)) == 1100
    assert qbo.count("Vendor") == 1100
    assert qbo.request_counts["query"] == 3
    assert "startposition 1001 maxresults 1000" in calls[1].path


def test_query_pages_stops_at_a_short_page_and_honours_where_and_page_size(qbo, qbo_sandbox):
    for n in range(5):
        qbo_sandbox.app.create("Vendor", {"DisplayName": f"Zeta Supply {n}"})
    pages = list(qbo.query_pages("Vendor", "DisplayName LIKE 'Zeta Supply%'", page_size=2))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(v["DisplayName"] for p in pages for v in p) == [f"Zeta Supply {n}" for n in range(5)]
    assert list(qbo.query_pages("Vendor", "where DisplayName = 'Nobody At All'")) == []
    with pytest.raises(ValueError):
        next(qbo.query_pages("Vendor", page_size=1001))


@pytest.mark.parametrize("name", ["Adam's Candy Shop", "O'Brien & Sons' Forge", "Back\\slash Tools", "Ends with \\"])
def test_escaped_values_find_names_with_apostrophes_and_backslashes(qbo, qbo_sandbox, name):
    created = qbo.create("Vendor", {"DisplayName": name})
    rows = qbo.query(f"select * from Vendor where DisplayName = '{escape_query_value(name)}'").get("Vendor")
    assert [r["Id"] for r in rows] == [created["Id"]]


def test_escape_query_value_escapes_backslash_before_quote():
    assert escape_query_value("Adam's") == "Adam\\'s"
    assert escape_query_value("a\\'b") == "a\\\\\\'b"


def test_a_long_query_is_posted_as_application_text(qbo, qbo_sandbox):
    vendor = qbo_sandbox.app.state("Vendor")[0]
    names = [f"'No Such Vendor Number {n:05d}'" for n in range(200)]
    names.append(f"'{escape_query_value(vendor['DisplayName'])}'")
    sql = f"select * from Vendor where DisplayName IN ({', '.join(names)})"
    assert len(sql) > 4000
    rows = qbo.query(sql)["Vendor"]
    assert [r["Id"] for r in rows] == [vendor["Id"]]
    assert qbo_sandbox.log.count(method="POST") == 1


def test_a_query_the_parser_refuses_is_fault_4000(qbo):
    with pytest.raises(QboFault) as err:
        qbo.query("select * from Vendor where")
    assert err.value.code in ("4000", "4001") and err.value.status == 400


def test_cdc_returns_changes_per_entity(qbo, qbo_sandbox):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    created = qbo.create("Vendor", {"DisplayName": "Fresh Change Vendor"})
    changes = qbo.cdc(["Vendor", "Department"], since)
    assert set(changes) == {"Vendor", "Department"}
    assert created["Id"] in [v["Id"] for v in changes["Vendor"]]
    with pytest.raises(ValueError):
        qbo.cdc(["Vendor"], dt.datetime(2026, 11, 1))        # naive: which zone?


# ---------------------------------------------------------------------------- writes

def test_create_with_a_requestid_is_done_once_even_when_sent_twice(qbo, qbo_sandbox):
    first = qbo.create("Vendor", {"DisplayName": "Idempotent Castings"}, requestid="req-0001")
    second = qbo.create("Vendor", {"DisplayName": "Idempotent Castings"}, requestid="req-0001")
    assert first["Id"] == second["Id"]
    assert len(qbo_sandbox.app.find("Vendor", DisplayName="Idempotent Castings")) == 1
    with pytest.raises(ValueError):
        qbo.create("Vendor", {"DisplayName": "x"}, requestid="r" * 51)


def test_a_dropped_create_is_retried_with_the_callers_requestid(qbo, qbo_sandbox):
    qbo_sandbox.faults.inject("drop", count=1, path="/vendor$")
    with record_calls() as calls:
        vendor = qbo.create("Vendor", {"DisplayName": "Dropped Once Ltd"}, requestid="req-drop-1")
    assert vendor["DisplayName"] == "Dropped Once Ltd"
    assert [c.code for c in calls] == ["dropped", None]
    assert all("requestid=req-drop-1" in c.path for c in calls)
    assert len(qbo_sandbox.app.find("Vendor", DisplayName="Dropped Once Ltd")) == 1


def test_writes_without_a_requestid_get_one_that_their_retries_repeat(qbo, qbo_sandbox):
    # The sandbox drops before doing the work; the replay below shows what QBO does when the work was done.
    qbo_sandbox.faults.inject("drop", count=1, path="/batch$")
    qbo_sandbox.faults.inject("drop", count=1, path="/vendor$")
    with record_calls() as calls:
        vendor = qbo.create("Vendor", {"DisplayName": "Lost Answer One"})
        qbo.batch([BatchItem("1", "create", "Vendor", {"DisplayName": "Lost Answer Two"})])
    assert [c.code for c in calls] == ["dropped", None, "dropped", None]
    assert calls[0].path == calls[1].path != calls[2].path == calls[3].path    # each retry kept its requestid
    requestid = re.search(r"requestid=(\w+)", calls[1].path).group(1)
    assert qbo.create("Vendor", {"DisplayName": "Lost Answer One"}, requestid=requestid)["Id"] == vendor["Id"]
    assert len(qbo_sandbox.app.find("Vendor", DisplayName="Lost Answer One")) == 1
    assert len(qbo_sandbox.app.find("Vendor", DisplayName="Lost Answer Two")) == 1


def test_update_is_sparse_and_a_stale_synctoken_is_5010(qbo):
    vendor = qbo.create("Vendor", {"DisplayName": "Sparse Update Co", "CompanyName": "Sparse Update Company"})
    updated = qbo.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "AcctNum": "V-77"})
    assert updated["AcctNum"] == "V-77"
    assert updated["CompanyName"] == "Sparse Update Company"          # sparse: untouched fields survive
    with pytest.raises(QboFault) as err:
        qbo.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "AcctNum": "V-78"})
    assert err.value.code == "5010" and err.value.is_stale_object and not err.value.transient
    with pytest.raises(ValueError):
        qbo.update("Vendor", {"Id": vendor["Id"], "AcctNum": "x"})


def test_a_duplicate_name_is_fault_6240_with_its_intuit_tid(qbo, qbo_sandbox):
    existing = qbo_sandbox.app.state("Vendor")[0]["DisplayName"]
    with pytest.raises(QboFault) as err:
        qbo.create("Vendor", {"DisplayName": existing})
    e = err.value
    assert (e.code, e.status, e.transient, e.fault_type) == ("6240", 400, False, "ValidationFault")
    assert e.message == "Duplicate Name Exists Error" and "already exists" in e.detail
    assert e.intuit_tid and e.errors[0]["code"] == "6240"
    assert qbo_sandbox.log.count(method="POST") == 1                 # permanent: not retried


# ---------------------------------------------------------------------------- batch

def test_a_batch_returns_per_item_results_and_faults_without_raising(qbo, qbo_sandbox):
    existing = qbo_sandbox.app.state("Vendor")[0]
    items = [
        BatchItem("1", "create", "Vendor", {"DisplayName": "Batch Vendor One"}),
        BatchItem("2", "create", "Vendor", {"DisplayName": existing["DisplayName"]}),
        BatchItem("3", "update", "Vendor", {"Id": existing["Id"], "SyncToken": existing["SyncToken"],
                                            "AcctNum": "B-3"}),
        BatchItem("4", "query", query="select * from Vendor where DisplayName = 'Batch Vendor One'"),
    ]
    results = qbo.batch(items, requestid="batch-0001")
    assert [r.bid for r in results] == ["1", "2", "3", "4"]
    assert results[0].ok and results[0].entity["DisplayName"] == "Batch Vendor One"
    assert not results[1].ok and results[1].fault.code == "6240" and results[1].entity is None
    assert results[2].entity["AcctNum"] == "B-3"
    assert results[2].entity["DisplayName"] == existing["DisplayName"]   # update items are sparse
    assert results[3].query_response["Vendor"][0]["Id"] == results[0].entity["Id"]
    assert qbo.request_counts == {"batch": 1}
    again = qbo.batch(items, requestid="batch-0001")                     # replay: nothing done twice
    assert again[0].entity["Id"] == results[0].entity["Id"]
    assert len(qbo_sandbox.app.find("Vendor", DisplayName="Batch Vendor One")) == 1


def test_a_batch_can_delete_a_bill_and_cdc_reports_the_deletion(qbo, qbo_sandbox):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    vendor = qbo_sandbox.app.state("Vendor")[0]
    expense = qbo_sandbox.app.find("Account", Name="Raw materials")[0]
    bill = qbo.create("Bill", {"VendorRef": {"value": vendor["Id"]}, "Line": [{
        "DetailType": "AccountBasedExpenseLineDetail", "Amount": Decimal("125.50"),
        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]})
    assert bill["TotalAmt"] == 125.5
    [result] = qbo.batch([BatchItem("d1", "delete", "Bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]})])
    assert result.ok, result.fault
    assert result.entity == {"domain": "QBO", "status": "Deleted", "Id": bill["Id"]}
    changes = qbo.cdc(["Bill"], since)["Bill"]
    assert [(b["Id"], b.get("status")) for b in changes] == [(bill["Id"], "Deleted")]


def test_a_batch_refuses_more_than_the_batch_size_before_sending(qbo, qbo_sandbox, settings):
    settings.QBO_BATCH_SIZE = 30
    items = [BatchItem(str(n), "create", "Vendor", {"DisplayName": f"V{n}"}) for n in range(31)]
    with pytest.raises(ValueError):
        qbo.batch(items)
    with pytest.raises(ValueError):
        qbo.batch(items[:2], requestid="r" * 37)
    with pytest.raises(ValueError):
        qbo.batch([BatchItem("1", "create", "Vendor", {}), BatchItem("1", "create", "Vendor", {})])
    with pytest.raises(ValueError):
        qbo.batch([BatchItem("12345678901", "create", "Vendor", {"DisplayName": "x"})])
    assert qbo_sandbox.log.count() == 0
    assert qbo.batch([]) == []


# ---------------------------------------------------------------------------- faults and retries

def test_the_xml_throttle_fault_is_retried_after_the_default_wait(qbo, qbo_sandbox, sleeps):
    qbo_sandbox.faults.inject("429", count=2)
    with record_calls() as calls:
        assert qbo.company_info()["CompanyName"]
    assert [(c.status, c.code) for c in calls] == [(429, "3001"), (429, "3001"), (200, None)]
    assert sleeps == [0.25, 0.25]


def test_a_throttle_with_retry_after_waits_that_long(qbo, qbo_sandbox, sleeps):
    qbo_sandbox.faults.inject("429", retry_after=1)
    qbo.company_info()
    assert sleeps == [1.0]


def test_a_throttle_that_outlasts_the_retries_raises_the_parsed_xml_fault(qbo, qbo_sandbox):
    qbo_sandbox.faults.inject("429", count=5)
    with pytest.raises(QboFault) as err:
        qbo.company_info()
    e = err.value
    assert (e.status, e.code, e.transient, e.is_throttled, e.fault_type) == (429, "3001", True, True, "SERVICE")
    assert "ThrottleExceeded" in e.message and e.detail == "The request limit was reached."
    assert e.intuit_tid


def test_the_sandbox_rate_limit_throttle_is_parsed_too(qbo_sandbox, sleeps):
    qbo_sandbox.app.set_limits(requests_per_minute=2)
    client = make_client(qbo_sandbox, sleeps, max_attempts=1)
    client.company_info()
    client.company_info()
    with pytest.raises(QboFault) as err:
        client.company_info()
    assert err.value.code == "3001" and err.value.status == 429


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_are_retried(qbo, qbo_sandbox, kind, sleeps):
    qbo_sandbox.faults.inject(kind, count=2)
    assert qbo.company_info()["CompanyName"]
    assert len(sleeps) == 2 and all(0 <= s <= 0.05 for s in sleeps)


def test_a_server_error_that_persists_is_a_transient_fault(qbo, qbo_sandbox):
    qbo_sandbox.faults.inject("500", count=5)
    with pytest.raises(QboFault) as err:
        qbo.company_info()
    assert (err.value.status, err.value.code, err.value.transient) == (500, "10000", True)
    qbo_sandbox.faults.inject("503", count=5)
    with pytest.raises(QboFault) as err:
        qbo.company_info()
    assert (err.value.status, err.value.code, err.value.transient) == (503, None, True)
    assert "HTTP 503" in str(err.value)


def test_a_hang_past_the_read_timeout_is_retried(qbo_sandbox, sleeps):
    client = make_client(qbo_sandbox, sleeps, timeout=(1.0, 0.3))
    qbo_sandbox.faults.inject("hang", count=1, seconds=2)
    assert client.company_info()["CompanyName"]
    qbo_sandbox.faults.inject("hang", count=3, seconds=2)
    with pytest.raises(TransportError) as err:
        client.company_info()
    assert err.value.code == "read_timeout" and "QuickBooks Online" in str(err.value)


def test_a_forbidden_company_is_the_gateway_fault_3100(qbo_sandbox, sleeps):
    client = make_client(qbo_sandbox, sleeps, realm_id="123456789")
    with pytest.raises(QboFault) as err:
        client.company_info()
    e = err.value
    assert (e.status, e.code, e.fault_type, e.transient) == (403, "3100", "AUTHORIZATION", False)
    assert "AuthorizationFailure" in e.message


# ---------------------------------------------------------------------------- tokens

def test_a_401_renews_the_token_once_and_repeats_the_call(qbo, qbo_sandbox):
    qbo_sandbox.app.expire_tokens()
    with record_calls() as calls:
        assert qbo.company_info()["CompanyName"]
    assert qbo.tokens.renewals == 1
    assert [(c.status, c.code) for c in calls] == [(401, "3200"), (200, None)]
    assert qbo.request_counts == {"single": 1}


def test_a_401_after_renewal_needs_reauthorization_and_stops(qbo_sandbox, sleeps):
    tokens = StaticTokenProvider("not-a-token", renew_with=["still-not-a-token"], system="qbo")
    client = make_client(qbo_sandbox, sleeps, tokens=tokens)
    with pytest.raises(NeedsReauthorization) as err:
        client.company_info()
    assert err.value.system == "qbo" and err.value.reason == "needs_reauthorization"
    assert qbo_sandbox.log.count(status=401) == 2 and sleeps == []


def test_a_provider_that_cannot_renew_stops_the_call_with_its_connection_failure(qbo_sandbox, sleeps):
    client = make_client(qbo_sandbox, sleeps, tokens=StaticTokenProvider("expired", system="qbo"))
    with pytest.raises(ConnectionFailure):
        client.company_info()
    assert qbo_sandbox.log.count(status=401) == 1


def test_listeners_see_every_attempt_and_never_the_token(qbo, qbo_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    first_token = qbo.tokens.access_token()
    qbo_sandbox.app.expire_tokens()
    qbo_sandbox.faults.inject("503", count=1, path="/query")
    with record_calls() as calls:
        qbo.company_info()
        qbo.query("select * from Vendor where DisplayName = 'Adam\\'s'")
    tokens = {first_token, qbo.tokens.access_token()}
    assert len(tokens) == 2
    assert [c.status for c in calls] == [401, 200, 503, 200]
    assert all(c.realm_id == DEFAULT_REALM and c.tenant_id == 7 and c.system == "qbo" for c in calls)
    assert all("minorversion=75" in c.path for c in calls)
    assert calls[2].path.startswith(f"/v3/company/{DEFAULT_REALM}/query?query=select * from Vendor")
    assert all(c.intuit_tid for c in calls)
    text = " ".join(repr(c) for c in calls) + caplog.text
    assert not any(t in text for t in tokens)


def test_preferences_name_the_home_currency_and_multicurrency(qbo_sandbox):
    from connections.clients.http import StaticTokenProvider
    from connections.clients.qbo import QboClient

    realm = qbo_sandbox.app.default_realm_id
    token = qbo_sandbox.app.issue_tokens(realm)["access_token"]
    client = QboClient(api_base=qbo_sandbox.url, realm_id=realm, tokens=StaticTokenProvider(token, system="qbo"))
    assert client.preferences()["CurrencyPrefs"]["MultiCurrencyEnabled"] is False
    qbo_sandbox.app.set_multicurrency(True, realm_id=realm)
    assert client.preferences()["CurrencyPrefs"]["MultiCurrencyEnabled"] is True


def test_when_the_batch_window_is_spent_writes_go_one_request_each(qbo_sandbox, sleeps):
    import uuid

    from connections.clients.limiter import Budget, RealmLimiter

    limiter = RealmLimiter(realm_id=f"spill-{uuid.uuid4().hex[:8]}", budget=Budget(batches_per_minute=2))
    client = make_client(qbo_sandbox, sleeps, limiter=limiter)
    qbo_sandbox.log.clear()
    for n in range(3):
        answers = client.batch([BatchItem(bid=f"b{n}{i}", operation="create", entity="Vendor",
                                          payload={"DisplayName": f"Spill Vendor {n}-{i}"}) for i in range(2)],
                               requestid=f"spill-{n}")
        assert [a.entity["DisplayName"] for a in answers] == [f"Spill Vendor {n}-0", f"Spill Vendor {n}-1"]
    posts = [e["endpoint"] for e in qbo_sandbox.log.entries() if e["method"] == "POST"]
    assert posts.count("/v3/company/{realm}/batch") == 2
    assert posts.count("/v3/company/{realm}/vendor") == 2
    again = client.batch([BatchItem(bid="b20", operation="create", entity="Vendor",
                                    payload={"DisplayName": "Spill Vendor 2-0"})], requestid="spill-2")
    assert again[0].entity["Id"] == answers[0].entity["Id"]  # the same requestid answers the same vendor
    fault = client.batch([BatchItem(bid="x", operation="create", entity="Vendor",
                                    payload={"DisplayName": "Spill Vendor 0-0"})], requestid="spill-dup")
    assert fault[0].fault is not None and fault[0].fault.code == "6240"
    client.close()


def test_batches_queued_for_the_helper_thread_count_against_the_batch_window(qbo_sandbox, sleeps):
    """A page hands all its batches to the helper thread before any is sent: with a window of 2 batches a
    minute, the first two go as batches and the third spills to single requests at once, instead of
    waiting a minute behind the two."""
    import threading
    import uuid

    from connections.clients.limiter import Budget, RealmLimiter

    limiter = RealmLimiter(realm_id=f"queued-{uuid.uuid4().hex[:8]}", budget=Budget(batches_per_minute=2))
    client = make_client(qbo_sandbox, sleeps, limiter=limiter)
    qbo_sandbox.log.clear()
    gate = threading.Event()
    client._helper().submit(gate.wait, 10)          # the helper is busy: the batches below wait, unsent
    sent = [client.batch_send(vendor_items(f"Queued{n}"), requestid=f"queued-{n}") for n in range(3)]
    posts = [e["endpoint"] for e in qbo_sandbox.log.entries() if e["method"] == "POST"]
    assert posts == ["/v3/company/{realm}/vendor"] * 2      # the third batch's writes, one request each
    gate.set()
    answers = [[a.entity["DisplayName"] for a in batch.result()] for batch in sent]
    assert answers == [[f"Queued{n} Vendor 0", f"Queued{n} Vendor 1"] for n in range(3)]
    posts = [e["endpoint"] for e in qbo_sandbox.log.entries() if e["method"] == "POST"]
    assert posts.count("/v3/company/{realm}/batch") == 2 and posts.count("/v3/company/{realm}/vendor") == 2
    client.close()


# ---------------------------------------------------------------------------- a batch sent from the helper thread
def vendor_items(prefix: str, n: int = 2) -> list[BatchItem]:
    return [BatchItem(bid=f"{prefix}{i}", operation="create", entity="Vendor",
                      payload={"DisplayName": f"{prefix} Vendor {i}"}) for i in range(n)]


def test_batch_send_answers_as_batch_and_tells_its_calls_on_the_calling_thread(qbo, qbo_sandbox):
    import threading

    seen = []

    def listener(info):
        seen.append((threading.current_thread(), info.status))

    calls.call_listeners.append(listener)
    try:
        qbo_sandbox.faults.inject("500", count=1, path=r"/batch$")
        sent = qbo.batch_send(vendor_items("Sent"), requestid="sent-0001")
        answers = sent.result()
    finally:
        calls.call_listeners.remove(listener)
    assert [a.entity["DisplayName"] for a in answers] == ["Sent Vendor 0", "Sent Vendor 1"]
    assert seen == [(threading.current_thread(), 500), (threading.current_thread(), 200)]
    assert qbo.request_counts == {"batch": 1} and sent.result() is answers
    again = qbo.batch(vendor_items("Sent"), requestid="sent-0001")       # the same requestid: done once
    assert [a.entity["Id"] for a in again] == [a.entity["Id"] for a in answers]
    assert len(qbo_sandbox.app.find("Vendor", DisplayName="Sent Vendor 0")) == 1


def test_batch_send_renews_a_401_in_result_and_sends_the_same_requestid_again(qbo_sandbox, sleeps):
    tokens = sandbox_tokens(qbo_sandbox)
    client = make_client(qbo_sandbox, sleeps, tokens=tokens)
    qbo_sandbox.app.expire_tokens(DEFAULT_REALM)
    qbo_sandbox.log.clear()
    with record_calls() as seen:
        answers = client.batch_send(vendor_items("Renewed"), requestid="renewed-01").result()
    client.close()
    assert tokens.renewals == 1 and all(a.ok for a in answers)
    assert [c.status for c in seen] == [401, 200]
    posts = [e for e in qbo_sandbox.log.entries() if e["method"] == "POST"]
    assert [e["status"] for e in posts] == [401, 200]


def test_batch_send_raises_where_the_answers_are_taken(qbo_sandbox, sleeps):
    client = make_client(qbo_sandbox, sleeps)
    qbo_sandbox.faults.inject("drop", count=3, path=r"/batch$")
    with record_calls() as seen:
        sent = client.batch_send(vendor_items("Dropped"), requestid="dropped-01")
        with pytest.raises(TransportError):
            sent.result()
    assert [c.code for c in seen] == ["dropped"] * 3
    cannot_renew = make_client(qbo_sandbox, sleeps, tokens=StaticTokenProvider("not-a-token", system="qbo"))
    sent = cannot_renew.batch_send(vendor_items("Refused"), requestid="refused-01")
    with pytest.raises(ConnectionFailure):
        sent.result()
    with pytest.raises(ValueError):                     # a malformed batch is refused before anything is sent
        client.batch_send([BatchItem(bid="x", operation="create", entity="Vendor")])
    client.close()
    cannot_renew.close()

"""The JAGGAER sandbox over real HTTP (the session's SandboxServer from sandbox.testing), driven with requests."""
import pytest
import requests

from sandbox.datagen import generate
from sandbox.jaggaer import ENTITIES, TOKEN_PATH

SUPPLIERS = ENTITIES["suppliers"].path
INVOICES = ENTITIES["invoices"].path
CREDENTIALS = {"grant_type": "client_credentials", "client_id": "ml-sandbox-jaggaer",
               "client_secret": "ml-sandbox-jaggaer-secret"}


@pytest.fixture(scope="module")
def small_data():
    return generate("small", seed=42)


@pytest.fixture
def jaggaer(jaggaer_sandbox):
    """The session's JAGGAER server (sandbox.testing), reset to small/42 for this test."""
    return jaggaer_sandbox


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s


def bearer(http, srv):
    resp = http.post(srv.url + TOKEN_PATH, data=CREDENTIALS, timeout=5)
    assert resp.status_code == 200
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_token_then_list_over_http(jaggaer, http):
    resp = http.post(jaggaer.url + TOKEN_PATH, data=CREDENTIALS, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["expires_in"] == 300 and resp.json()["token_type"] == "Bearer"
    page = http.get(jaggaer.url + SUPPLIERS, params={"start": 1, "size": 500},
                    headers={"Authorization": f"Bearer {resp.json()['access_token']}"}, timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("application/json")
    body = page.json()
    assert body["returnCode"] == 0 and body["totRecords"] == 40 and body["returnedRecords"] == 40


def test_bad_credentials_over_http(jaggaer, http):
    resp = http.post(jaggaer.url + TOKEN_PATH, data=dict(CREDENTIALS, client_secret="x"), timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_unicode_tabs_and_long_names_survive_the_wire(jaggaer, http, small_data):
    auth = bearer(http, jaggaer)
    for case in ("name_non_latin", "name_tab", "name_accents", "name_over_500_chars", "name_apostrophe"):
        for cid in small_data.cases[case]["suppliers"]:
            resp = http.get(f"{jaggaer.url}{SUPPLIERS}/{cid}", headers=auth, timeout=5)
            assert resp.status_code == 200
            assert resp.json() == jaggaer.app.get("suppliers", cid)


def test_flt_must_be_url_encoded(jaggaer, http):
    auth = bearer(http, jaggaer)
    raw = http.get(f"{jaggaer.url}{INVOICES}?flt=LASTMODTIME>=2026-10-01T00:00:00+00:00", headers=auth, timeout=5)
    assert raw.status_code == 200 and raw.json()["returnCode"] != 0
    encoded = http.get(jaggaer.url + INVOICES, params={"flt": "LASTMODTIME>=2026-10-01T00:00:00+00:00"},
                       headers=auth, timeout=5)
    assert encoded.json()["returnCode"] == 0 and 0 < encoded.json()["totRecords"] < 150


def test_expire_tokens_through_the_control_api(jaggaer, http):
    auth = bearer(http, jaggaer)
    assert http.get(jaggaer.url + SUPPLIERS, headers=auth, timeout=5).status_code == 200
    assert http.post(jaggaer.url + "/_sandbox/tokens/expire", timeout=5).json()["expired"] == 1
    resp = http.get(jaggaer.url + SUPPLIERS, headers=auth, timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_token"


def test_mutations_through_the_control_api_show_up_in_an_incremental_poll(jaggaer, http):
    auth = bearer(http, jaggaer)
    mark = http.get(jaggaer.url + "/_sandbox/state", timeout=5).json()["clock"]
    renamed = http.post(jaggaer.url + "/_sandbox/suppliers/C-10002/rename", json={"name": "Cuyahoga Maint. Inc."},
                        timeout=5)
    assert renamed.status_code == 200 and renamed.json()["lastModTime"] > mark
    http.post(jaggaer.url + "/_sandbox/invoices/INV-1100/approve", timeout=5)
    sup = http.get(jaggaer.url + SUPPLIERS, params={"flt": f"LASTMODTIME>{mark}"}, headers=auth, timeout=5).json()
    inv = http.get(jaggaer.url + INVOICES, params={"flt": f"LASTMODTIME>{mark}"}, headers=auth, timeout=5).json()
    assert [s["companyName"] for s in sup["returnCompanyData"]] == ["Cuyahoga Maint. Inc."]
    assert [(i["invoiceId"], i["workflowStatus"]) for i in inv["invoiceList"]] == [("INV-1100", "Approved")]
    assert http.post(jaggaer.url + "/_sandbox/invoices/INV-1/approve", timeout=5).status_code == 404
    assert http.post(jaggaer.url + "/_sandbox/purchase_orders/PO-88040/status", json={"status": "Shipped"},
                     timeout=5).status_code == 400


def test_reset_through_the_control_api_restores_the_dataset(jaggaer, http):
    jaggaer.app.rename_supplier("C-10003", "Gone")
    resp = http.post(jaggaer.url + "/_sandbox/reset", json={"dataset": "small", "seed": 42}, timeout=30)
    assert resp.status_code == 200
    assert jaggaer.app.get("suppliers", "C-10003")["companyName"] != "Gone"
    assert jaggaer.app.count("invoices") == 150


def test_injected_429_uses_the_jaggaer_shape_with_retry_after(jaggaer, http):
    auth = bearer(http, jaggaer)
    jaggaer.faults.inject("429", count=1, path="/invoices", retry_after=3)
    resp = http.get(jaggaer.url + INVOICES, headers=auth, timeout=5)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.json()["returnCode"] == 429
    assert http.get(jaggaer.url + INVOICES, headers=auth, timeout=5).status_code == 200


def test_injected_503_is_an_html_page(jaggaer, http):
    auth = bearer(http, jaggaer)
    jaggaer.faults.inject("503", count=1, path="/companyprofiles")
    resp = http.get(jaggaer.url + SUPPLIERS, headers=auth, timeout=5)
    assert resp.status_code == 503 and resp.headers["Content-Type"].startswith("text/html")


def test_the_request_log_counts_single_record_gets_per_endpoint(jaggaer, http):
    auth = bearer(http, jaggaer)
    for code in ("PLANT-1", "PLANT-2", "NOPE"):
        http.get(f"{jaggaer.url}{ENTITIES['departments'].path}/{code}", headers=auth, timeout=5)
    counts = jaggaer.log.counts()
    single = f"GET {ENTITIES['departments'].path}/{{id}}"
    assert counts[f"{single} 200"] == 2 and counts[f"{single} 404"] == 1
    assert counts[f"POST {TOKEN_PATH} 200"] == 1


def test_pages_are_fast_enough_not_to_be_what_a_benchmark_measures(jaggaer, http):
    import time
    auth = bearer(http, jaggaer)
    started = time.perf_counter()
    for _ in range(50):
        assert http.get(jaggaer.url + INVOICES, params={"size": 200}, headers=auth, timeout=5).status_code == 200
    assert (time.perf_counter() - started) / 50 < 0.1


def test_a_standalone_server_on_a_free_port_starts_and_stops(small_data):
    from sandbox.common.http import SandboxServer
    from sandbox.jaggaer import JaggaerApp
    with SandboxServer(JaggaerApp(small_data), port=0) as srv, requests.Session() as http:
        assert srv.port != 0
        assert http.get(srv.url + SUPPLIERS, timeout=5).status_code == 401
        url = srv.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + SUPPLIERS, timeout=2)


def test_concurrent_pages_and_mutations_stay_consistent(jaggaer):
    from concurrent.futures import ThreadPoolExecutor
    auth = bearer(requests, jaggaer)

    def read(_):
        with requests.Session() as s:
            for start in (1, 51, 101):
                body = s.get(jaggaer.url + INVOICES, params={"start": start, "size": 50}, headers=auth,
                             timeout=10).json()
                assert body["returnCode"] == 0 and body["totRecords"] == 150
                assert body["returnedRecords"] == len(body["invoiceList"]) == 50
        return True

    def mutate(n):
        jaggaer.app.set_invoice_status(f"INV-{1001 + n}", "Paid")
        return True

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(read, n) for n in range(16)] + [pool.submit(mutate, n) for n in range(40)]
        assert all(f.result() for f in futures)
    stamps = [jaggaer.app.get("invoices", f"INV-{1001 + n}")["lastUpdate"] for n in range(40)]
    assert len(set(stamps)) == 40

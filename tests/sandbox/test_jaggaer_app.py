"""The JAGGAER sandbox app, driven through `handle()` / `control()` with Request objects (no sockets)."""
import json
from datetime import timedelta, timezone
from urllib.parse import urlencode

import pytest
from requests.structures import CaseInsensitiveDict

from sandbox.common.http import Request
from sandbox.datagen import generate
from sandbox.jaggaer import ENTITIES, TOKEN_PATH, JaggaerApp
from sandbox.jaggaer.app import iso, parse_utc

SUPPLIERS = ENTITIES["suppliers"].path
POS = ENTITIES["purchase_orders"].path
INVOICES = ENTITIES["invoices"].path


class FakeWall:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def req(method, path, query=None, headers=None, body=b""):
    q = {k: [str(v)] for k, v in (query or {}).items()}
    return Request(method, path, q, CaseInsensitiveDict(headers or {}), body)


def token_request(client_id="ml-sandbox-jaggaer", client_secret="ml-sandbox-jaggaer-secret",
                  grant_type="client_credentials"):
    form = {"grant_type": grant_type, "client_id": client_id, "client_secret": client_secret}
    return req("POST", TOKEN_PATH, headers={"Content-Type": "application/x-www-form-urlencoded"},
               body=urlencode(form).encode())


@pytest.fixture(scope="module")
def small_data():
    return generate("small", seed=42)


@pytest.fixture(scope="module")
def demo_data():
    return generate("demo", seed=42)


@pytest.fixture
def wall():
    return FakeWall()


@pytest.fixture
def app(small_data, wall):
    return JaggaerApp(small_data, wall_clock=wall)


class Api:
    """A tiny client over `app.handle` that fetches a token first."""

    def __init__(self, app):
        self.app = app
        self.token = app.issue_token()

    def get(self, path, **query):
        resp = self.app.handle(req("GET", path, query, {"Authorization": f"Bearer {self.token}"}))
        return resp.status, json.loads(resp.body) if resp.body else None

    def all_ids(self, entity, size, **query):
        spec = ENTITIES[entity]
        ids, start = [], 1
        while True:
            status, body = self.get(spec.path, start=start, size=size, **query)
            assert status == 200 and body["returnCode"] == 0
            rows = body[spec.list_key]
            ids += [r[spec.id_field] for r in rows]
            if start + len(rows) > body["totRecords"] or not rows:
                return ids, body["totRecords"]
            start += len(rows)


@pytest.fixture
def api(app):
    return Api(app)


def expected_order(app, entity, threshold=None):
    spec = ENTITIES[entity]
    rows = [(parse_utc(r[spec.mod_field]).timestamp(), r[spec.id_field]) for r in app.records(entity)]
    if threshold is not None:
        rows = [row for row in rows if row[0] >= threshold]
    return [rid for _, rid in sorted(rows)]


# ---------------------------------------------------------------------------------------------- tokens
def test_token_endpoint_issues_a_bearer_token_for_the_default_client(app):
    resp = app.handle(token_request())
    body = json.loads(resp.body)
    assert resp.status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["access_token"]
    assert "refresh_token" not in body


def test_token_endpoint_accepts_http_basic_client_credentials(app):
    import base64
    basic = base64.b64encode(b"ml-sandbox-jaggaer:ml-sandbox-jaggaer-secret").decode()
    resp = app.handle(req("POST", TOKEN_PATH, headers={"Authorization": f"Basic {basic}"},
                          body=b"grant_type=client_credentials"))
    assert resp.status == 200


@pytest.mark.parametrize(("client_id", "secret"), [
    ("ml-sandbox-jaggaer", "wrong"), ("someone-else", "ml-sandbox-jaggaer-secret"), ("", ""),
])
def test_bad_client_credentials_answer_401_invalid_client(app, client_id, secret):
    resp = app.handle(token_request(client_id, secret))
    body = json.loads(resp.body)
    assert resp.status == 401
    assert body["error"] == "invalid_client" and body["error_description"]


def test_other_grant_types_are_refused(app):
    resp = app.handle(token_request(grant_type="password"))
    assert resp.status == 400 and json.loads(resp.body)["error"] == "unsupported_grant_type"


def test_token_lifetime_is_configurable_and_expired_tokens_answer_401(app, wall):
    app.set_token_lifetime(60)
    body = json.loads(app.handle(token_request()).body)
    assert body["expires_in"] == 60
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert app.handle(req("GET", SUPPLIERS, headers=auth)).status == 200
    wall.now += 59
    assert app.handle(req("GET", SUPPLIERS, headers=auth)).status == 200
    wall.now += 1
    resp = app.handle(req("GET", SUPPLIERS, headers=auth))
    assert resp.status == 401
    assert json.loads(resp.body)["error"] == "invalid_token"
    assert "Bearer" in resp.headers["WWW-Authenticate"]


def test_missing_garbage_and_revoked_tokens_answer_401(app, api):
    assert app.handle(req("GET", SUPPLIERS)).status == 401
    assert app.handle(req("GET", SUPPLIERS, headers={"Authorization": "Bearer nope"})).status == 401
    assert app.handle(req("GET", SUPPLIERS, headers={"Authorization": f"Basic {api.token}"})).status == 401
    assert api.get(SUPPLIERS)[0] == 200
    assert app.expire_tokens() == 1
    assert api.get(SUPPLIERS)[0] == 401
    assert api.get(f"{SUPPLIERS}/C-10001")[0] == 401
    api.token = app.issue_token()
    assert api.get(SUPPLIERS)[0] == 200


def test_changed_credentials_refuse_the_old_ones_and_reset_restores_them(app, small_data):
    app.set_credentials("tenant-7", "s3cret")
    assert app.handle(token_request()).status == 401
    assert app.handle(token_request("tenant-7", "s3cret")).status == 200
    app.reset(small_data)
    assert app.handle(token_request()).status == 200
    assert "s3cret" not in json.dumps(app.state())


# ---------------------------------------------------------------------------------------------- envelope
@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_list_endpoint_answers_the_envelope_with_its_list_key(app, api, small_data, entity):
    spec = ENTITIES[entity]
    status, body = api.get(spec.path, start=1, size=5)
    assert status == 200
    assert list(body) == ["returnCode", "returnMessage", "totRecords", "returnedRecords", "startAt", spec.list_key]
    assert body["returnCode"] == 0 and body["returnMessage"] == "OK"
    assert body["totRecords"] == len(small_data.jaggaer[entity])
    assert body["returnedRecords"] == len(body[spec.list_key]) == min(5, body["totRecords"])
    assert body["startAt"] == 1


def test_list_rows_are_the_dataset_records(api, small_data):
    _, body = api.get(SUPPLIERS, size=200)
    by_id = {s["companyId"]: s for s in small_data.jaggaer["suppliers"]}
    for row in body["returnCompanyData"]:
        assert row == by_id[row["companyId"]]


# ---------------------------------------------------------------------------------------------- paging
def test_size_is_capped_at_200_and_total_counts_every_row(demo_data, wall):
    api = Api(JaggaerApp(demo_data, wall_clock=wall))
    status, body = api.get(INVOICES, start=1, size=1000)
    assert status == 200
    assert body["returnedRecords"] == 200 and len(body["invoiceList"]) == 200
    assert body["totRecords"] == 1000


def test_paging_visits_every_row_once_in_modification_time_then_id_order(app, api):
    ids, total = api.all_ids("invoices", size=37)
    assert total == 150 and len(ids) == 150 and len(set(ids)) == 150
    assert ids == expected_order(app, "invoices")


def test_rows_with_the_same_modification_time_are_ordered_by_id(app, api, small_data):
    tied = small_data.cases["same_lastmodtime"]["suppliers"]
    ids, _ = api.all_ids("suppliers", size=3)
    positions = [ids.index(c) for c in tied]
    assert positions == sorted(positions)
    assert [ids[p] for p in positions] == sorted(tied)


def test_start_past_the_end_returns_an_empty_page(api):
    status, body = api.get(POS, start=81, size=10)
    assert status == 200 and body["returnCode"] == 0
    assert body["returnedRecords"] == 0 and body["purchaseOrderList"] == [] and body["totRecords"] == 80
    assert body["startAt"] == 81


def test_default_page_starts_at_one(api):
    _, body = api.get(POS)
    assert body["startAt"] == 1 and body["returnedRecords"] == 80


@pytest.mark.parametrize("query", [{"start": 0}, {"start": "abc"}, {"size": 0}, {"size": "-5"}, {"size": "1.5"}])
def test_bad_paging_parameters_answer_a_non_zero_return_code(api, query):
    status, body = api.get(POS, **query)
    assert status == 200
    assert body["returnCode"] != 0 and body["returnMessage"]
    assert "purchaseOrderList" not in body


# ---------------------------------------------------------------------------------------------- filter
def test_flt_greater_or_equal_keeps_rows_modified_at_or_after_the_time(app, api):
    rows = app.records("invoices")
    pivot = rows[len(rows) // 2]["lastUpdate"]
    ids, total = api.all_ids("invoices", size=50, flt=f"LASTMODTIME>={pivot}")
    assert ids == expected_order(app, "invoices", parse_utc(pivot).timestamp())
    assert total == len(ids) and 0 < total < 150
    assert rows[len(rows) // 2]["invoiceId"] in ids


def test_flt_greater_than_excludes_rows_at_exactly_the_time(app, api):
    rows = app.records("invoices")
    pivot_row = rows[len(rows) // 2]
    ids, _ = api.all_ids("invoices", size=50, flt=f"LASTMODTIME>{pivot_row['lastUpdate']}")
    assert pivot_row["invoiceId"] not in ids
    assert ids == expected_order(app, "invoices", parse_utc(pivot_row["lastUpdate"]).timestamp() + 1)


def test_flt_accepts_fractions_offsets_and_lastupdate(app, api):
    pivot = app.records("purchase_orders")[40]["lastUpdate"]
    base = api.all_ids("purchase_orders", size=200, flt=f"LASTMODTIME>={pivot}")[0]
    same_instant = parse_utc(pivot).astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert api.all_ids("purchase_orders", size=200, flt=f"LASTMODTIME>={same_instant}")[0] == base
    assert api.all_ids("purchase_orders", size=200, flt=f"LASTUPDATE>={pivot}")[0] == base
    fraction = pivot.replace("Z", ".250Z")
    after = api.all_ids("purchase_orders", size=200, flt=f"LASTMODTIME>={fraction}")[0]
    assert after == api.all_ids("purchase_orders", size=200, flt=f"LASTMODTIME>{pivot}")[0]


def test_flt_after_the_newest_row_is_empty(api, app):
    _, body = api.get(SUPPLIERS, flt=f"LASTMODTIME>{app.now()}")
    assert body["returnCode"] == 0 and body["totRecords"] == 0 and body["returnCompanyData"] == []


@pytest.mark.parametrize("flt", [
    "LASTMODTIME>=yesterday",
    "LASTMODTIME=2026-09-01T00:00:00Z",
    "LASTMODTIME<2026-09-01T00:00:00Z",
    "CREATED>=2026-09-01T00:00:00Z",
    "LASTMODTIME>=2026-09-01T00:00:00",          # no zone: not UTC
    "LASTMODTIME>=2026-09-01T00:00:00 00:00",    # an unencoded '+' arrives as a space
    "LASTMODTIME>=2026-13-01T00:00:00Z",
])
def test_a_malformed_flt_answers_200_with_a_non_zero_return_code(api, flt):
    status, body = api.get(INVOICES, flt=flt)
    assert status == 200
    assert body["returnCode"] != 0 and body["returnMessage"]
    assert "invoiceList" not in body


# ---------------------------------------------------------------------------------------------- single records
def test_single_record_get_returns_the_record(api, small_data):
    for entity in ENTITIES:
        spec = ENTITIES[entity]
        record = small_data.jaggaer[entity][3]
        status, body = api.get(f"{spec.path}/{record[spec.id_field]}")
        assert status == 200 and body == record


def test_single_record_get_decodes_the_id_and_answers_404_when_unknown(api):
    status, body = api.get(f"{ENTITIES['departments'].path}/PLANT%2D2")
    assert status == 200 and body["code"] == "PLANT-2"
    status, body = api.get(f"{INVOICES}/INV-999999")
    assert status == 404
    assert body["returnCode"] != 0 and "INV-999999" in body["returnMessage"]


def test_unknown_paths_and_methods(api, app):
    assert app.handle(req("GET", "/j1p/api/public/ja/v1/nothing")).status == 404
    resp = app.handle(req("POST", SUPPLIERS, headers={"Authorization": f"Bearer {api.token}"}))
    assert resp.status == 405
    assert app.handle(req("GET", TOKEN_PATH)).status == 405


# ---------------------------------------------------------------------------------------------- mutations
def test_the_clock_starts_after_the_newest_record_and_every_mutation_moves_it_forward(app, small_data):
    newest = max(r.get("lastModTime") or r.get("lastUpdate") for rows in small_data.jaggaer.values() for r in rows)
    assert app.now() > newest
    stamps = [
        app.rename_supplier("C-10002", "Cuyahoga Maintenance Holdings Inc.")["lastModTime"],
        app.cancel_po("PO-88040")["lastUpdate"],
        app.approve_invoice("INV-1100")["lastUpdate"],
        app.retire_gl_account("6300")["lastModTime"],
        app.retire_department("PLANT-3")["lastModTime"],
        app.add_supplier("Brand New Supplier LLC")["lastModTime"],
    ]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert stamps[0] > app.records("invoices")[-2]["lastUpdate"]
    assert app.now() == stamps[-1]


def test_a_mutated_row_moves_to_the_end_and_a_filter_from_the_previous_clock_finds_only_it(app, api):
    mark = app.now()
    app.rename_supplier("C-10010", "Renamed Supplier Co.")
    _, body = api.get(SUPPLIERS, flt=f"LASTMODTIME>{mark}")
    assert [r["companyId"] for r in body["returnCompanyData"]] == ["C-10010"]
    assert body["returnCompanyData"][0]["companyName"] == "Renamed Supplier Co."
    ids, total = api.all_ids("suppliers", size=7)
    assert ids[-1] == "C-10010" and total == 40 and len(set(ids)) == 40


def test_mutations_change_what_the_api_serves(app, api):
    po = app.set_po_lines("PO-88030", [{"description": "Grey iron casting", "quantity": "4", "unitPrice": "125.50"},
                                       {"description": "Freight", "quantity": "1", "unitPrice": "80.00",
                                        "amount": "80.00"}])
    assert po["total"]["value"] == "582.00" and [ln["lineNumber"] for ln in po["lineList"]] == [1, 2]
    _, served = api.get(f"{POS}/PO-88030")
    assert served == po
    app.set_po_status("PO-88030", "Closed")
    assert api.get(f"{POS}/PO-88030")[1]["status"] == "Closed"
    assert api.get(f"{INVOICES}/INV-1050")[1]["workflowStatus"] != "Rejected"
    app.set_invoice_status("INV-1050", "Rejected")
    assert api.get(f"{INVOICES}/INV-1050")[1]["workflowStatus"] == "Rejected"
    assert api.get(f"{ENTITIES['gl_accounts'].path}/6300")[1]["active"] is True
    app.retire_gl_account("6300")
    assert api.get(f"{ENTITIES['gl_accounts'].path}/6300")[1]["active"] is False
    new = app.add_supplier("Brand New Supplier LLC", paymentTerms="Net 15")
    assert new["companyId"] == "C-10041"
    assert api.get(f"{SUPPLIERS}/C-10041")[1]["paymentTerms"] == "Net 15"
    _, body = api.get(SUPPLIERS, size=200)
    assert body["totRecords"] == 41


def test_invalid_mutations_are_refused(app):
    with pytest.raises(ValueError):
        app.set_po_status("PO-88030", "Shipped")
    with pytest.raises(ValueError):
        app.set_invoice_status("INV-1050", "Done")
    with pytest.raises(KeyError):
        app.cancel_po("PO-1")
    with pytest.raises(ValueError):
        app.upsert("suppliers", {"companyName": "no id"})
    with pytest.raises(ValueError):
        app.get("vendors", "x")


def test_mutations_never_touch_the_loaded_dataset(app, small_data, wall):
    before = json.dumps(small_data.jaggaer, sort_keys=True)
    app.rename_supplier("C-10001", "Changed")
    app.set_po_lines("PO-88001", [{"quantity": "1", "unitPrice": "1.00"}])
    app.patch("invoices", "INV-1001", {"workflowStatus": "Paid"})
    assert json.dumps(small_data.jaggaer, sort_keys=True) == before
    fresh = JaggaerApp(small_data, wall_clock=wall)
    assert fresh.get("suppliers", "C-10001")["companyName"] != "Changed"
    app.reset(small_data)
    assert app.get("suppliers", "C-10001") == fresh.get("suppliers", "C-10001")


def test_records_returned_to_callers_are_copies(app):
    rec = app.get("suppliers", "C-10001")
    rec["companyName"] = "mutated by a test"
    assert app.get("suppliers", "C-10001")["companyName"] != "mutated by a test"


def test_advance_clock_only_moves_forward(app):
    before = parse_utc(app.now()).timestamp()
    app.advance_clock(3600)
    assert parse_utc(app.now()).timestamp() == before + 3600
    assert app.rename_supplier("C-10003", "x")["lastModTime"] == iso(int(before) + 3601)
    with pytest.raises(ValueError):
        app.advance_clock(-1)


def test_an_empty_sandbox_serves_empty_lists(wall):
    app = JaggaerApp(None, wall_clock=wall)
    _, body = Api(app).get(INVOICES)
    assert body["totRecords"] == 0 and body["invoiceList"] == []
    assert app.add_supplier("First")["companyId"] == "C-10001"


def test_paths_can_be_moved_for_a_tenant_with_other_endpoints(app, api):
    app.set_paths({"suppliers": "/api/v2/suppliers"})
    assert api.get("/api/v2/suppliers")[0] == 200
    assert api.get("/api/v2/suppliers/C-10001")[1]["companyId"] == "C-10001"
    assert api.get(SUPPLIERS)[0] == 404
    assert api.get(POS)[0] == 200


# ---------------------------------------------------------------------------------------------- control and faults
def control(app, method, subpath, body=None):
    resp = app.control(req(method, "/_sandbox/" + subpath, body=json.dumps(body).encode() if body else b""),
                       subpath)
    return resp.status, json.loads(resp.body)


def test_control_routes_mutate_and_report(app, api):
    assert control(app, "POST", "suppliers/C-10004/rename", {"name": "Acme Corp - Dayton"})[1]["companyName"] == (
        "Acme Corp - Dayton")
    assert control(app, "POST", "purchase_orders/PO-88040/cancel")[1]["status"] == "Cancelled"
    assert control(app, "POST", "purchase_orders/PO-88041/status", {"status": "Approved"})[1]["status"] == "Approved"
    assert control(app, "POST", "invoices/INV-1060/approve")[1]["workflowStatus"] == "Approved"
    assert control(app, "POST", "departments/PLANT-2/retire")[1]["active"] is False
    assert control(app, "POST", "gl_accounts/6200/retire")[1]["active"] is False
    assert control(app, "POST", "suppliers", {"companyName": "Control Made LLC"})[1]["companyId"] == "C-10041"
    status, rec = control(app, "PATCH", "records/invoices/INV-1061", {"dueDate": "2026-12-31"})
    assert status == 200 and rec["dueDate"] == "2026-12-31"
    assert control(app, "GET", "records/invoices/INV-1061")[1]["dueDate"] == "2026-12-31"
    status, body = control(app, "POST", "tokens/lifetime", {"seconds": 5})
    assert body == {"token_lifetime": 5}
    assert json.loads(app.handle(token_request()).body)["expires_in"] == 5
    assert control(app, "POST", "tokens/expire")[1]["expired"] >= 1
    assert api.get(SUPPLIERS)[0] == 401
    state = control(app, "GET", "state")[1]
    assert state["counts"]["suppliers"] == 41 and state["clock"] == app.now()


def test_control_answers_404_for_unknown_records_and_routes(app):
    assert control(app, "POST", "invoices/INV-0/approve")[0] == 404
    assert control(app, "GET", "records/suppliers/C-1")[0] == 404
    assert control(app, "POST", "nothing/here")[0] == 404


def test_control_credentials_change_what_the_token_endpoint_accepts(app):
    assert control(app, "POST", "credentials", {"client_id": "a", "client_secret": "b"})[1] == {"client_id": "a"}
    assert app.handle(token_request("a", "b")).status == 200
    assert app.handle(token_request()).status == 401


def test_throttle_and_error_shapes(app):
    resp = app.throttle_response(7)
    assert resp.status == 429 and json.loads(resp.body)["returnCode"] == 429
    assert app.error_response(500).status == 500
    assert app.error_response(503).headers["Content-Type"].startswith("text/html")


def test_request_log_groups_single_record_paths(app):
    assert app.normalise_path(f"{ENTITIES['departments'].path}/PLANT-2") == (
        f"{ENTITIES['departments'].path}/{{id}}")
    assert app.normalise_path(SUPPLIERS) == SUPPLIERS


def test_paging_parameter_and_filter_field_names_can_be_changed(app, api):
    app.set_params(start="startRow", size="pageSize", flt="filter", filter_field="UPDATED")
    _, body = api.get(POS, startRow=3, pageSize=4)
    assert body["startAt"] == 3 and body["returnedRecords"] == 4
    pivot = app.records("purchase_orders")[70]["lastUpdate"]
    _, body = api.get(POS, filter=f"UPDATED>={pivot}", pageSize=200)
    assert body["returnCode"] == 0 and body["totRecords"] == len(expected_order(
        app, "purchase_orders", parse_utc(pivot).timestamp()))
    _, body = api.get(POS, filter=f"LASTMODTIME>={pivot}")
    assert body["returnCode"] != 0


def test_a_rate_limit_answers_429_with_retry_after_until_the_minute_has_passed(app, api, wall):
    app.set_rate_limit(3)
    assert [api.get(SUPPLIERS)[0] for _ in range(3)] == [200, 200, 200]
    wall.now += 20
    resp = app.handle(req("GET", SUPPLIERS, headers={"Authorization": f"Bearer {api.token}"}))
    assert resp.status == 429 and resp.headers["Retry-After"] == "40"
    assert json.loads(resp.body)["returnCode"] == 429
    wall.now += 40
    assert api.get(SUPPLIERS)[0] == 200
    app.set_rate_limit(None)
    assert all(api.get(SUPPLIERS)[0] == 200 for _ in range(10))


def test_a_row_changed_mid_poll_shifts_offsets_and_a_high_water_mark_reread_recovers_it(app, api):
    """What the poller must cope with: offset paging skips a row when an earlier one moves to the end."""
    _, page1 = api.get(INVOICES, start=1, size=50)
    first_page = [r["invoiceId"] for r in page1["invoiceList"]]
    high_water = page1["invoiceList"][-1]["lastUpdate"]
    app.approve_invoice(first_page[0])                    # moves from page 1 to the very end
    _, page2 = api.get(INVOICES, start=51, size=50)
    _, page3 = api.get(INVOICES, start=101, size=50)
    seen = first_page + [r["invoiceId"] for r in page2["invoiceList"] + page3["invoiceList"]]
    everything = expected_order(app, "invoices")
    skipped = [i for i in everything if i not in seen]
    assert len(skipped) == 1                              # the row that slid back onto page 1
    reread, _ = api.all_ids("invoices", size=200, flt=f"LASTMODTIME>={high_water}")
    assert skipped[0] in reread and first_page[0] in reread

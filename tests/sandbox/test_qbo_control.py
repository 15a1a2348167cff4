"""QBO sandbox control API under /_sandbox/: realms, tokens, state, mutations support staff and tests need."""
import requests

from sandbox.testing import QboApi, fault_code


def _ctl(api: QboApi, method: str, path: str, **kwargs):
    return requests.request(method, f"{api.server.url}/_sandbox/{path}", **kwargs)


def test_realms_are_listed_and_created_with_their_own_limits(qbo_api):
    made = _ctl(qbo_api, "POST", "realms", json={"company_name": "Branch Co", "multicurrency": True,
                                                  "limits": {"requests_per_minute": 2}}).json()
    assert made["realm_id"] != qbo_api.realm and made["multicurrency"] is True
    listed = _ctl(qbo_api, "GET", "realms").json()
    assert {r["realm_id"] for r in listed["realms"]} == {qbo_api.realm, made["realm_id"]}
    tokens = _ctl(qbo_api, "POST", "tokens/issue", json={"realm_id": made["realm_id"]}).json()
    other = QboApi(qbo_api.server, tokens=tokens)
    codes = [other.get(f"companyinfo/{made['realm_id']}").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code == 200


def test_tokens_can_be_issued_expired_and_their_lifetime_set(qbo_api):
    short = _ctl(qbo_api, "POST", "tokens/issue", json={"access_lifetime": 0}).json()
    assert fault_code(QboApi(qbo_api.server, tokens=short).get(f"companyinfo/{qbo_api.realm}")) == "3200"
    assert _ctl(qbo_api, "POST", "tokens/settings", json={"access_lifetime": 120}).json()["settings"][
        "access_lifetime"] == 120
    assert qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code == 200
    assert _ctl(qbo_api, "POST", "tokens/expire", json={}).json()["access_tokens"] >= 1
    assert fault_code(qbo_api.get(f"companyinfo/{qbo_api.realm}")) == "3200"


def test_state_dumps_every_object_of_a_type_inactive_ones_included(qbo_api):
    departments = _ctl(qbo_api, "GET", "state/Department").json()["Department"]
    assert len(departments) == 8 and any(d["Active"] is False for d in departments)


def test_accounts_departments_and_vendors_can_be_deactivated_or_deleted(qbo_api):
    travel = qbo_api.app.find("Account", Name="Travel")[0]
    out = _ctl(qbo_api, "POST", f"account/{travel['Id']}/deactivate").json()
    assert out["Active"] is False and out["SyncToken"] == "1"
    assert qbo_api.rows("select * from Account where Name = 'Travel'") == []
    v = qbo_api.create("Vendor", {"DisplayName": "Doomed Vendor"})
    assert _ctl(qbo_api, "DELETE", f"vendor/{v['Id']}").json()["status"] == "Deleted"
    assert fault_code(qbo_api.get(f"vendor/{v['Id']}")) == "610"
    assert qbo_api.post("vendor", json={"DisplayName": "Doomed Vendor"}).status_code == 200      # name is free


def test_a_bill_can_be_marked_paid_over_http(qbo_api):
    v = qbo_api.create("Vendor", {"DisplayName": "Paid Vendor"})
    travel = qbo_api.app.find("Account", Name="Travel")[0]
    bill = qbo_api.create("Bill", {"VendorRef": {"value": v["Id"]}, "Line": [
        {"Amount": 40, "AccountBasedExpenseLineDetail": {"AccountRef": {"value": travel["Id"]}}}]})
    paid = _ctl(qbo_api, "POST", f"bill/{bill['Id']}/paid", json={}).json()
    assert paid["Balance"] == 0 and paid["TotalAmt"] == 40


def test_multicurrency_is_switched_per_realm(qbo_api):
    _ctl(qbo_api, "POST", "settings", json={"multicurrency": True})
    prefs = qbo_api.get("preferences").json()["Preferences"]
    assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True


def test_the_server_clock_can_be_moved(qbo_api):
    before = qbo_api.create("Vendor", {"DisplayName": "Clock Before"})["MetaData"]["CreateTime"]
    _ctl(qbo_api, "POST", "clock", json={"offset_seconds": 86400})
    assert fault_code(qbo_api.get(f"companyinfo/{qbo_api.realm}")) == "3200"       # a day later: token expired
    later = QboApi(qbo_api.server)
    after = later.create("Vendor", {"DisplayName": "Clock After"})["MetaData"]["CreateTime"]
    assert after[:10] > before[:10]
    qbo_api.app.reset(None)
    assert qbo_api.app.clock_offset == 0


def test_unknown_control_routes_answer_404(qbo_api):
    assert _ctl(qbo_api, "GET", "nothing/here").status_code == 404
    assert _ctl(qbo_api, "POST", "realms", data=b"not json").status_code == 400


def test_objects_are_created_and_edited_as_a_person_would_in_quickbooks(qbo_api):
    vendor = _ctl(qbo_api, "POST", "vendor", json={"DisplayName": "Made In QuickBooks"})
    assert vendor.status_code == 201
    made = vendor.json()
    edited = _ctl(qbo_api, "POST", f"vendor/{made['Id']}/edit", json={"fields": {"DisplayName": "Renamed",
                                                                                  "Balance": 1.5}})
    assert edited.status_code == 200 and edited.json()["DisplayName"] == "Renamed"
    assert int(edited.json()["SyncToken"]) == int(made["SyncToken"]) + 1
    assert qbo_api.read("Vendor", made["Id"])["Balance"] == 1.5
    assert _ctl(qbo_api, "POST", f"vendor/{made['Id']}/edit", json={"fields": {}}).status_code == 400

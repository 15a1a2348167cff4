"""QBO sandbox contract: /batch (at most 30 items, per-item faults, requestid) and /cdc."""
import time
import uuid

from sandbox.testing import fault_code


def _vendors(names):
    return [{"bId": str(uuid.uuid4()), "operation": "create", "Vendor": {"DisplayName": n}} for n in names]


def test_a_batch_of_30_creates_all_of_them(qbo_api):
    items = _vendors([f"Batch Vendor {i:02d}" for i in range(30)])
    resp = qbo_api.post("batch", json={"BatchItemRequest": items})
    assert resp.status_code == 200
    answers = resp.json()["BatchItemResponse"]
    assert [a["bId"] for a in answers] == [i["bId"] for i in items]
    assert all(a["Vendor"]["Id"] and "Fault" not in a for a in answers)


def test_a_batch_of_31_is_refused_whole_and_creates_nothing(qbo_api):
    items = _vendors([f"Refused Vendor {i:02d}" for i in range(31)])
    resp = qbo_api.post("batch", json={"BatchItemRequest": items})
    assert resp.status_code == 400 and fault_code(resp) == "6000"
    assert "30" in resp.json()["Fault"]["Error"][0]["Detail"]
    assert qbo_api.rows("select * from Vendor where DisplayName like 'Refused Vendor%'") == []


def test_item_faults_do_not_stop_the_other_items(qbo_api):
    items = _vendors(["Good One", "Good One", "Bad:Name", "Good Two"])
    answers = qbo_api.post("batch", json={"BatchItemRequest": items}).json()["BatchItemResponse"]
    assert "Vendor" in answers[0] and "Vendor" in answers[3]
    assert answers[1]["Fault"]["Error"][0]["code"] == "6240"
    assert answers[2]["Fault"]["Error"][0]["code"] == "2040"
    assert answers[1]["Fault"]["type"] == "ValidationFault"


def test_batch_mixes_updates_deletes_and_queries(qbo_api):
    v = qbo_api.create("Vendor", {"DisplayName": "Mixed Batch"})
    ap = qbo_api.app.find("Account", Name="Accounts Payable (A/P)")[0]
    travel = qbo_api.app.find("Account", Name="Travel")[0]
    bill = qbo_api.create("Bill", {"VendorRef": {"value": v["Id"]}, "APAccountRef": {"value": ap["Id"]},
                                   "Line": [{"Amount": 5, "AccountBasedExpenseLineDetail":
                                             {"AccountRef": {"value": travel["Id"]}}}]})
    items = [{"bId": "u", "operation": "update",
              "Vendor": {"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "X1"}},
             {"bId": "d", "operation": "delete", "Bill": {"Id": bill["Id"], "SyncToken": "0"}},
             {"bId": "q", "Query": "select * from Vendor where DisplayName = 'mixed batch'"},
             {"bId": "s", "operation": "update",
              "Vendor": {"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "X2"}}]
    answers = {a["bId"]: a for a in qbo_api.post("batch", json={"BatchItemRequest": items}).json()["BatchItemResponse"]}
    assert answers["u"]["Vendor"]["AcctNum"] == "X1"
    assert answers["d"]["Bill"]["status"] == "Deleted"
    assert answers["q"]["QueryResponse"]["Vendor"][0]["AcctNum"] == "X1"
    assert answers["s"]["Fault"]["Error"][0]["code"] == "5010"


def test_a_batch_with_a_requestid_is_replayed_and_needs_short_bids(qbo_api):
    items = [{"bId": f"b{i}", "operation": "create", "Vendor": {"DisplayName": f"Replay {i}"}} for i in range(3)]
    first = qbo_api.post("batch", json={"BatchItemRequest": items}, params={"requestid": "batch-1"})
    again = qbo_api.post("batch", json={"BatchItemRequest": items}, params={"requestid": "batch-1"})
    assert first.json() == again.json()
    assert all("Vendor" in a for a in again.json()["BatchItemResponse"])
    long_bids = _vendors(["Long Bid"])
    resp = qbo_api.post("batch", json={"BatchItemRequest": long_bids}, params={"requestid": "batch-2"})
    assert resp.status_code == 400 and fault_code(resp) == "6000"


def test_cdc_returns_changed_and_deleted_objects_in_the_cdcresponse_shape(qbo_api):
    since = qbo_api.read("CompanyInfo", qbo_api.realm)["MetaData"]["CreateTime"]
    v = qbo_api.create("Vendor", {"DisplayName": "CDC Vendor"})
    qbo_api.post("vendor", json={"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "9"})
    ap = qbo_api.app.find("Account", Name="Accounts Payable (A/P)")[0]
    travel = qbo_api.app.find("Account", Name="Travel")[0]
    bill = qbo_api.create("Bill", {"VendorRef": {"value": v["Id"]}, "APAccountRef": {"value": ap["Id"]},
                                   "Line": [{"Amount": 5, "AccountBasedExpenseLineDetail":
                                             {"AccountRef": {"value": travel["Id"]}}}]})
    qbo_api.post("bill", json={"Id": bill["Id"], "SyncToken": "0"}, params={"operation": "delete"})
    resp = qbo_api.get("cdc", params={"entities": "Vendor,Bill", "changedSince": since})
    parts = resp.json()["CDCResponse"][0]["QueryResponse"]
    vendors = next(p["Vendor"] for p in parts if "Vendor" in p)
    mine = [x for x in vendors if x["Id"] == v["Id"]]
    assert mine and mine[0]["SyncToken"] == "1"
    bills = next(p["Bill"] for p in parts if "Bill" in p)
    assert bills == [{"domain": "QBO", "status": "Deleted", "Id": bill["Id"],
                      "MetaData": {"LastUpdatedTime": bills[0]["MetaData"]["LastUpdatedTime"]}}]


def test_cdc_needs_entities_and_a_recent_changed_since(qbo_api):
    assert fault_code(qbo_api.get("cdc", params={"changedSince": "2026-01-01T00:00:00Z"})) == "2020"
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 31 * 86400))
    assert fault_code(qbo_api.get("cdc", params={"entities": "Vendor", "changedSince": long_ago})) == "2010"


def test_cdc_answers_preferences_when_they_changed_since_then_and_can_be_told_to_refuse_them(qbo_api):
    def preferences_since(stamp: str) -> list:
        resp = qbo_api.get("cdc", params={"entities": "Vendor,Preferences", "changedSince": stamp})
        assert resp.status_code == 200, resp.text
        parts = resp.json()["CDCResponse"][0]["QueryResponse"]
        return next((p["Preferences"] for p in parts if "Preferences" in p), [])

    app, realm = qbo_api.app, qbo_api.app.realm(qbo_api.realm)
    realm.preferences_updated -= 120                    # last changed two minutes ago
    a_minute_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    assert preferences_since(a_minute_ago) == []
    app.set_multicurrency(True, qbo_api.realm)
    changed = preferences_since(a_minute_ago)
    assert [p["CurrencyPrefs"]["MultiCurrencyEnabled"] for p in changed] == [True]
    assert changed[0]["MetaData"]["LastUpdatedTime"] == qbo_api.get("preferences").json()["Preferences"][
        "MetaData"]["LastUpdatedTime"]
    app.cdc_refuses = {"Preferences"}
    resp = qbo_api.get("cdc", params={"entities": "Vendor,Preferences", "changedSince": a_minute_ago})
    assert resp.status_code == 400 and fault_code(resp) == "2010"

"""QBO sandbox contract: authentication, minorversion, entities, validations and faults, over real HTTP."""
import pytest

from sandbox.testing import QboApi, fault_code


def _acct(api: QboApi, name: str) -> dict:
    return api.app.find("Account", Name=name)[0]


def _vendor(api: QboApi, name: str = "Acme Castings", **extra) -> dict:
    return api.create("Vendor", {"DisplayName": name, **extra})


def _po(api: QboApi, vendor: dict, amounts=(100, 50.25), doc: str | None = "PO-1000", **extra) -> dict:
    expense = _acct(api, "Raw materials")
    ap = _acct(api, "Accounts Payable (A/P)")
    body = {"VendorRef": {"value": vendor["Id"]}, "APAccountRef": {"value": ap["Id"]},
            "Line": [{"Amount": a, "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}} for a in amounts],
            **extra}
    if doc:
        body["DocNumber"] = doc
    return api.create("PurchaseOrder", body)


def _bill_body(api: QboApi, vendor: dict, amount=100, link=None, doc="INV-1") -> dict:
    expense = _acct(api, "Raw materials")
    line = {"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}
    if link:
        line["LinkedTxn"] = [link]
    body = {"VendorRef": {"value": vendor["Id"]}, "Line": [line]}
    if doc:
        body["DocNumber"] = doc
    return body


# ---------------------------------------------------------------- authentication and minorversion

def test_a_missing_header_a_garbage_token_and_an_expired_token_get_401_with_the_gateway_fault(qbo_api):
    expired = qbo_api.app.issue_tokens(access_lifetime=0)["access_token"]
    for token in (None, "eyJ.garbage", expired):
        for mv in (True, False):                          # authentication comes before parameter checks
            resp = qbo_api.get(f"companyinfo/{qbo_api.realm}", token=token, minorversion=mv)
            assert resp.status_code == 401
            body = resp.json()
            assert body["fault"]["type"] == "AUTHENTICATION"
            assert body["fault"]["error"][0]["code"] == "3200"
            assert set(body["fault"]["error"][0]) == {"message", "detail", "code"}
            assert resp.headers["intuit_tid"]


def test_expire_tokens_now_turns_live_access_tokens_into_401(qbo_api):
    assert qbo_api.get(f"companyinfo/{qbo_api.realm}").status_code == 200
    qbo_api.app.expire_tokens()
    assert fault_code(qbo_api.get(f"companyinfo/{qbo_api.realm}")) == "3200"


def test_a_token_of_one_realm_is_refused_for_another_with_403(qbo_api):
    other = qbo_api.app.create_realm()
    resp = qbo_api.session.get(f"{qbo_api.server.url}/v3/company/{other.id}/companyinfo/{other.id}",
                               params={"minorversion": "75"},
                               headers={"Authorization": "Bearer " + qbo_api.tokens["access_token"]})
    assert resp.status_code == 403 and fault_code(resp) == "3100"


def test_minorversion_is_required_and_at_least_75(qbo_api):
    resp = qbo_api.get(f"companyinfo/{qbo_api.realm}", minorversion=False)
    assert resp.status_code == 400 and fault_code(resp) == "2020"
    resp = qbo_api.get(f"companyinfo/{qbo_api.realm}", params={"minorversion": "74"})
    assert resp.status_code == 400 and fault_code(resp) == "2010"
    assert qbo_api.get(f"companyinfo/{qbo_api.realm}", params={"minorversion": "75"}).status_code == 200


def test_every_answer_carries_an_intuit_tid(qbo_api):
    answers = [qbo_api.get(f"companyinfo/{qbo_api.realm}"), qbo_api.get("vendor/99999"),
               qbo_api.get("companyinfo/1", token=None)]
    tids = {r.headers["intuit_tid"] for r in answers}
    assert len(tids) == 3


def test_companyinfo_is_read_at_the_realm_id(qbo_api):
    info = qbo_api.read("CompanyInfo", qbo_api.realm)
    assert info["CompanyName"] == "Midwest Precision Components Inc."
    assert info["Id"] == "1" and info["SyncToken"] == "0"


# ---------------------------------------------------------------- create, read, update

def test_create_assigns_id_synctoken_and_metadata_in_the_servers_clock(qbo_api):
    v = _vendor(qbo_api)
    assert v["Id"].isdigit() and v["SyncToken"] == "0"
    assert v["MetaData"]["CreateTime"] == v["MetaData"]["LastUpdatedTime"]
    assert v["MetaData"]["CreateTime"][-6:] in ("-08:00", "-07:00")     # the company's Pacific time
    assert qbo_api.read("Vendor", v["Id"]) == v


def test_sparse_update_keeps_omitted_fields_and_full_update_drops_them(qbo_api):
    v = _vendor(qbo_api, CompanyName="Acme Castings LLC", AcctNum="A-1")
    resp = qbo_api.post("vendor", json={"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "A-2"})
    sparse = resp.json()["Vendor"]
    assert sparse["SyncToken"] == "1" and sparse["AcctNum"] == "A-2"
    assert sparse["CompanyName"] == "Acme Castings LLC"
    resp = qbo_api.post("vendor", json={"Id": v["Id"], "SyncToken": "1", "DisplayName": "Acme Castings"})
    full = resp.json()["Vendor"]
    assert full["SyncToken"] == "2" and "CompanyName" not in full and "AcctNum" not in full
    assert full["MetaData"]["CreateTime"] == v["MetaData"]["CreateTime"]


def test_a_stale_synctoken_is_refused_with_5010(qbo_api):
    v = _vendor(qbo_api)
    qbo_api.post("vendor", json={"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "1"})
    resp = qbo_api.post("vendor", json={"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "2"})
    assert resp.status_code == 400 and fault_code(resp) == "5010"
    error = resp.json()["Fault"]["Error"][0]
    assert error["Message"] == "Stale Object Error" and "Stale Object" in error["Detail"]
    assert resp.json()["Fault"]["type"] == "ValidationFault" and resp.json()["time"]


def test_reading_an_unknown_id_gives_610(qbo_api):
    resp = qbo_api.get("vendor/424242")
    assert resp.status_code == 400 and fault_code(resp) == "610"


def test_empty_strings_and_read_only_fields_in_a_payload_are_ignored(qbo_api):
    v = qbo_api.create("Vendor", {"DisplayName": "Python Quickbooks Style", "Title": "", "Balance": 12,
                                  "SyncToken": 0, "domain": "QBO", "sparse": False, "CurrencyRef": None})
    assert v["Balance"] == 0 and "Title" not in v and v["SyncToken"] == "0"


# ---------------------------------------------------------------- names

def test_display_names_are_unique_across_vendors_customers_and_employees_ignoring_case(qbo_api):
    _vendor(qbo_api, "Summit Works")
    for entity in ("Customer", "Employee", "Vendor"):
        resp = qbo_api.post(entity.lower(), json={"DisplayName": "SUMMIT works"})
        assert resp.status_code == 400 and fault_code(resp) == "6240", entity
    # a name from the seeded customers collides with a new vendor too
    resp = qbo_api.post("vendor", json={"DisplayName": "summit packaging co."})
    assert fault_code(resp) == "6240"


def test_an_inactive_vendor_still_holds_its_name(qbo_api):
    v = _vendor(qbo_api, "Sleeping Supplier")
    qbo_api.app.deactivate("Vendor", v["Id"])
    resp = qbo_api.post("customer", json={"DisplayName": "Sleeping Supplier"})
    assert fault_code(resp) == "6240"


def test_renaming_frees_the_old_name_and_takes_the_new_one(qbo_api):
    v = _vendor(qbo_api, "Old Name")
    qbo_api.post("vendor", json={"Id": v["Id"], "SyncToken": "0", "sparse": True, "DisplayName": "New Name"})
    assert qbo_api.post("customer", json={"DisplayName": "Old Name"}).status_code == 200
    assert fault_code(qbo_api.post("customer", json={"DisplayName": "new name"})) == "6240"


@pytest.mark.parametrize("name,code", [("", "2020"), ("x" * 501, "2050"), ("A:B", "2040"), ("A\tB", "2040"),
                                       ("A\nB", "2040")])
def test_display_name_rules(qbo_api, name, code):
    resp = qbo_api.post("vendor", json={"DisplayName": name} if name else {"CompanyName": "No display name"})
    assert resp.status_code == 400 and fault_code(resp) == code
    assert resp.json()["Fault"]["Error"][0]["element"] == "DisplayName"


def test_a_500_character_display_name_is_accepted(qbo_api):
    assert _vendor(qbo_api, "y" * 500)["DisplayName"] == "y" * 500


def test_account_names_are_unique_and_refuse_colons_and_quotes(qbo_api):
    assert fault_code(qbo_api.post("account", json={"Name": "raw MATERIALS", "AccountType": "Expense"})) == "6240"
    assert fault_code(qbo_api.post("account", json={"Name": 'Bad "name"', "AccountType": "Expense"})) == "2040"
    assert fault_code(qbo_api.post("account", json={"Name": "Long", "AccountType": "Expense",
                                                    "AcctNum": "12345678"})) == "2050"
    made = qbo_api.create("Account", {"Name": "Scrap", "AccountType": "Other Expense"})
    assert made["Classification"] == "Expense" and made["FullyQualifiedName"] == "Scrap"


def test_sub_departments_get_a_full_name_under_their_parent(qbo_api):
    plants = qbo_api.app.find("Department", Name="Plants")[0]
    made = qbo_api.create("Department", {"Name": "Plant 9 - Erie", "ParentRef": {"value": plants["Id"]}})
    assert made["FullyQualifiedName"] == "Plants:Plant 9 - Erie" and made["SubDepartment"] is True


# ---------------------------------------------------------------- purchase orders

def test_a_purchase_order_totals_its_lines_in_decimal_and_numbers_them(qbo_api):
    po = _po(qbo_api, _vendor(qbo_api), amounts=(0.1, 0.2, 100.005))
    assert po["TotalAmt"] == 100.31
    assert [ln["Id"] for ln in po["Line"]] == ["1", "2", "3"]
    assert po["POStatus"] == "Open"
    assert po["VendorRef"]["name"] == "Acme Castings"


def test_line_ids_stay_stable_across_updates_when_the_client_sends_them(qbo_api):
    po = _po(qbo_api, _vendor(qbo_api), amounts=(10, 20, 30))
    lines = [po["Line"][0], po["Line"][2], {k: v for k, v in po["Line"][1].items() if k != "Id"}]
    lines[1] = dict(lines[1], Amount=35)
    resp = qbo_api.post("purchaseorder", json={**po, "Line": lines, "sparse": True})
    updated = resp.json()["PurchaseOrder"]
    assert [ln["Id"] for ln in updated["Line"]] == ["1", "3", "4"]
    assert updated["TotalAmt"] == 65


def test_required_refs_on_a_purchase_order(qbo_api):
    v = _vendor(qbo_api)
    full = {"VendorRef": {"value": v["Id"]}, "APAccountRef": {"value": _acct(qbo_api, "Accounts Payable (A/P)")["Id"]},
            "Line": [{"Amount": 1, "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": _acct(qbo_api, "Travel")["Id"]}}}]}
    for missing in ("VendorRef", "APAccountRef", "Line"):
        body = {k: v for k, v in full.items() if k != missing}
        resp = qbo_api.post("purchaseorder", json=body)
        assert resp.status_code == 400 and fault_code(resp) == "2020", missing
        assert resp.json()["Fault"]["Error"][0]["element"] == missing


def test_references_must_exist_and_be_active(qbo_api):
    v = _vendor(qbo_api)
    assert fault_code(qbo_api.post("purchaseorder", json={
        "VendorRef": {"value": "9999"}, "APAccountRef": {"value": _acct(qbo_api, "Accounts Payable (A/P)")["Id"]},
        "Line": [{"Amount": 1, "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "1"}}}]})) == "2500"
    qbo_api.app.deactivate("Vendor", v["Id"])
    resp = qbo_api.post("bill", json=_bill_body(qbo_api, v))
    assert fault_code(resp) == "610"
    other = _vendor(qbo_api, "Active Vendor")
    rental = _acct(qbo_api, "Equipment rental")                  # inactive in the dataset
    body = _bill_body(qbo_api, other)
    body["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"] = {"value": rental["Id"]}
    assert fault_code(qbo_api.post("bill", json=body)) == "610"
    body["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"] = {"value": "77777"}
    assert fault_code(qbo_api.post("bill", json=body)) == "2500"


def test_department_and_class_refs_must_exist_and_be_active(qbo_api):
    v = _vendor(qbo_api)
    closed = qbo_api.app.find("Department", Name="Plant 0 - Akron (closed)")[0]
    open_plant = qbo_api.app.find("Department", Name="Plant 1 - Columbus")[0]
    body = _bill_body(qbo_api, v)
    assert fault_code(qbo_api.post("bill", json={**body, "DepartmentRef": {"value": closed["Id"]}})) == "610"
    assert fault_code(qbo_api.post("bill", json={**body, "DepartmentRef": {"value": "888"}})) == "2500"
    body["Line"][0]["AccountBasedExpenseLineDetail"]["ClassRef"] = {"value": "999"}
    assert fault_code(qbo_api.post("bill", json=body)) == "2500"
    production = qbo_api.app.find("Class", Name="Production")[0]
    body["Line"][0]["AccountBasedExpenseLineDetail"]["ClassRef"] = {"value": production["Id"]}
    made = qbo_api.create("Bill", {**body, "DepartmentRef": {"value": open_plant["Id"]}})
    assert made["DepartmentRef"] == {"value": open_plant["Id"], "name": "Plants:Plant 1 - Columbus"}


def test_the_ap_account_must_be_an_accounts_payable_account(qbo_api):
    v = _vendor(qbo_api)
    resp = qbo_api.post("purchaseorder", json={
        "VendorRef": {"value": v["Id"]}, "APAccountRef": {"value": _acct(qbo_api, "Checking")["Id"]},
        "Line": [{"Amount": 1, "AccountBasedExpenseLineDetail": {
            "AccountRef": {"value": _acct(qbo_api, "Travel")["Id"]}}}]})
    assert resp.status_code == 400 and fault_code(resp) == "6000"
    assert resp.json()["Fault"]["Error"][0]["element"] == "APAccountRef"


def test_docnumber_is_at_most_21_characters(qbo_api):
    v = _vendor(qbo_api)
    resp = qbo_api.post("bill", json=_bill_body(qbo_api, v, doc="X" * 22))
    assert fault_code(resp) == "2050"
    assert qbo_api.create("Bill", _bill_body(qbo_api, v, doc="X" * 21))["DocNumber"] == "X" * 21


def test_a_duplicate_po_docnumber_gives_6140_unless_allowed(qbo_api):
    v = _vendor(qbo_api)
    first = _po(qbo_api, v, doc="PO-77")
    body = {k: first[k] for k in ("VendorRef", "APAccountRef", "Line")}
    resp = qbo_api.post("purchaseorder", json={**body, "DocNumber": "po-77"})
    assert resp.status_code == 400 and fault_code(resp) == "6140"
    assert f"TxnId={first['Id']}" in resp.json()["Fault"]["Error"][0]["Detail"]
    ok = qbo_api.post("purchaseorder", json={**body, "DocNumber": "PO-77"}, params={"include": "allowduplicatedocnum"})
    assert ok.status_code == 200


def test_bill_numbers_are_unique_per_vendor_only(qbo_api):
    a, b = _vendor(qbo_api, "Vendor A"), _vendor(qbo_api, "Vendor B")
    qbo_api.create("Bill", _bill_body(qbo_api, a, doc="INV-9"))
    assert fault_code(qbo_api.post("bill", json=_bill_body(qbo_api, a, doc="INV-9"))) == "6140"
    assert qbo_api.post("bill", json=_bill_body(qbo_api, b, doc="INV-9")).status_code == 200


# ---------------------------------------------------------------- bills and their links

def test_a_bill_line_links_to_a_po_line_of_the_same_vendor(qbo_api):
    v = _vendor(qbo_api)
    po = _po(qbo_api, v, amounts=(100, 50))
    link = {"TxnId": po["Id"], "TxnType": "PurchaseOrder", "TxnLineId": "2"}
    bill = qbo_api.create("Bill", _bill_body(qbo_api, v, amount=50, link=link))
    assert bill["Line"][0]["LinkedTxn"] == [link]
    assert qbo_api.read("Bill", bill["Id"])["Line"][0]["LinkedTxn"] == [link]
    po_now = qbo_api.read("PurchaseOrder", po["Id"])
    assert po_now["LinkedTxn"] == [{"TxnId": bill["Id"], "TxnType": "Bill"}]
    assert po_now["POStatus"] == "Open"                     # line 1 is not billed yet


def test_linking_a_missing_po_another_vendors_po_or_a_missing_line_is_refused(qbo_api):
    v, other = _vendor(qbo_api), _vendor(qbo_api, "Other Vendor")
    po = _po(qbo_api, v)
    theirs = _po(qbo_api, other, doc="PO-OTHER")
    cases = [({"TxnId": "5555", "TxnType": "PurchaseOrder", "TxnLineId": "1"}, "2500"),
             ({"TxnId": theirs["Id"], "TxnType": "PurchaseOrder", "TxnLineId": "1"}, "6000"),
             ({"TxnId": po["Id"], "TxnType": "PurchaseOrder", "TxnLineId": "9"}, "6000"),
             ({"TxnId": po["Id"], "TxnType": "Invoice", "TxnLineId": "1"}, "6000")]
    for link, code in cases:
        resp = qbo_api.post("bill", json=_bill_body(qbo_api, v, link=link, doc=None))
        assert resp.status_code == 400 and fault_code(resp) == code, link
    assert qbo_api.app.state("Bill") == []


def test_a_fully_billed_po_closes_and_reopens_when_the_bill_is_deleted(qbo_api):
    v = _vendor(qbo_api)
    po = _po(qbo_api, v, amounts=(100,))
    bill = qbo_api.create("Bill", _bill_body(qbo_api, v, amount=100,
                                             link={"TxnId": po["Id"], "TxnType": "PurchaseOrder", "TxnLineId": "1"}))
    assert qbo_api.read("PurchaseOrder", po["Id"])["POStatus"] == "Closed"
    resp = qbo_api.post("bill", json={"Id": bill["Id"], "SyncToken": bill["SyncToken"]},
                        params={"operation": "delete"})
    assert resp.json()["Bill"] == {"domain": "QBO", "status": "Deleted", "Id": bill["Id"]}
    reopened = qbo_api.read("PurchaseOrder", po["Id"])
    assert reopened["POStatus"] == "Open" and "LinkedTxn" not in reopened
    assert fault_code(qbo_api.get(f"bill/{bill['Id']}")) == "610"


def test_bill_balance_follows_total_until_marked_paid(qbo_api):
    v = _vendor(qbo_api)
    bill = qbo_api.create("Bill", _bill_body(qbo_api, v, amount=80))
    assert bill["Balance"] == 80 and bill["TotalAmt"] == 80
    assert bill["APAccountRef"]["name"] == "Accounts Payable (A/P)"
    assert bill["DueDate"] == bill["TxnDate"]
    qbo_api.app.mark_bill_paid(bill["Id"], amount=30)
    assert qbo_api.read("Bill", bill["Id"])["Balance"] == 50
    qbo_api.app.mark_bill_paid(bill["Id"])
    assert qbo_api.read("Bill", bill["Id"])["Balance"] == 0


def test_due_date_follows_the_vendor_terms(qbo_api):
    net30 = qbo_api.app.find("Term", Name="Net 30")[0]
    v = _vendor(qbo_api, TermRef={"value": net30["Id"]})
    bill = qbo_api.create("Bill", {**_bill_body(qbo_api, v), "TxnDate": "2026-01-10"})
    assert bill["DueDate"] == "2026-02-09"


def test_a_vendor_credit_totals_its_lines(qbo_api):
    v = _vendor(qbo_api)
    vc = qbo_api.create("VendorCredit", _bill_body(qbo_api, v, amount=12.5, doc="CM-1"))
    assert vc["TotalAmt"] == 12.5 and vc["Balance"] == 12.5


def test_currency_ref_is_accepted_only_when_multicurrency_is_on(qbo_api):
    v = _vendor(qbo_api)
    body = {**_bill_body(qbo_api, v), "CurrencyRef": {"value": "CAD"}, "ExchangeRate": 0.73}
    assert fault_code(qbo_api.post("bill", json=body)) == "6000"
    assert qbo_api.post("bill", json={**body, "CurrencyRef": {"value": "USD"}, "DocNumber": "USD-1"}).status_code == 200
    qbo_api.app.set_multicurrency(True)
    made = qbo_api.create("Bill", {**body, "DocNumber": "CAD-1"})
    assert made["CurrencyRef"]["value"] == "CAD" and made["ExchangeRate"] == 0.73


# ---------------------------------------------------------------- idempotency

def test_the_same_requestid_returns_the_original_answer_without_doing_the_work_twice(qbo_api):
    first = qbo_api.post("vendor", json={"DisplayName": "Once Only"}, params={"requestid": "req-1"})
    again = qbo_api.post("vendor", json={"DisplayName": "Once Only"}, params={"requestid": "req-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert len(qbo_api.app.find("Vendor", DisplayName="Once Only")) == 1
    # another requestid does the work again and meets the duplicate name
    third = qbo_api.post("vendor", json={"DisplayName": "Once Only"}, params={"requestid": "req-2"})
    assert fault_code(third) == "6240"


def test_requestids_are_per_realm(qbo_api):
    other_realm = qbo_api.app.create_realm()
    other = QboApi(qbo_api.server, realm_id=other_realm.id)
    a = qbo_api.post("vendor", json={"DisplayName": "Realm A Vendor"}, params={"requestid": "shared"})
    b = other.post("vendor", json={"DisplayName": "Realm B Vendor"}, params={"requestid": "shared"})
    assert a.json()["Vendor"]["DisplayName"] == "Realm A Vendor"
    assert b.json()["Vendor"]["DisplayName"] == "Realm B Vendor"
    assert qbo_api.app.find("Vendor", realm_id=other_realm.id, DisplayName="Realm A Vendor") == []


def test_a_requestid_longer_than_50_characters_is_refused(qbo_api):
    resp = qbo_api.post("vendor", json={"DisplayName": "Too Long Id"}, params={"requestid": "r" * 51})
    assert resp.status_code == 400 and fault_code(resp) == "6000"


# ---------------------------------------------------------------- realms

def test_realms_keep_their_own_data(qbo_api):
    other_realm = qbo_api.app.create_realm(company_name="Second Co")
    other = QboApi(qbo_api.server, realm_id=other_realm.id)
    _vendor(qbo_api, "Only In Default")
    assert other.rows("select * from Vendor where DisplayName = 'Only In Default'") == []
    assert other.post("vendor", json={"DisplayName": "Only In Default"}).status_code == 200
    assert other.read("CompanyInfo", other_realm.id)["CompanyName"] == "Second Co"

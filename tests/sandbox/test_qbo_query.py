"""QBO sandbox contract: the query language (paging caps, escaping, case, operators, Active default)."""
import time

import pytest

from sandbox.testing import fault_code


@pytest.fixture
def many_vendors(qbo_api):
    """1,050 extra vendors, made in-process (the HTTP path is covered by the batch tests)."""
    for i in range(1, 1051):
        qbo_api.app.create("Vendor", {"DisplayName": f"Paging Vendor {i:04d}"})
    return qbo_api


def test_maxresults_is_capped_at_1000_and_defaults_to_100(many_vendors):
    api = many_vendors
    total = api.query("select count(*) from Vendor").json()["QueryResponse"]["totalCount"]
    assert total == 1050 + 5
    page = api.query("select * from Vendor maxresults 5000").json()["QueryResponse"]
    assert len(page["Vendor"]) == 1000 and page["maxResults"] == 1000 and page["startPosition"] == 1
    assert len(api.rows("select * from Vendor")) == 100


def test_startposition_is_one_based_and_pages_do_not_overlap(many_vendors):
    api = many_vendors
    first = api.rows("SELECT * FROM Vendor STARTPOSITION 1 MAXRESULTS 1000")
    second = api.query("SELECT * FROM Vendor STARTPOSITION 1001 MAXRESULTS 1000").json()["QueryResponse"]
    assert second["startPosition"] == 1001 and len(second["Vendor"]) == 55
    ids = [v["Id"] for v in first] + [v["Id"] for v in second["Vendor"]]
    assert len(set(ids)) == len(ids) == 1055
    assert api.rows("select * from Vendor startposition 2 maxresults 1")[0]["Id"] == first[1]["Id"]
    assert api.query("select * from Vendor startposition 5000").json()["QueryResponse"] == {}


def test_a_backslash_escaped_quote_matches_and_values_compare_without_case(qbo_api):
    made = qbo_api.create("Vendor", {"DisplayName": "Adam's Candy Shop"})
    for text in (r"select * from Vendor where DisplayName = 'Adam\'s Candy Shop'",
                 r"SELECT * FROM vendor WHERE displayname = 'aDAM\'S cANDY sHOP'",
                 r"Select * From Vendor Where DisplayName Like '%\'s candy%'"):
        rows = qbo_api.rows(text, "Vendor")
        assert [r["Id"] for r in rows] == [made["Id"]], text


def test_post_query_with_application_text_works_like_get(qbo_api):
    resp = qbo_api.query("select * from Account where AccountType = 'Accounts Payable'", method="POST")
    rows = resp.json()["QueryResponse"]["Account"]
    assert [a["Name"] for a in rows] == ["Accounts Payable (A/P)"]


def test_comparisons_in_and_orderby(qbo_api):
    names = [a["Name"] for a in qbo_api.rows("select * from Account where AcctNum >= '6400' and AcctNum < '6600' "
                                              "orderby AcctNum desc")]
    assert names == ["Safety & PPE", "Maintenance & repairs"]          # 6450 is inactive
    rows = qbo_api.rows("select * from Account where AccountType in ('Bank', 'accounts payable') orderby Name")
    assert [a["Name"] for a in rows] == ["Accounts Payable (A/P)", "Checking"]
    rows = qbo_api.rows("select * from Account where Name like 'freight%' ORDERBY Name DESC")
    assert [a["Name"] for a in rows] == ["Freight out", "Freight in"]


def test_inactive_rows_are_hidden_unless_active_is_asked_for(qbo_api):
    hidden = "select * from Department where Name = 'Plant 0 - Akron (closed)'"
    assert qbo_api.rows(hidden) == []
    shown = qbo_api.rows("select * from Department where Name = 'Plant 0 - Akron (closed)' and Active IN (true, false)")
    assert len(shown) == 1 and shown[0]["Active"] is False
    only_inactive = qbo_api.rows("select * from Account where Active = false")
    assert [a["Name"] for a in only_inactive] == ["Equipment rental"]
    count = qbo_api.query("select count(*) from Department").json()["QueryResponse"]["totalCount"]
    assert count == 7


def test_metadata_last_updated_time_filters_in_either_spelling(qbo_api):
    old = qbo_api.create("Vendor", {"DisplayName": "Before The Mark"})
    time.sleep(1.1)
    mark = qbo_api.create("Vendor", {"DisplayName": "At The Mark"})["MetaData"]["LastUpdatedTime"]
    newer = qbo_api.rows(f"select * from Vendor where MetaData.LastUpdatedTime >= '{mark}'")
    assert [v["DisplayName"] for v in newer] == ["At The Mark"]
    assert qbo_api.rows(f"select * from Vendor where Metadata.LastUpdatedTime > '{mark}'") == []
    older = qbo_api.rows(f"select * from Vendor where Metadata.LastUpdatedTime < '{mark}' "
                         "orderby MetaData.LastUpdatedTime desc maxresults 1")
    assert older[0]["Id"] == old["Id"]


def test_refs_and_numbers_compare_by_value(qbo_api):
    v = qbo_api.create("Vendor", {"DisplayName": "Ref Vendor"})
    ap = qbo_api.app.find("Account", Name="Accounts Payable (A/P)")[0]
    travel = qbo_api.app.find("Account", Name="Travel")[0]
    for amount, doc in ((10, "A"), (250, "B")):
        qbo_api.create("PurchaseOrder", {"VendorRef": {"value": v["Id"]}, "APAccountRef": {"value": ap["Id"]},
                                         "DocNumber": doc, "Line": [{"Amount": amount, "AccountBasedExpenseLineDetail":
                                                                     {"AccountRef": {"value": travel["Id"]}}}]})
    rows = qbo_api.rows(f"select * from PurchaseOrder where VendorRef = '{v['Id']}' and TotalAmt > '100'")
    assert [p["DocNumber"] for p in rows] == ["B"]
    assert [p["DocNumber"] for p in qbo_api.rows("select * from PurchaseOrder where DocNumber = 'a'")] == ["A"]


@pytest.mark.parametrize("text", [
    "select * from Vendor where DisplayName = \u2018Curly\u2019",       # curly quotes break QBO's parser too
    "select * from Vendor where DisplayName = 'A' or DisplayName = 'B'",
    "select DisplayName from Vendor",
    "select * from Vendor where",
])
def test_statements_qbo_cannot_parse_give_fault_4000(qbo_api, text):
    resp = qbo_api.query(text)
    assert resp.status_code == 400 and fault_code(resp) == "4000"


def test_an_unknown_entity_gives_4001(qbo_api):
    resp = qbo_api.query("select * from Gizmo")
    assert resp.status_code == 400 and fault_code(resp) == "4001"

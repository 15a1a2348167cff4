"""Every messy case of the JAGGAER dialect document is in the generated data, and `Dataset.cases` finds it."""
import unicodedata
from datetime import date
from decimal import Decimal

import pytest

from sandbox.datagen import MALFORMED_CASES, generate, malformed_ids

REQUIRED_CASES = (
    "name_apostrophe", "name_colon", "name_tab", "name_accents", "name_non_latin", "name_over_500_chars",
    "supplier_name_equals_qbo_customer", "duplicate_supplier_case", "duplicate_supplier_trailing_space",
    "qbo_vendor_other_case", "supplier_renamed", "po_number_over_21_chars", "invoice_po_unknown",
    "invoice_po_draft", "invoice_po_cancelled", "invoice_gl_without_qbo", "invoice_department_without_qbo",
    "credit_memos", "invoice_number_reused", "amounts_over_two_decimals", "invoice_total_mismatch", "non_usd",
    "missing_required_fields", "malformed_dates", *MALFORMED_CASES, "touch_only",
)
ID_FIELDS = {"suppliers": "companyId", "purchase_orders": "poId", "invoices": "invoiceId",
             "gl_accounts": "code", "departments": "code"}


class Lookup:
    def __init__(self, ds):
        self.ds = ds
        self.by_id = {e: {r[f]: r for r in ds.jaggaer[e]} for e, f in ID_FIELDS.items()}

    def __call__(self, entity, record_id):
        return self.by_id[entity][record_id]

    def records(self, case, entity):
        return [self(entity, i) for i in self.ds.cases[case][entity]]


@pytest.fixture(scope="module", params=["small", "demo"])
def data(request):
    return Lookup(generate(request.param, seed=42))


@pytest.fixture(scope="module")
def small():
    return Lookup(generate("small", seed=42))


@pytest.mark.parametrize("case", REQUIRED_CASES)
def test_every_case_is_present_and_names_records_that_exist(data, case):
    assert case in data.ds.cases
    entry = data.ds.cases[case]
    named = [(e, i) for e in ID_FIELDS for i in entry.get(e, [])]
    assert named, f"{case} names no records"
    for entity, record_id in named:
        assert data(entity, record_id)


def test_all_cases_name_existing_records_for_another_seed():
    lookup = Lookup(generate("small", seed=1234))
    for case in REQUIRED_CASES:
        for entity in ID_FIELDS:
            for record_id in lookup.ds.cases[case].get(entity, []):
                lookup(entity, record_id)


def test_names_with_awkward_characters(data):
    assert all("'" in s["companyName"] for s in data.records("name_apostrophe", "suppliers"))
    assert all(":" in s["companyName"] for s in data.records("name_colon", "suppliers"))
    assert all("\t" in s["companyName"] for s in data.records("name_tab", "suppliers"))
    for s in data.records("name_accents", "suppliers"):
        assert any(unicodedata.decomposition(ch) for ch in s["companyName"] if not ch.isascii())
    scripts = {unicodedata.name(ch).split()[0] for s in data.records("name_non_latin", "suppliers")
               for ch in s["companyName"] if ch.isalpha()}
    assert {"CJK", "CYRILLIC"} <= scripts
    assert all(len(s["companyName"]) > 500 for s in data.records("name_over_500_chars", "suppliers"))


def test_supplier_name_equals_a_qbo_customer(data):
    (sup,) = data.records("supplier_name_equals_qbo_customer", "suppliers")
    assert sup["companyName"] in [c["DisplayName"] for c in data.ds.qbo["Customer"]]
    assert sup["companyName"] not in [v["DisplayName"] for v in data.ds.qbo["Vendor"]]


def test_the_same_supplier_twice(data):
    a, b = data.records("duplicate_supplier_case", "suppliers")
    assert a["companyName"] != b["companyName"] and a["companyName"].casefold() == b["companyName"].casefold()
    a, b = data.records("duplicate_supplier_trailing_space", "suppliers")
    assert a["companyName"] != b["companyName"] and a["companyName"].strip() == b["companyName"].strip()


def test_qbo_vendors_match_some_suppliers_in_another_letter_case(data):
    vendors = {v["DisplayName"] for v in data.ds.qbo["Vendor"]}
    entry = data.ds.cases["qbo_vendor_other_case"]
    assert len(entry["suppliers"]) >= 2
    for sup, display in zip(data.records("qbo_vendor_other_case", "suppliers"), entry["qbo_display_name"],
                            strict=True):
        assert display in vendors
        assert display != sup["companyName"] and display.lower() == sup["companyName"].lower()


def test_a_renamed_supplier_has_documents_under_its_old_name(data):
    entry = data.ds.cases["supplier_renamed"]
    (sup,) = data.records("supplier_renamed", "suppliers")
    assert sup["companyName"] == entry["new_name"] != entry["old_name"]
    old = [p for p in data.records("supplier_renamed", "purchase_orders")
           if p["supplier"]["companyName"] == entry["old_name"]]
    assert old and all(p["supplier"]["companyId"] == sup["companyId"] for p in old)


def test_po_numbers_longer_than_qbo_allows(data):
    for po in data.records("po_number_over_21_chars", "purchase_orders"):
        assert len(po["poNumber"]) > 21
    numbers = {p["poNumber"] for p in data.records("po_number_over_21_chars", "purchase_orders")}
    assert any(line["poNumber"] in numbers
               for inv in data.records("po_number_over_21_chars", "invoices") for line in inv["lineList"])


def test_invoices_for_unknown_draft_and_cancelled_pos(data):
    po_numbers = {p.get("poNumber") for p in data.ds.jaggaer["purchase_orders"]}
    for inv in data.records("invoice_po_unknown", "invoices"):
        assert all(line["poNumber"] and line["poNumber"] not in po_numbers for line in inv["lineList"])
    by_number = {p.get("poNumber"): p for p in data.ds.jaggaer["purchase_orders"]}
    for case, status in (("invoice_po_draft", "Draft"), ("invoice_po_cancelled", "Cancelled")):
        for inv in data.records(case, "invoices"):
            assert {by_number[line["poNumber"]]["status"] for line in inv["lineList"]} == {status}


def test_invoice_lines_naming_gl_codes_and_departments_qbo_lacks(data):
    qbo_numbers = {a.get("AcctNum") for a in data.ds.qbo["Account"]}
    qbo_names = {a["Name"] for a in data.ds.qbo["Account"]}
    jag_names = {g["code"]: g["name"] for g in data.ds.jaggaer["gl_accounts"]}
    for inv in data.records("invoice_gl_without_qbo", "invoices"):
        codes = {line["accountingSegments"]["Account"] for line in inv["lineList"]}
        assert any(c not in qbo_numbers and jag_names[c] not in qbo_names for c in codes)
    qbo_depts = {d["Name"] for d in data.ds.qbo["Department"]}
    dept_names = {d["code"]: d["name"] for d in data.ds.jaggaer["departments"]}
    for inv in data.records("invoice_department_without_qbo", "invoices"):
        codes = {line["accountingSegments"]["DepartmentCode"] for line in inv["lineList"]}
        assert any(dept_names[c] not in qbo_depts and c not in qbo_depts for c in codes)


def test_credit_memos_have_negative_totals(data):
    memos = data.records("credit_memos", "invoices")
    assert len(memos) >= 2
    assert any(line.get("poNumber") for m in memos for line in m["lineList"])
    for memo in memos:
        assert memo["invoiceType"] == "Credit Memo" and Decimal(memo["total"]["value"]) < 0


def test_one_invoice_number_from_two_suppliers(data):
    a, b = data.records("invoice_number_reused", "invoices")
    assert a["invoiceNumber"] == b["invoiceNumber"] and a["supplierInvoiceNumber"] == b["supplierInvoiceNumber"]
    assert a["supplier"]["companyId"] != b["supplier"]["companyId"]


def test_amounts_with_more_than_two_decimals_and_a_total_that_does_not_add_up(data):
    def places(value):
        return -Decimal(value).as_tuple().exponent

    records = data.records("amounts_over_two_decimals", "invoices") + data.records(
        "amounts_over_two_decimals", "purchase_orders")
    for r in records:
        assert any(places(line[k]) > 2 for line in r["lineList"] for k in ("unitPrice", "amount"))
    for inv in data.records("invoice_total_mismatch", "invoices"):
        assert sum(Decimal(line["amount"]) for line in inv["lineList"]) != Decimal(inv["total"]["value"])


def test_the_other_invoices_add_up(data):
    broken = set(data.ds.cases["invoice_total_mismatch"]["invoices"]) | {
        r["id"] for r in data.ds.cases["missing_required_fields"]["records"]} | malformed_ids(data.ds)["invoices"]
    for inv in data.ds.jaggaer["invoices"]:
        if inv["invoiceId"] not in broken:
            assert sum(Decimal(line["amount"]) for line in inv["lineList"]) == Decimal(inv["total"]["value"])


def test_non_usd_supplier_and_invoices(data):
    assert all(s["currency"] != "USD" for s in data.records("non_usd", "suppliers"))
    invoices = data.records("non_usd", "invoices")
    assert invoices and all(i["currency"] != "USD" and i["total"]["currency"] == i["currency"] for i in invoices)


def test_missing_fields_and_malformed_dates(data):
    def get(record, field):
        node = record
        for part in field.replace("[", ".").replace("]", "").split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        return node

    missing = data.ds.cases["missing_required_fields"]["records"]
    assert {m["entity"] for m in missing} >= {"suppliers", "invoices"}
    for m in missing:
        with pytest.raises(KeyError):
            get(data(m["entity"], m["id"]), m["field"])
    malformed = data.ds.cases["malformed_dates"]["records"]
    assert len(malformed) >= 2
    for m in malformed:
        value = get(data(m["entity"], m["id"]), m["field"])
        assert value == m["value"]
        with pytest.raises(ValueError):
            date.fromisoformat(value)


def test_qbo_chart_matches_by_number_by_name_only_misses_one_and_has_one_inactive(small):
    cases, qbo = small.ds.cases, small.ds.qbo["Account"]
    jag = {g["code"]: g["name"] for g in small.ds.jaggaer["gl_accounts"]}
    by_num = {a.get("AcctNum"): a for a in qbo}
    by_name = {a["Name"]: a for a in qbo}
    for code in cases["gl_qbo_name_only"]["gl_accounts"]:
        assert code not in by_num and jag[code] in by_name
    (missing,) = cases["gl_without_qbo"]["gl_accounts"]
    assert missing not in by_num and jag[missing] not in by_name
    (inactive,) = cases["gl_qbo_inactive"]["gl_accounts"]
    assert by_num[inactive]["Active"] is False


def test_ties_on_modification_time_exist_for_stable_ordering(small):
    sups = small.records("same_lastmodtime", "suppliers")
    assert len(sups) >= 3 and len({s["lastModTime"] for s in sups}) == 1


def test_each_malformed_case_names_its_field_value_reason_and_correction(data):
    from sync.transforms.validation import validate

    for name in MALFORMED_CASES:
        case = data.ds.cases[name]
        assert case["reason"] and case["records"] and case["corrections"], name
        for record in case["records"]:
            raw = data(record["entity"], record["id"])
            finding = validate(record["entity"], raw)
            if name == "po_overbilled":          # well formed: only the PO line's open quantity says no
                assert finding is None
                continue
            assert finding is not None and finding.reason == case["reason"], (name, finding)
            assert record["field"] in {p.field for p in finding.problems}, (name, finding.problems)
        for correction in case["corrections"]:
            assert validate(correction["entity"], correction["record"]) is None, name


def test_touch_only_names_one_well_formed_record_of_each_kind(data):
    from sync.transforms.validation import validate

    for entity in ("suppliers", "purchase_orders", "invoices"):
        [record_id] = data.ds.cases["touch_only"][entity]
        assert validate(entity, data(entity, record_id)) is None

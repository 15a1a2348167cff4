"""The validation of JAGGAER records (sync/transforms/validation.py): pure, so property-based and fast.

Hypothesis generates records as the contract types them and mutates one field at a time into a malformed value:
every record ends valid or held with a reason naming the field, never an exception, and what the transforms build
from a valid record carries only parsed decimals."""

import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.transforms.common import InvalidRecord
from sync.transforms.invoices import invoice_draft
from sync.transforms.purchase_orders import purchase_order_draft
from sync.transforms.validation import INVOICE_STATUSES, PO_STATUSES, REASONS, shown, validate
from sync.transforms.vendors import content_digest, supplier_to_vendor
from tests.sync.validation_strategies import (
    RECORDS,
    malformed_codes,
    malformed_currencies,
    malformed_dates,
    malformed_decimals,
    malformed_line_numbers,
    malformed_statuses,
    malformed_timestamps,
)

FAST = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SEGMENTS = {"gl_segment": "Account", "department_segment": "DepartmentCode"}


def po(**changes):
    record = {"poId": "PO-1", "poNumber": "4500012345", "status": "Issued", "orderDate": "2026-11-18",
              "supplier": {"companyId": "C-1", "companyName": "Acme"}, "currency": "USD",
              "total": {"currency": "USD", "value": "1250.00"},
              "accountingSegments": {"Account": "6100", "DepartmentCode": "PLANT-2"},
              "lineList": [{"lineNumber": 1, "description": "Casting", "quantity": "10", "unitPrice": "125.00",
                            "amount": "1250.00", "accountingSegments": {"Account": "6100"}}],
              "lastUpdate": "2026-11-18T08:00:00Z"}
    record.update(changes)
    return record


def with_line(record, **changes):
    record = copy.deepcopy(record)
    record["lineList"][0].update(changes)
    return record


def set_path(record: dict, path: str, value) -> dict:
    record = copy.deepcopy(record)
    target = record
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    target[parts[-1]] = value
    return record


# ---------------------------------------------------------------------------- examples

def test_the_contracts_own_examples_are_valid():
    assert validate("purchase_orders", po()) is None
    assert validate("gl_accounts", {"code": "6100", "name": "Raw materials", "active": True,
                                    "lastModTime": "2026-11-20T10:15:00Z"}) is None


@pytest.mark.parametrize("value", ["$125.00", "125,00", "1,250.00", "12O.00", "1.25E2", "NaN", "Infinity",
                                   "12 5.00", "+125", 125.0, 125, True, "", "١٢٥"])
def test_a_unit_price_that_is_not_a_plain_decimal_string_is_held_naming_field_value_and_expectation(value):
    finding = validate("purchase_orders", with_line(po(), unitPrice=value))
    assert finding.reason == "invalid_record"
    [problem] = finding.problems
    assert problem.field == "lineList[0].unitPrice" and problem.value == shown(value)
    assert "decimal string" in problem.expected
    assert "lineList[0].unitPrice" in finding.message and shown(value) in finding.message


def test_json_numbers_are_refused_and_the_message_says_why():
    [problem] = validate("purchase_orders", with_line(po(), quantity=10)).problems
    assert "JSON numbers are refused" in problem.expected


def test_a_long_or_strange_value_is_shown_cut_and_escaped():
    value = "\x00" + "9" * 500
    [problem] = validate("purchase_orders", with_line(po(), amount=value)).problems
    assert len(problem.value) <= 60 and "\\x00" in problem.value and problem.value.endswith("...")


def test_every_bad_field_is_named_not_just_the_first():
    record = po(orderDate="2026-02-30", currency="US$", status="Sent")
    fields = {p.field for p in validate("purchase_orders", record).problems}
    assert fields == {"orderDate", "currency", "status"}


@pytest.mark.parametrize("changes,reason", [
    ({"quantity": "-10", "amount": "1250.00"}, "quantity_not_positive"),
    ({"quantity": "0", "amount": "0", "unitPrice": "125.00"}, "quantity_not_positive"),
    ({"unitPrice": "-125.00", "amount": "-1250.00"}, "unit_price_negative"),
    ({"amount": "1250.02"}, "line_amount_mismatch"),
])
def test_a_line_that_contradicts_itself_has_its_own_reason(changes, reason):
    record = with_line(po(), **changes)
    record["total"]["value"] = record["lineList"][0]["amount"]
    assert validate("purchase_orders", record).reason == reason


def test_quantity_times_price_may_differ_from_the_amount_by_a_cent():
    record = with_line(po(), quantity="3", unitPrice="0.3333", amount="1.00")
    record["total"]["value"] = "1.00"
    assert validate("purchase_orders", record) is None


def test_a_total_equal_to_the_exact_sum_of_lines_with_more_decimals_is_not_a_mismatch():
    lines = [{"lineNumber": n, "quantity": "1", "unitPrice": "10.005", "amount": "10.005",
              "accountingSegments": {"Account": "6100"}} for n in (1, 2, 3, 4)]
    assert validate("purchase_orders", po(lineList=lines, total={"currency": "USD", "value": "40.02"})) is None
    assert validate("purchase_orders", po(lineList=lines, total={"currency": "USD", "value": "40.04"})) is None
    assert validate("purchase_orders", po(lineList=lines,
                                          total={"currency": "USD", "value": "40.06"})).reason == "total_mismatch"


def test_a_total_that_is_not_the_sum_of_its_lines_is_held():
    finding = validate("purchase_orders", po(total={"currency": "USD", "value": "1300.00"}))
    assert finding.reason == "total_mismatch" and "1250.00" in finding.message and "1300.00" in finding.message


def test_credit_memos_are_negative_or_positive_but_of_one_sign():
    memo = {"invoiceId": "INV-1", "invoiceNumber": "CM-1", "invoiceType": "Credit Memo",
            "workflowStatus": "Approved", "invoiceDate": "2026-11-19", "supplier": {"companyId": "C-1"},
            "currency": "USD", "total": {"currency": "USD", "value": "-250.00"},
            "lineList": [{"lineNumber": 1, "quantity": "-2", "unitPrice": "125.00", "amount": "-250.00",
                          "accountingSegments": {"Account": "6100"}}]}
    assert validate("invoices", memo) is None
    positive = copy.deepcopy(memo)
    positive["total"]["value"] = "250.00"
    positive["lineList"][0].update(quantity="2", amount="250.00")
    assert validate("invoices", positive) is None
    mixed = copy.deepcopy(memo)
    mixed["lineList"].append({"lineNumber": 2, "quantity": "1", "unitPrice": "10.00", "amount": "10.00"})
    mixed["total"]["value"] = "-240.00"
    assert validate("invoices", mixed).reason == "line_signs_mixed"
    wrong_quantity = copy.deepcopy(memo)
    wrong_quantity["lineList"][0]["quantity"] = "2"               # -250 with +2 x 125
    assert validate("invoices", wrong_quantity).reason == "quantity_not_positive"


def test_an_invoice_with_a_negative_line_is_held_it_is_not_a_credit_memo():
    invoice = {"invoiceId": "INV-1", "invoiceNumber": "I-1", "invoiceType": "Invoice", "workflowStatus": "Approved",
               "invoiceDate": "2026-11-19", "supplier": {"companyId": "C-1"},
               "total": {"currency": "USD", "value": "-5.00"},
               "lineList": [{"lineNumber": 1, "amount": "-5.00", "accountingSegments": {"Account": "6100"}}]}
    assert validate("invoices", invoice).reason == "amount_negative"


def test_catalog_rows_and_suppliers_are_checked_too():
    assert validate("departments", {"code": "", "name": "Plant", "active": "yes"}).reason == "invalid_record"
    finding = validate("suppliers", {"companyId": "C-1", "companyName": "Acme", "active": "true",
                                     "currency": "usd", "lastModTime": "yesterday"})
    assert {p.field for p in finding.problems} == {"active", "currency", "lastModTime"}
    assert validate("suppliers", "not an object").problems[0].field == "(record)"


# ---------------------------------------------------------------------------- properties

@FAST
@given(st.sampled_from(sorted(RECORDS)).flatmap(lambda kind: st.tuples(st.just(kind), RECORDS[kind]())))
def test_generated_records_from_the_contract_are_valid_and_transform_to_parsed_decimals(item):
    kind, record = item
    assert validate(kind, record) is None
    if kind == "suppliers":
        draft = supplier_to_vendor(record)
        assert content_digest(draft.payload) == content_digest(supplier_to_vendor(
            dict(record, lastModTime="2030-01-01T00:00:00Z")).payload)
        return
    make = purchase_order_draft if kind == "purchase_orders" else invoice_draft
    draft = make(record, **SEGMENTS)
    for line in draft.lines:
        assert isinstance(line.amount, Decimal) and line.amount >= 0     # a vendor credit is sent positive
        assert line.qty is None or line.qty > 0
        assert line.quantity is None or Decimal(line.quantity)          # only plain decimals reach the description


def _typed_fields(kind: str, record: dict):
    """(path, strategy of malformed values) for every typed field of the record."""
    out = []
    if kind == "suppliers":
        out += [("companyId", malformed_codes()), ("currency", malformed_currencies()),
                ("lastModTime", malformed_timestamps())]
        return out
    out += [("total.value", malformed_decimals()), ("currency", malformed_currencies()),
            ("total.currency", malformed_currencies()), ("supplier.companyId", malformed_codes()),
            ("lastUpdate", malformed_timestamps())]
    if kind == "purchase_orders":
        out += [("poId", malformed_codes()), ("poNumber", malformed_codes()), ("orderDate", malformed_dates()),
                ("status", malformed_statuses(PO_STATUSES))]
    else:
        out += [("invoiceId", malformed_codes()), ("invoiceNumber", malformed_codes()),
                ("invoiceDate", malformed_dates()), ("workflowStatus", malformed_statuses(INVOICE_STATUSES))]
    for n in range(len(record["lineList"])):
        out += [(f"lineList[{n}].amount", malformed_decimals()), (f"lineList[{n}].quantity", malformed_decimals()),
                (f"lineList[{n}].unitPrice", malformed_decimals()),
                (f"lineList[{n}].lineNumber", malformed_line_numbers())]
    return out


@st.composite
def mutated(draw):
    kind = draw(st.sampled_from(sorted(RECORDS)))
    record = draw(RECORDS[kind]())
    path, values = draw(st.sampled_from(_typed_fields(kind, record)))
    return kind, record, path, draw(values)


@FAST
@given(mutated())
def test_one_field_mutated_into_a_malformed_value_holds_the_record_naming_that_field(item):
    kind, record, path, value = item
    bad = set_path(record, path, value)
    finding = validate(kind, bad)
    assert finding is not None and finding.reason == "invalid_record", (path, value)
    assert path in {p.field for p in finding.problems}
    assert path in finding.message
    # and the transform never quietly writes the malformed value: either it refuses, or validation stood first
    if kind != "suppliers":
        make = purchase_order_draft if kind == "purchase_orders" else invoice_draft
        try:
            draft = make(bad, **SEGMENTS)
        except InvalidRecord:
            return
        assert all(isinstance(line.amount, Decimal) and line.amount.is_finite() for line in draft.lines)


JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                               max_size=4), max_leaves=12)


@FAST
@given(st.sampled_from(["suppliers", "purchase_orders", "invoices", "gl_accounts", "departments"]),
       st.one_of(JSON, RECORDS["invoices"]().flatmap(
           lambda r: st.dictionaries(st.sampled_from(sorted(r)), JSON, max_size=3).map(lambda d: {**r, **d}))))
def test_any_json_at_all_is_answered_with_valid_or_a_reason_never_an_exception(kind, record):
    finding = validate(kind, record)
    assert finding is None or finding.reason in REASONS
    if finding is not None:
        assert finding.message and all(len(p.value) <= 60 for p in finding.problems)

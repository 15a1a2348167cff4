"""The pure transforms of purchase orders and invoices: amounts, departments, DocNumbers, credit memos."""

from decimal import Decimal

import pytest

from sync.transforms.common import InvalidRecord
from sync.transforms.documents import (
    departments,
    parse_amount,
    parse_lines,
    round_cents,
    short_doc_number,
    total_mismatch,
)
from sync.transforms.invoices import content_digest, invoice_draft

SEGMENTS = {"gl_segment": "Account", "department_segment": "DepartmentCode"}


def line(n, amount, dept="PLANT-1", gl="6100", **extra):
    return {"lineNumber": n, "description": "Part", "quantity": "1", "unitPrice": amount, "amount": amount,
            "accountingSegments": {"Account": gl, "DepartmentCode": dept}, **extra}


def invoice(**changes):
    record = {"invoiceId": "INV-1", "invoiceNumber": "INV-2026-000001", "supplierInvoiceNumber": "A-1",
              "invoiceType": "Invoice", "workflowStatus": "Approved", "invoiceDate": "2026-10-01",
              "dueDate": "2026-10-31", "supplier": {"companyId": "C-1"}, "currency": "USD",
              "total": {"currency": "USD", "value": "30.00"}, "lineList": [line(1, "10.00"), line(2, "20.00")],
              "lastUpdate": "2026-10-02T00:00:00Z"}
    record.update(changes)
    return record


@pytest.mark.parametrize("value,expected", [("8.33325", "8.33"), ("0.005", "0.01"), ("-0.005", "-0.01"),
                                            ("2.675", "2.68"), ("10", "10.00")])
def test_amounts_are_rounded_half_up_to_cents(value, expected):
    assert round_cents(parse_amount(value, field="amount")) == Decimal(expected)


@pytest.mark.parametrize("value", [1.5, None, True, "abc", "NaN", "Infinity"])
def test_an_amount_that_is_not_a_decimal_string_is_refused(value):
    with pytest.raises(InvalidRecord):
        parse_amount(value, field="amount")


def test_lines_must_add_up_to_the_total_within_a_cent():
    lines = parse_lines({"lineList": [line(1, "8.33325"), line(2, "1.004")]}, **SEGMENTS)
    assert total_mismatch(lines, Decimal("9.33725")) is None
    assert total_mismatch(lines, Decimal("9.35")) == (Decimal("9.33"), Decimal("9.35"))


def test_the_department_comes_from_the_header_else_the_lines_common_one():
    same = parse_lines({"lineList": [line(1, "1"), line(2, "1")]}, **SEGMENTS)
    assert departments(None, same, department_segment="DepartmentCode").header == "PLANT-1"
    mixed = parse_lines({"lineList": [line(1, "1"), line(2, "1", dept="PLANT-2")]}, **SEGMENTS)
    found = departments(None, mixed, department_segment="DepartmentCode")
    assert (found.header, found.mixed, found.codes) == (None, True, ["PLANT-1", "PLANT-2"])
    found = departments({"DepartmentCode": "PLANT-1"}, mixed, department_segment="DepartmentCode")
    assert (found.header, found.mixed) == ("PLANT-1", True)
    found = departments({"DepartmentCode": "PLANT-1"}, same, department_segment="DepartmentCode")
    assert (found.header, found.mixed) == ("PLANT-1", False)


def test_short_doc_numbers_are_deterministic_fit_21_characters_and_differ_per_number():
    assert short_doc_number("4500012345") == "4500012345"
    long_a, long_b = "PO-2026-PLANT2-0004417-REV-A", "PO-2026-PLANT2-0004417-REV-B"
    assert short_doc_number(long_a) == short_doc_number(long_a)
    assert len(short_doc_number(long_a)) == 21 and short_doc_number(long_a) != short_doc_number(long_b)
    assert short_doc_number(long_a, salt=1) != short_doc_number(long_a)


def test_a_credit_memo_becomes_a_vendor_credit_with_positive_amounts():
    draft = invoice_draft(invoice(invoiceType="Credit Memo", total={"currency": "USD", "value": "-30.00"},
                                  lineList=[line(1, "-10.00"), line(2, "-20.00")]), **SEGMENTS)
    assert draft.entity == "VendorCredit" and draft.total == Decimal("30.00")
    assert [ln.amount for ln in draft.lines] == [Decimal("10.00"), Decimal("20.00")]
    with pytest.raises(InvalidRecord):
        invoice_draft(invoice(invoiceType="Credit Memo", lineList=[line(1, "-10.00"), line(2, "40.00")]),
                      **SEGMENTS)


def test_a_status_change_alone_does_not_change_what_qbo_holds():
    assert content_digest(invoice()) == content_digest(invoice(workflowStatus="Paid",
                                                               lastUpdate="2026-10-09T00:00:00Z"))
    assert content_digest(invoice()) != content_digest(invoice(dueDate="2026-11-30"))


@pytest.mark.parametrize("changes,field", [({"invoiceDate": "11/31/2026"}, "invoiceDate"),
                                           ({"supplier": None}, "supplier"),
                                           ({"lineList": []}, "lineList"),
                                           ({"workflowStatus": "Lost"}, "workflowStatus")])
def test_an_unusable_invoice_names_the_field(changes, field):
    with pytest.raises(InvalidRecord) as e:
        invoice_draft(invoice(**changes), **SEGMENTS)
    assert e.value.field == field

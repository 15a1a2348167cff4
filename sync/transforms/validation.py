"""Every field the JAGGAER contract (../shared/contracts/jaggaer-j1p.md) types, checked before anything else.

Pure: no HTTP, no ORM. `validate(kind, record)` answers `None` (the record may go on) or the `Finding` that
holds it: `invalid_record` when a field is not what the contract says (every such field is named, with its
value, safely cut, and what was expected), else the first internal contradiction of the document, each with
its own reason (`quantity_not_positive`, `unit_price_negative`, `line_amount_mismatch`, `line_signs_mixed`,
`amount_negative`, `total_mismatch`).

Decisions the contract leaves open:
- Amounts, quantities and unit prices are JSON *strings* of plain decimals: an optional leading '-', digits,
  an optional '.' and digits (`"1250.00"`, `"2.5"`, `"-10"`). Refused: JSON numbers (the contract says
  strings; a float may already have lost a cent), currency signs, thousands separators, spaces inside,
  letters for digits, other scripts' digits, exponents, '+', NaN and Infinity, more than 18 digits before or
  after the point.
  Surrounding whitespace is ignored.
- Line numbers (`lineNumber`, `poLineNumber`) are positive integers, as JSON numbers or digit strings.
- Credit memos: JAGGAER sends them negative (quantity and amount below zero, unit price positive). A credit
  memo entirely positive is accepted too; either way every line has the document's sign, and QuickBooks
  gets the amounts positive. Invoices and POs are positive: quantity > 0, unit price >= 0.
- quantity x unit price must equal the line amount within a cent (QBO's account-based lines carry only the
  amount, so this is our rule, not QuickBooks').
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
VALUE_SHOWN = 60
CODE_MAX = 100
TEXT_MAX = 4000
PROBLEMS_SHOWN = 5

# [0-9], not \d: \d (and Decimal()) accept other scripts' digits ("١٢٥")
_DECIMAL = re.compile(r"^-?[0-9]{1,18}(\.[0-9]{1,18})?$")
_CODE_BAD = re.compile(r"[\x00-\x1f\x7f]")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                        r"(Z|[+-][0-9]{2}:?[0-9]{2})?$")
_LINE_NUMBER = re.compile(r"^[1-9][0-9]{0,8}$")

# ISO 4217 codes in use (active currencies and the usual funds/metals codes).
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD
CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD
OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC
SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU
XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
""".split())

PO_STATUSES = ("Draft", "Approved", "Issued", "Closed", "Cancelled")
INVOICE_STATUSES = ("InProcess", "Approved", "Rejected", "Paid")
INVOICE_TYPES = ("Invoice", "Credit Memo")
KINDS = ("suppliers", "purchase_orders", "invoices", "gl_accounts", "departments")
# Every hold reason this module gives (README, "Holds": each is released when JAGGAER corrects the record).
REASONS = ("invalid_record", "quantity_not_positive", "unit_price_negative", "line_amount_mismatch",
           "line_signs_mixed", "amount_negative", "total_mismatch")


def shown(value: Any) -> str:
    """A value as a person reads it in a hold: its repr (control characters escaped), cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= VALUE_SHOWN else text[:VALUE_SHOWN - 3] + "..."


@dataclass(frozen=True)
class Problem:
    field: str
    value: str            # shown(value), or "missing"
    expected: str

    def sentence(self) -> str:
        return f"'{self.field}' is {self.value}; expected {self.expected}"

    def as_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "expected": self.expected}


@dataclass
class Finding:
    """Why a record is held: the hold reason, a message a person can act on, and the fields involved."""

    reason: str
    message: str
    problems: list[Problem] = field(default_factory=list)
    waits_on: list[str] = field(default_factory=list)

    @property
    def data(self) -> dict:
        return {"problems": [p.as_dict() for p in self.problems]} if self.problems else {}


MISSING = object()
DECIMAL_EXPECTED = 'a decimal string such as "1250.00" (digits, an optional "." and an optional leading "-")'


class _Checker:
    """Collects every field problem of one record."""

    def __init__(self, record: dict):
        self.record = record
        self.problems: list[Problem] = []

    def bad(self, path: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(path, "missing" if value is MISSING or value is None else shown(value),
                                     expected))

    @staticmethod
    def get(obj: Any, key: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            return MISSING
        return obj[key]

    # ---- field kinds
    def code(self, obj: Any, key: str, path: str, *, required: bool = True) -> str | None:
        value = self.get(obj, key)
        if value is MISSING or value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.bad(path, value, "a non-empty code")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.bad(path, value, "a code (text)")
            return None
        text = str(value).strip()
        if len(text) > CODE_MAX or _CODE_BAD.search(text):
            self.bad(path, value, f"a code of at most {CODE_MAX} characters without control characters")
            return None
        return text

    def text(self, obj: Any, key: str, path: str, *, required: bool = False, limit: int = TEXT_MAX) -> str | None:
        value = self.get(obj, key)
        if value is MISSING or value is None:
            if required:
                self.bad(path, value, "text")
            return None
        if not isinstance(value, str):
            self.bad(path, value, "text (a JSON string) or null")
            return None
        if required and not value.strip():
            self.bad(path, value, "non-empty text")
            return None
        if len(value) > limit:
            self.bad(path, f"{len(value)} characters", f"at most {limit} characters")
            return None
        return value

    def boolean(self, obj: Any, key: str, path: str) -> None:
        value = self.get(obj, key)
        if value is not MISSING and value is not None and not isinstance(value, bool):
            self.bad(path, value, "true or false")

    def choice(self, obj: Any, key: str, path: str, choices: tuple[str, ...], *, required: bool = True,
               default: str | None = None) -> str | None:
        value = self.get(obj, key)
        if value is MISSING or value is None:
            if required and default is None:
                self.bad(path, value, f"one of {', '.join(choices)}")
            return default
        if not isinstance(value, str) or value.strip() not in choices:
            self.bad(path, value, f"one of {', '.join(choices)}")
            return None
        return value.strip()

    def date(self, obj: Any, key: str, path: str, *, required: bool = True) -> dt.date | None:
        value = self.get(obj, key)
        if value is MISSING or value is None or value == "":
            if required:
                self.bad(path, value, "a date YYYY-MM-DD")
            return None
        if isinstance(value, str) and _DATE.match(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.bad(path, value, "a date YYYY-MM-DD that exists")
        return None

    def timestamp(self, obj: Any, key: str, path: str) -> None:
        value = self.get(obj, key)
        if value is MISSING:
            return
        if isinstance(value, str) and _TIMESTAMP.match(value.strip()):
            try:
                dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                return
            except ValueError:
                pass
        self.bad(path, value, "an ISO-8601 timestamp such as 2026-11-20T10:15:00Z")

    def currency(self, obj: Any, key: str, path: str) -> str | None:
        value = self.get(obj, key)
        if value is MISSING or value is None:
            return None
        if not isinstance(value, str) or value.strip() not in ISO_4217:
            self.bad(path, value, "an ISO 4217 currency code such as USD (three capital letters)")
            return None
        return value.strip()

    def decimal(self, obj: Any, key: str, path: str, *, required: bool = True) -> Decimal | None:
        value = self.get(obj, key)
        if value is MISSING or value is None:
            if required:
                self.bad(path, value, DECIMAL_EXPECTED)
            return None
        if isinstance(value, str) and _DECIMAL.match(value.strip()):
            return Decimal(value.strip())
        what = DECIMAL_EXPECTED + ("; JSON numbers are refused, the contract sends strings"
                                   if isinstance(value, int | float) and not isinstance(value, bool) else "")
        self.bad(path, value, what)
        return None

    def line_number(self, obj: Any, key: str, path: str, *, required: bool = False) -> str | None:
        value = self.get(obj, key)
        if value is MISSING or value is None:
            if required:
                self.bad(path, value, "a line number (a positive whole number)")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**9:
            return str(value)
        if isinstance(value, str) and _LINE_NUMBER.match(value.strip()):
            return value.strip()
        self.bad(path, value, "a line number (a positive whole number)")
        return None

    def obj(self, parent: Any, key: str, path: str, *, required: bool = True) -> dict | None:
        value = self.get(parent, key)
        if value is MISSING or value is None:
            if required:
                self.bad(path, value, "an object")
            return None
        if not isinstance(value, dict):
            self.bad(path, value, "an object")
            return None
        return value

    def segments(self, parent: Any, key: str, path: str) -> None:
        value = self.get(parent, key)
        if value is MISSING or value is None:
            return
        if not isinstance(value, dict):
            self.bad(path, value, "an object of accounting segments")
            return
        for name in value:
            self.code(value, name, f"{path}.{name}", required=False)


@dataclass
class Line:
    """One document line as validated: numbers parsed, the raw positions kept for messages."""

    position: int
    number: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal | None
    po_number: str | None = None
    po_line: str | None = None


def _invalid(kind: str, problems: list[Problem]) -> Finding:
    what = {"suppliers": "supplier", "purchase_orders": "purchase order", "invoices": "invoice",
            "gl_accounts": "GL account", "departments": "department"}[kind]
    listed = "; ".join(p.sentence() for p in problems[:PROBLEMS_SHOWN])
    more = f" (and {len(problems) - PROBLEMS_SHOWN} more)" if len(problems) > PROBLEMS_SHOWN else ""
    return Finding("invalid_record", f"The {what} is not as the JAGGAER contract says: {listed}{more}. Correct it in "
                   "JAGGAER; it is synced once it is.", problems, [])


# ---------------------------------------------------------------------------- record kinds

def _supplier(c: _Checker, r: dict) -> None:
    c.code(r, "companyId", "companyId")
    c.text(r, "companyName", "companyName", required=True, limit=TEXT_MAX)
    c.text(r, "doingBusinessAs", "doingBusinessAs")
    c.code(r, "erpNumber", "erpNumber", required=False)
    c.boolean(r, "active", "active")
    c.code(r, "duns", "duns", required=False)
    c.code(r, "taxId", "taxId", required=False)
    c.currency(r, "currency", "currency")
    c.text(r, "paymentTerms", "paymentTerms", limit=CODE_MAX)
    address = c.obj(r, "primaryAddress", "primaryAddress", required=False)
    for key in ("line1", "line2", "city", "state", "postalCode", "country"):
        c.text(address, key, f"primaryAddress.{key}", limit=500)
    contact = c.obj(r, "primaryContact", "primaryContact", required=False)
    for key in ("name", "email", "phone"):
        c.text(contact, key, f"primaryContact.{key}", limit=500)
    c.timestamp(r, "lastModTime", "lastModTime")


def _catalog(c: _Checker, r: dict) -> None:
    c.code(r, "code", "code")
    c.text(r, "name", "name", limit=500)
    c.boolean(r, "active", "active")
    c.timestamp(r, "lastModTime", "lastModTime")


def _document_header(c: _Checker, r: dict) -> tuple[str | None, Decimal | None]:
    supplier = c.obj(r, "supplier", "supplier")
    if supplier is not None:
        c.code(supplier, "companyId", "supplier.companyId")
        c.text(supplier, "companyName", "supplier.companyName")
    currency = c.currency(r, "currency", "currency")
    total = c.obj(r, "total", "total")
    value = None
    if total is not None:
        total_currency = c.currency(total, "currency", "total.currency")
        value = c.decimal(total, "value", "total.value")
        if currency and total_currency and currency != total_currency:
            c.bad("total.currency", total_currency, f"the document's currency {currency}")
    c.segments(r, "accountingSegments", "accountingSegments")
    c.timestamp(r, "lastUpdate", "lastUpdate")
    return currency, value


def _lines(c: _Checker, r: dict, *, with_po: bool) -> list[Line]:
    lines = c.get(r, "lineList")
    if not isinstance(lines, list) or not lines:
        c.bad("lineList", lines, "a list of at least one line")
        return []
    out, seen = [], set()
    for pos, line in enumerate(lines):
        where = f"lineList[{pos}]"
        if not isinstance(line, dict):
            c.bad(where, line, "a line object")
            continue
        number = c.line_number(line, "lineNumber", f"{where}.lineNumber") or str(pos + 1)
        if number in seen:
            c.bad(f"{where}.lineNumber", number, "a line number used once in the document")
        seen.add(number)
        c.text(line, "description", f"{where}.description")
        parsed = Line(pos, number, c.decimal(line, "quantity", f"{where}.quantity", required=False),
                      c.decimal(line, "unitPrice", f"{where}.unitPrice", required=False),
                      c.decimal(line, "amount", f"{where}.amount"))
        c.segments(line, "accountingSegments", f"{where}.accountingSegments")
        if with_po:
            parsed.po_number = c.code(line, "poNumber", f"{where}.poNumber", required=False)
            parsed.po_line = c.line_number(line, "poLineNumber", f"{where}.poLineNumber")
            if parsed.po_line and not parsed.po_number:
                c.bad(f"{where}.poNumber", None, "the PO number its poLineNumber belongs to")
        out.append(parsed)
    return out


def _purchase_order(c: _Checker, r: dict) -> tuple[list[Line], Decimal | None, int]:
    c.code(r, "poId", "poId")
    c.code(r, "poNumber", "poNumber")
    c.choice(r, "status", "status", PO_STATUSES)
    c.date(r, "orderDate", "orderDate")
    _, total = _document_header(c, r)
    return _lines(c, r, with_po=False), total, 1


def _invoice(c: _Checker, r: dict) -> tuple[list[Line], Decimal | None, int]:
    c.code(r, "invoiceId", "invoiceId")
    c.code(r, "invoiceNumber", "invoiceNumber")
    c.code(r, "supplierInvoiceNumber", "supplierInvoiceNumber", required=False)
    kind = c.choice(r, "invoiceType", "invoiceType", INVOICE_TYPES, default="Invoice")
    c.choice(r, "workflowStatus", "workflowStatus", INVOICE_STATUSES)
    c.date(r, "invoiceDate", "invoiceDate")
    c.date(r, "dueDate", "dueDate", required=False)
    _, total = _document_header(c, r)
    lines = _lines(c, r, with_po=True)
    sign = 1
    if kind == "Credit Memo" and (total is not None and total < 0 or any(
            ln.amount is not None and ln.amount < 0 or ln.quantity is not None and ln.quantity < 0 for ln in lines)):
        sign = -1
    return lines, total, sign


# ---------------------------------------------------------------------------- consistency

def _consistency(kind: str, lines: list[Line], total: Decimal | None, sign: int, credit: bool) -> Finding | None:
    what = {"purchase_orders": "PO", "invoices": "credit memo" if credit else "invoice"}[kind]
    for ln in lines:
        amount = ln.amount * sign if ln.amount is not None else None
        if amount is not None and amount < 0:
            if credit:
                return Finding("line_signs_mixed", f"Line {ln.number} of the credit memo has amount {ln.amount} "
                               "while the others have the other sign; a QuickBooks vendor credit has one sign. "
                               "Correct it in JAGGAER (or split the document).",
                               [Problem(f"lineList[{ln.position}].amount", shown(str(ln.amount)),
                                        "the sign of the other lines")])
        qty = ln.quantity * sign if ln.quantity is not None else None
        if qty is not None and qty <= 0:
            expected = "below zero, as the credit memo's amounts" if credit and sign < 0 else "above zero"
            return Finding("quantity_not_positive", f"Line {ln.number} of the {what} has quantity {ln.quantity}; "
                           f"it must be {expected}. Correct it in JAGGAER.",
                           [Problem(f"lineList[{ln.position}].quantity", shown(str(ln.quantity)), expected)])
        if ln.unit_price is not None and ln.unit_price < 0:
            return Finding("unit_price_negative", f"Line {ln.number} of the {what} has unit price {ln.unit_price}; "
                           "a unit price is zero or above. Correct it in JAGGAER.",
                           [Problem(f"lineList[{ln.position}].unitPrice", shown(str(ln.unit_price)),
                                    "zero or above")])
        if ln.quantity is not None and ln.unit_price is not None and ln.amount is not None:
            product = ln.quantity * ln.unit_price
            if abs(product - ln.amount) > CENT:
                return Finding("line_amount_mismatch", f"Line {ln.number} of the {what}: quantity {ln.quantity} x "
                               f"unit price {ln.unit_price} = {_fmt(product)}, but its amount is {ln.amount} (more "
                               "than a cent apart). Correct it in JAGGAER.",
                               [Problem(f"lineList[{ln.position}].amount", shown(str(ln.amount)),
                                        f"quantity x unit price = {_fmt(product)}, within a cent")])
        if amount is not None and amount < 0:
            return Finding("amount_negative", f"Line {ln.number} of the {what} has amount {ln.amount}; a {what} "
                           "line bills, it does not credit (a credit is a credit memo). Correct it in JAGGAER.",
                           [Problem(f"lineList[{ln.position}].amount", shown(str(ln.amount)), "zero or above")])
    if total is not None and all(ln.amount is not None for ln in lines):
        rounded = sum((ln.amount.quantize(CENT, rounding=ROUND_HALF_UP) for ln in lines), Decimal("0.00"))
        exact = sum((ln.amount for ln in lines), Decimal("0"))
        if abs(rounded - total) > CENT and abs(exact - total) > CENT:
            return Finding("total_mismatch", f"The lines add up to {rounded:.2f} (each rounded to cents) but the "
                           f"{what} total is {total}; fix it in JAGGAER.",
                           [Problem("total.value", shown(str(total)), f"the sum of the lines, {rounded:.2f}")])
    return None


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text and len(text.split(".")[1]) >= 2 else f"{value:.2f}"


# ---------------------------------------------------------------------------- the entry point

def validate(kind: str, record: Any) -> Finding | None:
    """None when `record` (of entity `kind`) may be synced, else the finding that holds it."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    if not isinstance(record, dict):
        return _invalid(kind, [Problem("(record)", shown(record), "a JSON object")])
    c = _Checker(record)
    if kind == "suppliers":
        _supplier(c, record)
    elif kind in ("gl_accounts", "departments"):
        _catalog(c, record)
    else:
        lines, total, sign = (_purchase_order if kind == "purchase_orders" else _invoice)(c, record)
        if not c.problems:
            credit = kind == "invoices" and str(record.get("invoiceType") or "").strip() == "Credit Memo"
            return _consistency(kind, lines, total, sign, credit)
    return _invalid(kind, c.problems) if c.problems else None

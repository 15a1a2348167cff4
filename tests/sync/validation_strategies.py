"""Hypothesis strategies for JAGGAER records as the contract (../shared/contracts/jaggaer-j1p.md) types them, and
for the malformed values a typed field can be mutated into."""

import string
from datetime import date, datetime
from decimal import Decimal

from hypothesis import strategies as st

from sync.transforms.validation import INVOICE_STATUSES, PO_STATUSES

CODES = st.text(string.ascii_uppercase + string.digits + "-", min_size=1, max_size=12)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
CURRENCIES = st.sampled_from(["USD", "CAD", "EUR", "GBP", "JPY"])
DATES = st.dates(min_value=date(1990, 1, 1)).map(lambda d: d.isoformat())
TIMESTAMPS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
PRICES = st.decimals(min_value=0, max_value=100000, places=2)
QUANTITIES = st.one_of(st.integers(1, 5000).map(Decimal), st.decimals(min_value="0.5", max_value=100, places=1))


def text(value: Decimal) -> str:
    return format(value, "f")


def segments():
    return st.fixed_dictionaries({"Account": CODES, "DepartmentCode": CODES})


@st.composite
def lines(draw, *, with_po: bool, sign: int = 1):
    out = []
    for n in range(1, draw(st.integers(1, 4)) + 1):
        qty, price = draw(QUANTITIES), draw(PRICES)
        line = {"lineNumber": n, "description": draw(TEXT), "quantity": text(qty * sign),
                "unitPrice": text(price), "amount": text(qty * price * sign), "accountingSegments": draw(segments())}
        if with_po:
            billed = draw(st.booleans())
            line["poNumber"] = draw(CODES) if billed else None
            line["poLineNumber"] = draw(st.integers(1, 20)) if billed else None
        out.append(line)
    return out


@st.composite
def suppliers(draw):
    address = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "line1": TEXT, "line2": st.one_of(st.none(), TEXT), "city": TEXT, "state": TEXT, "postalCode": TEXT,
        "country": TEXT})))
    contact = draw(st.one_of(st.none(), st.fixed_dictionaries({"name": TEXT, "email": TEXT, "phone": TEXT})))
    return {"companyId": draw(CODES), "companyName": draw(TEXT.filter(str.strip)),
            "doingBusinessAs": draw(st.one_of(st.none(), TEXT)), "erpNumber": draw(st.one_of(st.none(), CODES)),
            "active": draw(st.booleans()), "duns": draw(st.one_of(st.none(), CODES)),
            "taxId": draw(st.one_of(st.none(), CODES)), "currency": draw(CURRENCIES),
            "paymentTerms": draw(st.sampled_from(["Net 30", "Net 15", "Due on receipt"])),
            "primaryAddress": address, "primaryContact": contact, "lastModTime": draw(TIMESTAMPS)}


def _header(draw, body: list[dict]) -> dict:
    currency = draw(CURRENCIES)
    total = sum((Decimal(ln["amount"]) for ln in body), Decimal("0"))
    return {"supplier": {"companyId": draw(CODES), "companyName": draw(TEXT)}, "currency": currency,
            "total": {"currency": currency, "value": text(total)}, "accountingSegments": draw(segments()),
            "lineList": body, "lastUpdate": draw(TIMESTAMPS)}


@st.composite
def purchase_orders(draw):
    return {"poId": draw(CODES), "poNumber": draw(CODES), "status": draw(st.sampled_from(PO_STATUSES)),
            "orderDate": draw(DATES), **_header(draw, draw(lines(with_po=False)))}


@st.composite
def invoices(draw):
    credit = draw(st.booleans())
    body = draw(lines(with_po=True, sign=-1 if credit else 1))
    return {"invoiceId": draw(CODES), "invoiceNumber": draw(CODES),
            "supplierInvoiceNumber": draw(st.one_of(st.none(), CODES)),
            "invoiceType": "Credit Memo" if credit else "Invoice",
            "workflowStatus": draw(st.sampled_from(INVOICE_STATUSES)), "invoiceDate": draw(DATES),
            "dueDate": draw(st.one_of(st.none(), DATES)), **_header(draw, body)}


RECORDS = {"suppliers": suppliers, "purchase_orders": purchase_orders, "invoices": invoices}


# ---------------------------------------------------------------------------- malformed values

def _letter_for_digit(value: str, pick) -> str:
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    i = digits[pick % len(digits)]
    return value[:i] + {"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z"}.get(value[i], "x") + value[i + 1:]


def malformed_decimals():
    """Values a decimal-string field must refuse: currency signs, thousands separators, letters for digits,
    exponents, NaN and infinities, JSON numbers, spaces inside, empty text, anything else that is not one."""
    base = st.decimals(min_value=1, max_value=99999, places=2).map(text)
    return st.one_of(
        st.tuples(st.sampled_from(["$", "€", "£", "USD ", "US$"]), base).map("".join),
        base.map(lambda v: v + " USD"),
        st.decimals(min_value=1000, max_value=9999999, places=2).map(lambda d: f"{d:,.2f}"),
        st.tuples(base, st.integers(0, 20)).map(lambda t: _letter_for_digit(*t)),
        st.tuples(st.integers(1, 99), st.integers(-5, 9)).map(lambda t: f"{t[0]}E{t[1]}"),
        st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN", "", " ", "1 250.00", "12.5.0",
                         "+12.50", ".5", "5.", "--5", "0x1F", "½", "١٢٣"]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-10**6, 10**6),
        st.booleans(),
        st.text(max_size=12).filter(lambda t: not _is_plain_decimal(t)),
    )


def _is_plain_decimal(value: str) -> bool:
    import re

    return bool(re.fullmatch(r"\s*-?[0-9]{1,18}(\.[0-9]{1,18})?\s*", value))


def malformed_dates():
    return st.one_of(
        st.sampled_from(["11/31/2026", "2026-02-30", "2026-13-05", "2026-1-5", "20261105", "2026-11-05T10:00:00Z",
                         "", "yesterday"]),
        st.integers(), st.floats(allow_nan=False),
        st.text(max_size=12).filter(lambda t: not __import__("re").fullmatch(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*", t)),
    )


def malformed_timestamps():
    return st.one_of(
        st.sampled_from(["2026-11-05", "11/05/2026 10:00", "2026-11-05 10:00:00Z", "2026-11-05T25:00:00Z",
                         "2026-13-05T10:00:00Z", "2026-02-30T10:00:00Z", "", "yesterday", "2026-11-05T10:00Z+5"]),
        st.integers(), st.floats(allow_nan=False), st.booleans())


def malformed_codes():
    return st.one_of(st.just(""), st.just("   "), st.sampled_from(["A\x00B", "tab\there", "x" * 101]),
                     st.floats(), st.booleans(), st.lists(CODES, max_size=2), st.dictionaries(CODES, CODES, max_size=1))


def malformed_currencies():
    return st.one_of(st.sampled_from(["usd", "US$", "DOLLARS", "US", "USDX", "ZZZ", "", "€"]), st.integers(0, 999))


def malformed_statuses(choices):
    return st.one_of(st.text(max_size=12).filter(lambda t: t.strip() not in choices), st.integers(), st.booleans())


def malformed_line_numbers():
    return st.one_of(st.integers(max_value=0), st.sampled_from(["1a", "one", "", "1.0", "-1"]), st.floats(),
                     st.booleans())

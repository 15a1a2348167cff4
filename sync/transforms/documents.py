"""What purchase orders and invoices share: Decimal amounts, lines and their accounting segments, the
department decision, QBO DocNumbers (with a short form for long numbers) and the QBO line payloads.

Pure: no HTTP, no ORM. Amounts stay Decimal until the HTTP layer encodes the JSON body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sync.transforms.common import InvalidRecord, text_or_none

CENT = Decimal("0.01")
TOLERANCE = Decimal("0.01")
DOC_NUMBER_MAX = 21
SHORT_PREFIX = 12                     # 12 characters of the number + "~" + 8 of its hash = 21
DESCRIPTION_MAX = 4000
NOTE_MAX = 4000


def parse_amount(value: Any, *, field: str) -> Decimal:
    """A decimal string (or an int) as Decimal; floats and anything else are refused."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise InvalidRecord(f"Field '{field}' is not a decimal amount: {value!r}.", field=field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidRecord(f"Field '{field}' is not a decimal amount: {value!r}.", field=field)
    if not amount.is_finite():
        raise InvalidRecord(f"Field '{field}' is not a finite amount: {value!r}.", field=field)
    return amount


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal) -> str:
    return f"{amount:.2f}"


def short_doc_number(number: str, *, salt: int = 0) -> str:
    """QBO's DocNumber for a document number: itself when it fits 21 characters, else a deterministic
    short form (its first 12 characters, "~", 8 hex digits of its hash). `salt` > 0 picks another short
    form when one is already taken by a different number."""
    number = number.strip()
    if len(number) <= DOC_NUMBER_MAX and salt == 0:
        return number
    seed = number if salt == 0 else f"{number}\n{salt}"
    return f"{number[:SHORT_PREFIX]}~{hashlib.sha256(seed.encode()).hexdigest()[:8].upper()}"


@dataclass
class LineDraft:
    number: str                    # JAGGAER lineNumber, as text
    description: str
    amount: Decimal                # rounded half-up to cents (sign as in JAGGAER)
    exact_amount: Decimal          # as JAGGAER sent it
    gl_code: str
    department: str | None
    quantity: str | None = None
    unit_price: str | None = None
    po_number: str | None = None   # invoices: the PO this line bills
    po_line: str | None = None
    qty: Decimal | None = None     # the quantity parsed (sign as the amount's on a VendorCredit)

    @property
    def text(self) -> str:
        """Description with quantity x unit price (QBO's account lines have no field for them)."""
        extra = ""
        if self.quantity not in (None, "") and self.unit_price not in (None, ""):
            extra = f" ({self.quantity} x {self.unit_price})"
        return (self.description + extra).strip()[:DESCRIPTION_MAX]


def line_content(line: LineDraft) -> list:
    """A line as QuickBooks gets it (its text, amount in cents, account and department), for content digests."""
    return [line.number, line.text, money_text(line.amount), line.gl_code, line.department, line.po_number,
            line.po_line]


def segment(segments: Any, name: str) -> str | None:
    if not isinstance(segments, dict):
        return None
    return text_or_none(segments.get(name), limit=100)


def parse_lines(record: dict, *, gl_segment: str, department_segment: str, with_po: bool = False) -> list[LineDraft]:
    """The record's lineList, each line with its GL code and department (the line's segments, else the
    header's); an unusable line makes the whole record invalid, naming the line and the field."""
    lines = record.get("lineList")
    if not isinstance(lines, list) or not lines:
        raise InvalidRecord("The document has no lines (field 'lineList').", field="lineList")
    header = record.get("accountingSegments")
    out: list[LineDraft] = []
    seen: set[str] = set()
    for pos, line in enumerate(lines):
        where = f"lineList[{pos}]"
        if not isinstance(line, dict):
            raise InvalidRecord(f"Line {pos + 1} is not an object.", field=where)
        number = text_or_none(line.get("lineNumber"), limit=20) or str(pos + 1)
        if number in seen:
            raise InvalidRecord(f"Line number {number} appears twice.", field=f"{where}.lineNumber")
        seen.add(number)
        if line.get("amount") in (None, ""):
            raise InvalidRecord(f"Required field '{where}.amount' is missing.", field=f"{where}.amount")
        exact = parse_amount(line["amount"], field=f"{where}.amount")
        qty = line.get("quantity")
        qty = parse_amount(qty, field=f"{where}.quantity") if qty not in (None, "") else None
        gl = segment(line.get("accountingSegments"), gl_segment) or segment(header, gl_segment)
        if not gl:
            raise InvalidRecord(f"Line {number} has no GL account (segment '{gl_segment}').",
                                field=f"{where}.accountingSegments.{gl_segment}")
        department = segment(line.get("accountingSegments"), department_segment) or segment(header,
                                                                                           department_segment)
        out.append(LineDraft(
            number=number, description=text_or_none(line.get("description"), limit=DESCRIPTION_MAX) or "",
            amount=round_cents(exact), exact_amount=exact, gl_code=gl, department=department,
            quantity=text_or_none(line.get("quantity"), limit=30),
            unit_price=text_or_none(line.get("unitPrice"), limit=30),
            po_number=text_or_none(line.get("poNumber"), limit=100) if with_po else None,
            po_line=text_or_none(line.get("poLineNumber"), limit=20) if with_po else None, qty=qty,
        ))
    return out


def header_total(record: dict) -> Decimal:
    total = record.get("total")
    value = total.get("value") if isinstance(total, dict) else total
    if value in (None, ""):
        raise InvalidRecord("Required field 'total.value' is missing.", field="total.value")
    return parse_amount(value, field="total.value")


def currency_of(record: dict) -> str | None:
    total = record.get("total")
    code = record.get("currency") or (total.get("currency") if isinstance(total, dict) else None)
    code = text_or_none(code, limit=10)
    return code.upper() if code else None


def total_mismatch(lines: list[LineDraft], total: Decimal) -> tuple[Decimal, Decimal] | None:
    """(lines' sum after rounding, header total) when the total is more than a cent from both the lines' rounded
    sum and their exact sum (lines of more than two decimals may round a few cents away from an exact total)."""
    lines_sum = sum((line.amount for line in lines), Decimal("0.00"))
    exact = sum((line.exact_amount for line in lines), Decimal("0"))
    return (lines_sum, total) if abs(lines_sum - total) > TOLERANCE and abs(exact - total) > TOLERANCE else None


@dataclass
class Departments:
    header: str | None              # the document's department (QBO DepartmentRef)
    mixed: bool                     # lines on other departments than the header's (or than each other)
    codes: list[str] = field(default_factory=list)   # every department on the document, sorted


def departments(header_segments: Any, lines: list[LineDraft], *, department_segment: str) -> Departments:
    """The header segments name the department, else the lines' common one; lines elsewhere make it mixed."""
    header = segment(header_segments, department_segment)
    on_lines = {line.department for line in lines if line.department}
    if header is None and len(on_lines) == 1:
        header = next(iter(on_lines))
    mixed = len(on_lines - ({header} if header else set())) > 0 if header else len(on_lines) > 1
    codes = sorted(on_lines | ({header} if header else set()))
    return Departments(header=header, mixed=mixed, codes=codes)


def expense_line(line: LineDraft, *, amount: Decimal, account_ref: dict, class_ref: dict | None = None,
                 line_id: str | None = None, linked: dict | None = None) -> dict:
    """One QBO AccountBasedExpenseLineDetail line."""
    detail: dict = {"AccountRef": account_ref}
    if class_ref:
        detail["ClassRef"] = class_ref
    out: dict = {"DetailType": "AccountBasedExpenseLineDetail", "Amount": amount,
                 "AccountBasedExpenseLineDetail": detail}
    if line_id:
        out["Id"] = line_id
    if line.text:
        out["Description"] = line.text
    if linked:
        out["LinkedTxn"] = [linked]
    return out


def note(*parts: str | None) -> str:
    return " | ".join(p for p in parts if p)[:NOTE_MAX]

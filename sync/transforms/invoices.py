"""JAGGAER invoice -> QBO Bill, credit memo -> QBO VendorCredit (pure: the caller resolves the references)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sync.transforms.common import InvalidRecord, digest, parse_date, required, text_or_none
from sync.transforms.documents import (
    Departments,
    LineDraft,
    currency_of,
    departments,
    expense_line,
    header_total,
    line_content,
    note,
    parse_lines,
)

VERSION = "bill-1"
POSTED = {"Approved", "Paid"}
WAITING = {"InProcess"}
REJECTED = {"Rejected"}
STATUSES = POSTED | WAITING | REJECTED
CREDIT_MEMO = "Credit Memo"
TYPES = {"Invoice": "Bill", CREDIT_MEMO: "VendorCredit"}
VOLATILE = ("lastUpdate", "workflowStatus")


@dataclass
class InvoiceDraft:
    invoice_id: str
    invoice_number: str
    supplier_invoice_number: str | None
    entity: str                     # "Bill" | "VendorCredit"
    status: str
    invoice_date: str
    due_date: str | None
    company_id: str
    currency: str | None
    total: Decimal                  # positive for a VendorCredit (JAGGAER sends credit memos negative)
    lines: list[LineDraft]          # amounts as QBO gets them (positive on a VendorCredit)
    departments: Departments

    @property
    def is_credit(self) -> bool:
        return self.entity == "VendorCredit"

    @property
    def po_numbers(self) -> set[str]:
        return {line.po_number for line in self.lines if line.po_number}

    def memo(self, doc_number: str) -> str:
        kind = "credit memo" if self.is_credit else "invoice"
        shortened = f"QuickBooks number {doc_number} is its short form" if doc_number != self.invoice_number else None
        pos = ", ".join(sorted(self.po_numbers))
        return note(f"Supplier invoice {self.supplier_invoice_number}" if self.supplier_invoice_number else None,
                    f"JAGGAER {kind} {self.invoice_number} ({self.invoice_id})", shortened,
                    f"PO {pos}" if pos else None)


def invoice_draft(record: dict, *, gl_segment: str, department_segment: str) -> InvoiceDraft:
    invoice_id = str(required(record, "invoiceId"))
    number = text_or_none(required(record, "invoiceNumber"), limit=100) or ""
    kind = str(record.get("invoiceType") or "Invoice").strip()
    if kind not in TYPES:
        raise InvalidRecord(f"Unknown invoice type {kind!r}.", field="invoiceType")
    status = str(required(record, "workflowStatus")).strip()
    if status not in STATUSES:
        raise InvalidRecord(f"Unknown workflow status {status!r}.", field="workflowStatus")
    supplier = required(record, "supplier")
    company_id = text_or_none(supplier.get("companyId"), limit=100) if isinstance(supplier, dict) else None
    if not company_id:
        raise InvalidRecord("Required field 'supplier.companyId' is missing.", field="supplier.companyId")
    invoice_date = parse_date(required(record, "invoiceDate"), field="invoiceDate").isoformat()
    due = record.get("dueDate")
    due_date = parse_date(due, field="dueDate").isoformat() if due not in (None, "") else None
    lines = parse_lines(record, gl_segment=gl_segment, department_segment=department_segment, with_po=True)
    total = header_total(record)
    entity = TYPES[kind]
    if entity == "VendorCredit":
        # QBO wants a vendor credit's amounts positive; JAGGAER sends a credit memo's negative.
        sign = Decimal(-1) if total < 0 or any(line.amount < 0 or (line.qty is not None and line.qty < 0)
                                               for line in lines) else Decimal(1)
        total = total * sign
        for line in lines:
            line.amount, line.exact_amount = line.amount * sign, line.exact_amount * sign
            line.qty = line.qty * sign if line.qty is not None else None
    if any(line.amount < 0 for line in lines):
        raise InvalidRecord(f"A {'credit memo' if entity == 'VendorCredit' else 'bill'} with lines of both signs "
                            "cannot be posted to QuickBooks; split it in JAGGAER.", field="lineList")
    return InvoiceDraft(
        invoice_id=invoice_id, invoice_number=number,
        supplier_invoice_number=text_or_none(record.get("supplierInvoiceNumber"), limit=100), entity=entity,
        status=status, invoice_date=invoice_date, due_date=due_date, company_id=company_id,
        currency=currency_of(record), total=total, lines=lines,
        departments=departments(record.get("accountingSegments"), lines, department_segment=department_segment))


def mapped_digest(draft: InvoiceDraft) -> str:
    """Fingerprint of what QuickBooks gets from the invoice: its timestamp, workflow status (Approved -> Paid) and
    fields we do not send make no write."""
    return digest({"invoice": [draft.invoice_id, draft.invoice_number, draft.supplier_invoice_number, draft.entity,
                               draft.invoice_date, draft.due_date, draft.company_id, draft.currency,
                               draft.departments.header, draft.departments.codes],
                   "lines": [line_content(line) for line in draft.lines]}, version=VERSION)


def content_digest(record: dict) -> str:
    """The digest links written before `mapped_digest` hold: the record without its timestamp and status."""
    return digest({k: v for k, v in record.items() if k not in VOLATILE}, version=VERSION)


def bill_payload(draft: InvoiceDraft, *, vendor_id: str, ap_ref: dict | None, doc_number: str,
                 accounts: dict[str, dict], department_ref: dict | None, classes: dict[str, dict] | None,
                 po_links: dict[str, dict], line_ids: dict[str, str], currency: str | None) -> dict:
    """The Bill / VendorCredit body (without Id/SyncToken). `po_links`: JAGGAER line number -> LinkedTxn."""
    lines = []
    for line in draft.lines:
        class_ref = classes.get(line.department) if classes and line.department else None
        lines.append(expense_line(line, amount=line.amount, account_ref=accounts[line.gl_code], class_ref=class_ref,
                                  line_id=line_ids.get(line.number), linked=po_links.get(line.number)))
    payload = {"VendorRef": {"value": vendor_id}, "DocNumber": doc_number, "TxnDate": draft.invoice_date,
               "PrivateNote": draft.memo(doc_number), "Line": lines}
    if ap_ref:
        payload["APAccountRef"] = ap_ref
    if draft.due_date and not draft.is_credit:
        payload["DueDate"] = draft.due_date
    if department_ref:
        payload["DepartmentRef"] = department_ref
    if currency:
        payload["CurrencyRef"] = {"value": currency}
    return payload

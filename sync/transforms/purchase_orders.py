"""JAGGAER purchase order -> QBO PurchaseOrder (pure: the caller resolves vendor, accounts, departments)."""

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

VERSION = "po-1"
POSTED = {"Approved": "Open", "Issued": "Open", "Closed": "Closed"}
WAITING = {"Draft"}
CANCELLED = "Cancelled"
STATUSES = set(POSTED) | WAITING | {CANCELLED}
VOLATILE = ("lastUpdate",)


@dataclass
class PurchaseOrderDraft:
    po_id: str
    po_number: str
    status: str                    # JAGGAER status
    order_date: str
    company_id: str
    supplier_name: str
    currency: str | None
    total: Decimal
    lines: list[LineDraft]
    departments: Departments

    @property
    def qbo_status(self) -> str:
        """POStatus it should have in QBO (a cancelled PO is closed)."""
        return POSTED.get(self.status, "Closed")

    def memo(self, doc_number: str) -> str:
        shortened = f"QuickBooks number {doc_number} is its short form" if doc_number != self.po_number else None
        cancelled = "Cancelled in JAGGAER" if self.status == CANCELLED else None
        return note(f"JAGGAER PO {self.po_number} ({self.po_id})", shortened, cancelled)


def purchase_order_draft(record: dict, *, gl_segment: str, department_segment: str) -> PurchaseOrderDraft:
    po_id = str(required(record, "poId"))
    po_number = text_or_none(required(record, "poNumber"), limit=100)
    status = str(required(record, "status")).strip()
    if status not in STATUSES:
        raise InvalidRecord(f"Unknown PO status {status!r}.", field="status")
    supplier = record.get("supplier")
    company_id = text_or_none(supplier.get("companyId"), limit=100) if isinstance(supplier, dict) else None
    if not company_id:
        raise InvalidRecord("Required field 'supplier.companyId' is missing.", field="supplier.companyId")
    order_date = parse_date(required(record, "orderDate"), field="orderDate").isoformat()
    lines = parse_lines(record, gl_segment=gl_segment, department_segment=department_segment)
    return PurchaseOrderDraft(
        po_id=po_id, po_number=po_number or "", status=status, order_date=order_date, company_id=company_id,
        supplier_name=text_or_none(supplier.get("companyName"), limit=500) or company_id,
        currency=currency_of(record), total=header_total(record), lines=lines,
        departments=departments(record.get("accountingSegments"), lines, department_segment=department_segment))


def mapped_digest(draft: PurchaseOrderDraft) -> str:
    """Fingerprint of what QuickBooks gets from the PO: nothing else the record carries (its timestamp, the
    supplier's name on it, segments we do not map) makes a write; Approved and Issued are both Open."""
    return digest({"po": [draft.po_id, draft.po_number, draft.qbo_status, draft.status == CANCELLED, draft.order_date,
                          draft.company_id, draft.currency, draft.departments.header, draft.departments.codes],
                   "lines": [line_content(line) for line in draft.lines]}, version=VERSION)


def content_digest(record: dict) -> str:
    """The digest links written before `mapped_digest` hold: the record without its timestamp."""
    body = {k: v for k, v in record.items() if k not in VOLATILE}
    if body.get("status") in POSTED:
        body["status"] = POSTED[body["status"]]
    return digest(body, version=VERSION)


def purchase_order_payload(draft: PurchaseOrderDraft, *, vendor_id: str, ap_ref: dict, doc_number: str,
                           accounts: dict[str, dict], department_ref: dict | None,
                           classes: dict[str, dict] | None, line_ids: dict[str, str],
                           currency: str | None, status: str | None) -> dict:
    """The PurchaseOrder body (without Id/SyncToken): every line, with the QBO line Id it already has."""
    lines = []
    for line in draft.lines:
        class_ref = classes.get(line.department) if classes and line.department else None
        lines.append(expense_line(line, amount=line.amount, account_ref=accounts[line.gl_code], class_ref=class_ref,
                                  line_id=line_ids.get(line.number)))
    payload = {"VendorRef": {"value": vendor_id}, "APAccountRef": ap_ref, "DocNumber": doc_number,
               "TxnDate": draft.order_date, "PrivateNote": draft.memo(doc_number), "Line": lines}
    if status:
        payload["POStatus"] = status
    if department_ref:
        payload["DepartmentRef"] = department_ref
    if currency:
        payload["CurrencyRef"] = {"value": currency}
    return payload

"""The numbers and names a record is known by, kept in `RecordIdentifier` as the pipeline writes the record.

Customers quote invoice numbers, their supplier's invoice number, PO numbers or a supplier's name, never
JAGGAER's ids; each is stored case-folded next to the record's key (tenant, entity, source id), so the
support search is an index lookup and every other table is then read by that key.
"""

from __future__ import annotations

from collections.abc import Iterable

from core import bulk
from sync.models import RecordIdentifier

VALUE_MAX = 200

# kind -> how the console names it
KINDS = {
    "jaggaer_id": "JAGGAER id",
    "document_number": "document number",
    "supplier_invoice_number": "supplier's invoice number",
    "po_number": "PO number",
    "supplier_name": "supplier name",
    "supplier_number": "supplier number",
    "qbo_id": "QuickBooks Id",
    "qbo_doc_number": "QuickBooks DocNumber",
    "gl_code": "GL code waited on",
    "department_code": "department code waited on",
}
ID_FIELDS = {"suppliers": "companyId", "purchase_orders": "poId", "invoices": "invoiceId"}


def identifier_normalize(value) -> str:
    """How a value is stored and looked up: trimmed, inner spaces single, case-folded, cut to the column."""
    return " ".join(str(value).split()).casefold()[:VALUE_MAX]


def _supplier(found: list, supplier) -> None:
    if isinstance(supplier, dict):
        found += [("supplier_number", supplier.get("companyId")), ("supplier_name", supplier.get("companyName"))]


def identifiers_of(entity: str, raw) -> set[tuple[str, str]]:
    """(kind, value) pairs of one JAGGAER record as fetched; whatever is missing or malformed is left out."""
    if not isinstance(raw, dict):
        return set()
    found: list = [("jaggaer_id", raw.get(ID_FIELDS.get(entity, "")))]
    if entity == "suppliers":
        found += [("supplier_number", raw.get("companyId")), ("supplier_name", raw.get("companyName")),
                  ("supplier_name", raw.get("doingBusinessAs")), ("supplier_number", raw.get("erpNumber"))]
    elif entity == "purchase_orders":
        found.append(("po_number", raw.get("poNumber")))
        _supplier(found, raw.get("supplier"))
    elif entity == "invoices":
        found += [("document_number", raw.get("invoiceNumber")),
                  ("supplier_invoice_number", raw.get("supplierInvoiceNumber"))]
        _supplier(found, raw.get("supplier"))
        lines = raw.get("lineList")
        for line in lines if isinstance(lines, list) else []:
            if isinstance(line, dict):
                found.append(("po_number", line.get("poNumber")))
    return {(kind, identifier_normalize(value)) for kind, value in found
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip()}


def identifiers_save(*, tenant_id, entity: str, records: Iterable[tuple[str, set[tuple[str, str]]]],
                     normalized: bool = False) -> int:
    """Store (source id, {(kind, value)}) pairs of one entity, known ones kept: one INSERT (core.bulk).
    `normalized`: the values are `identifier_normalize`d already (as `record_identifiers` gives them)."""
    if normalized:
        rows = {(str(source_id)[:200], kind, value) for source_id, pairs in records for kind, value in pairs if value}
    else:
        rows = {(str(source_id)[:200], kind, identifier_normalize(value))
                for source_id, pairs in records for kind, value in pairs if str(value).strip()}
    return bulk.insert(RecordIdentifier, [{"tenant_id": tenant_id, "entity": entity, "source_id": source, "kind": kind,
                                           "value": value} for source, kind, value in rows], ignore_conflicts=True)


def record_identifiers(entity: str, results, done) -> list[tuple[str, set[tuple[str, str]]]]:
    """What one pipeline batch makes known: each record's own numbers, the codes a held one waits on, and
    the QuickBooks Id and DocNumber of what was written (`done`: (write, QBO entity) pairs); every value
    `identifier_normalize`d, as `identifiers_save(normalized=True)` takes them."""
    waits_kind = {"gl_unmapped": "gl_code", "department_unmapped": "department_code"}
    out = []
    for r in results:
        pairs = identifiers_of(entity, r.record.raw)
        pairs.add(("jaggaer_id", identifier_normalize(r.record.source_id)))
        if r.qbo_id:
            pairs.add(("qbo_id", identifier_normalize(r.qbo_id)))
        hold = getattr(r, "hold", None)
        if hold is not None and hold.reason in waits_kind:
            pairs |= {(waits_kind[hold.reason], identifier_normalize(code)) for code in hold.waits_on or []}
        out.append((r.record.source_id, pairs))
    for write, written in done:
        if isinstance(written, dict):
            pairs = {("qbo_id", written.get("Id")), ("qbo_doc_number", written.get("DocNumber"))}
            out.append((write.record.source_id, {(k, identifier_normalize(v)) for k, v in pairs if v}))
    return out

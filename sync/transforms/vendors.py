"""JAGGAER supplier (company profile) -> QBO Vendor payload, with only the fields JAGGAER owns."""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.transforms.common import (
    QBO_NAME_MAX,
    InvalidRecord,
    clean_name,
    digest,
    normalize_name,
    parse_timestamp,
    required,
    text_or_none,
)

VERSION = "vendor-1"
SUFFIX = " (V)"
COMPANY_NAME_MAX = 100
ACCT_NUM_MAX = 100


@dataclass
class VendorDraft:
    source_id: str
    display_name: str          # cleaned, before any collision suffix
    payload: dict              # JAGGAER-owned fields, without DisplayName, Id, SyncToken
    terms: str | None          # JAGGAER payment terms name, resolved to a QBO Term by validate
    currency: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def normalized_name(self) -> str:
        return normalize_name(self.display_name)


def with_suffix(name: str) -> str:
    """The deterministic name of a vendor whose name a QBO Customer or Employee already has (6240)."""
    return name[: QBO_NAME_MAX - len(SUFFIX)].rstrip() + SUFFIX


def _address(addr: dict | None) -> dict | None:
    if not isinstance(addr, dict):
        return None
    out = {
        "Line1": text_or_none(addr.get("line1"), limit=500),
        "Line2": text_or_none(addr.get("line2"), limit=500),
        "City": text_or_none(addr.get("city"), limit=255),
        "CountrySubDivisionCode": text_or_none(addr.get("state"), limit=255),
        "PostalCode": text_or_none(addr.get("postalCode"), limit=30),
        "Country": text_or_none(addr.get("country"), limit=255),
    }
    out = {k: v for k, v in out.items() if v}
    return out or None


def content_digest(payload: dict) -> str:
    """Fingerprint of the vendor fields we send, whatever the JAGGAER record's timestamps: a supplier whose
    mapped content did not change is not written again. Id and SyncToken are QBO's; CurrencyRef is sent only
    on create (QBO refuses to change a vendor's currency), so neither is part of it."""
    return digest({k: v for k, v in payload.items() if k not in ("Id", "SyncToken", "CurrencyRef")},
                  version=VERSION)


def supplier_to_vendor(record: dict) -> VendorDraft:
    source_id = str(required(record, "companyId"))
    raw_name = required(record, "companyName")
    if not isinstance(raw_name, str):
        raise InvalidRecord("Field 'companyName' is not text.", field="companyName")
    if "lastModTime" in record:
        parse_timestamp(record["lastModTime"], field="lastModTime")
    name = clean_name(raw_name)
    if not name:
        raise InvalidRecord("Field 'companyName' has no printable characters.", field="companyName")
    notes = []
    if name != raw_name.strip():
        notes.append(f"Name cleaned to QuickBooks' rules (was {raw_name[:80]!r}{'...' if len(raw_name) > 80 else ''}).")

    dba = record.get("doingBusinessAs")
    payload: dict = {
        "CompanyName": clean_name(dba if isinstance(dba, str) and dba.strip() else raw_name, limit=COMPANY_NAME_MAX),
        "Active": bool(record.get("active", True)),
    }
    if acct := text_or_none(record.get("erpNumber"), limit=ACCT_NUM_MAX):
        payload["AcctNum"] = acct
    if tax_id := text_or_none(record.get("taxId"), limit=20):
        payload["TaxIdentifier"] = tax_id
    if address := _address(record.get("primaryAddress")):
        payload["BillAddr"] = address
    contact = record.get("primaryContact") if isinstance(record.get("primaryContact"), dict) else {}
    if email := text_or_none(contact.get("email"), limit=100):
        payload["PrimaryEmailAddr"] = {"Address": email}
    if phone := text_or_none(contact.get("phone"), limit=30):
        payload["PrimaryPhone"] = {"FreeFormNumber": phone}
    currency = text_or_none(record.get("currency"), limit=3)
    terms = text_or_none(record.get("paymentTerms"), limit=100)
    return VendorDraft(source_id=source_id, display_name=name, payload=payload, terms=terms,
                       currency=currency.upper() if currency else None, notes=notes)

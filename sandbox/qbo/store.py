"""One QBO company (realm): its entities, their indexes, the validations and faults of the contract.

Everything here runs under `Realm.lock`; callers (the app) take it. Records are plain dicts in the shape
QBO answers, wrapped in `Rec` so their JSON is encoded once and reused by every query page.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from . import faults as F
from .faults import QboFault
from .query import Condition, Query, QueryError, coerce, matches, parse_time, resolve, sort_key

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
CENT = Decimal("0.01")

PERSONS = ("Vendor", "Customer", "Employee")                 # one DisplayName namespace
LISTS = ("Account", "Department", "Class", "Term")
TXNS = ("PurchaseOrder", "Bill", "VendorCredit")
NAME_LISTS = PERSONS + LISTS                                 # Active defaults to true in queries
ENTITIES = PERSONS + LISTS + TXNS + ("CompanyInfo",)
BY_LOWER = {e.lower(): e for e in ENTITIES}
WEBHOOK_ENTITIES = ("Vendor", "Account", "Department")

ACCOUNT_TYPES = {
    "Bank": ("Asset", "Checking"),
    "Other Current Asset": ("Asset", "OtherCurrentAssets"),
    "Fixed Asset": ("Asset", "MachineryAndEquipment"),
    "Other Asset": ("Asset", "OtherLongTermAssets"),
    "Accounts Receivable": ("Asset", "AccountsReceivable"),
    "Equity": ("Equity", "OpeningBalanceEquity"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "Other Expense": ("Expense", "OtherMiscellaneousExpense"),
    "Cost of Goods Sold": ("Expense", "SuppliesMaterialsCogs"),
    "Accounts Payable": ("Liability", "AccountsPayable"),
    "Credit Card": ("Liability", "CreditCard"),
    "Long Term Liability": ("Liability", "OtherLongTermLiabilities"),
    "Other Current Liability": ("Liability", "OtherCurrentLiabilities"),
    "Income": ("Revenue", "SalesOfProductIncome"),
    "Other Income": ("Revenue", "OtherMiscellaneousIncome"),
}
_ACCOUNT_TYPES_LOWER = {k.lower(): k for k in ACCOUNT_TYPES}
CURRENCY_NAMES = {"USD": "United States Dollar", "CAD": "Canadian Dollar", "EUR": "Euro",
                  "GBP": "British Pound Sterling", "AUD": "Australian Dollar", "INR": "Indian Rupee",
                  "MXN": "Mexican Peso", "JPY": "Japanese Yen", "CHF": "Swiss Franc", "CNY": "Chinese Yuan"}
# what a client may not set: QBO ignores these in a request
READ_ONLY = {"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "Balance", "TotalAmt",
             "FullyQualifiedName", "CurrentBalance", "CurrentBalanceWithSubAccounts", "BalanceWithJobs",
             "LinkedTxn", "Classification", "SubAccount", "SubDepartment", "SubClass", "HomeTotalAmt",
             "HomeBalance", "Level", "Job"}
REQUESTID_CACHE_SIZE = 200_000


class Rec:
    """A stored object, its JSON encoded lazily once, and its times as epoch seconds."""

    __slots__ = ("data", "created", "updated", "_json", "extra")

    def __init__(self, data: dict, created: float, updated: float):
        self.data = data
        self.created = created
        self.updated = updated
        self._json: bytes | None = None
        self.extra: dict = {}

    def json(self) -> bytes:
        if self._json is None:
            self._json = _encode(self.data).encode("utf-8")
        return self._json

    def touch(self) -> None:
        self._json = None


def clean(value: Any) -> Any:
    """Drop None, empty strings and empty lists/dicts, recursively: python-quickbooks sends them for unset fields."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = clean(v)
            if v is None or v == "" or v == [] or v == {}:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def money(value: Any, element: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise F.invalid(element, f"{element} must be a number, not {value!r}")
    if not d.is_finite():
        raise F.invalid(element, f"{element} must be a finite number")
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def number(d: Decimal) -> float | int:
    return float(d)


def boolean(value: Any, element: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise F.invalid(element, f"{element} must be true or false")


@dataclass
class Limits:
    requests_per_minute: int | None = 500
    concurrent: int | None = 10
    batches_per_minute: int | None = 40
    requests_per_second: int | None = None      # QBO's 10/s per realm and app; off unless set


@dataclass
class WebhookConfig:
    url: str
    verifier_token: str
    format: str = "classic"                      # "classic" or "cloudevents"
    entities: tuple[str, ...] = WEBHOOK_ENTITIES
    delay: float = 0.05                          # seconds to gather events into one notification


@dataclass
class Realm:
    id: str
    company_name: str = "ML Sandbox Manufacturing Co."
    tz_name: str = "America/Los_Angeles"
    multicurrency: bool = False
    home_currency: str = "USD"
    country: str = "US"
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.time
    on_change: Callable[[Realm, str, str, str, float], None] | None = None

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.tz = ZoneInfo(self.tz_name)
        self.recs: dict[str, dict[str, Rec]] = {e: {} for e in ENTITIES}
        self.deleted: dict[str, dict[str, Rec]] = {e: {} for e in ENTITIES}
        self.next_id: dict[str, int] = {e: 1 for e in ENTITIES}
        self.person_names: dict[str, tuple[str, str]] = {}         # casefold DisplayName -> (entity, id)
        self.list_names: dict[str, dict[str, str]] = {e: {} for e in LISTS}   # casefold FQN -> id
        self.docnums: dict[str, dict[str, set[str]]] = {e: {} for e in TXNS}  # casefold DocNumber -> ids
        self.po_billing: dict[str, dict[str, dict[str, Decimal]]] = {}        # po -> bill -> line -> amount
        self.bill_pos: dict[str, set[str]] = {}                                # bill -> the POs it links
        self.requestids: OrderedDict[str, tuple] = OrderedDict()
        self.webhook: WebhookConfig | None = None
        # limits state
        self.limit_lock = threading.Lock()
        self.window: deque[float] = deque()
        self.batch_window: deque[float] = deque()
        self.second_window: deque[float] = deque()
        self.inflight = 0
        self.preferences_updated = self.clock()    # the Preferences object's LastUpdatedTime (CDC answers it)
        self._add_company_info()

    def touch_preferences(self) -> None:
        """The company's preferences changed (multicurrency, home currency): CDC reports them from now."""
        self.preferences_updated = self.clock()

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        return self.clock()

    def fmt(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).isoformat(timespec="seconds")

    def fmt_ms(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).isoformat(timespec="milliseconds")

    def today(self) -> str:
        return datetime.fromtimestamp(self.now(), self.tz).date().isoformat()

    # ------------------------------------------------------------------ basic storage
    def _new_id(self, entity: str) -> str:
        n = self.next_id[entity]
        self.next_id[entity] = n + 1
        return str(n)

    def _store_new(self, entity: str, data: dict, when: float | None = None, obj_id: str | None = None) -> Rec:
        t = self.now() if when is None else when
        obj_id = obj_id or self._new_id(entity)
        stamp = self.fmt(t)
        out = {"Id": obj_id, "SyncToken": "0", "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}}
        out.update(data)
        out["domain"] = "QBO"
        out["sparse"] = False
        rec = Rec(out, t, t)
        self.recs[entity][obj_id] = rec
        return rec

    def _bump(self, rec: Rec, data: dict) -> None:
        t = self.now()
        old = rec.data
        out = {"Id": old["Id"], "SyncToken": str(int(old["SyncToken"]) + 1),
               "MetaData": {"CreateTime": old["MetaData"]["CreateTime"], "LastUpdatedTime": self.fmt(t)}}
        out.update(data)
        out["domain"] = "QBO"
        out["sparse"] = False
        rec.data = out
        rec.updated = t
        rec.touch()

    def _changed(self, entity: str, obj_id: str, operation: str, t: float) -> None:
        if self.on_change is not None and entity in WEBHOOK_ENTITIES:
            self.on_change(self, entity, obj_id, operation, t)

    def _add_company_info(self) -> None:
        data = {"CompanyName": self.company_name, "LegalName": self.company_name,
                "CompanyAddr": {"Line1": "100 Foundry Road", "City": "Dayton", "CountrySubDivisionCode": "OH",
                                "PostalCode": "45402", "Country": "US"},
                "Country": self.country, "FiscalYearStartMonth": "January", "SupportedLanguages": "en",
                "CompanyStartDate": "2015-01-01",
                "NameValue": [{"Name": "NeoEnabled", "Value": "true"},
                              {"Name": "IsQbdtMigrated", "Value": "false"},
                              {"Name": "OfferingSku", "Value": "QuickBooks Online Advanced"}]}
        self._store_new("CompanyInfo", data, obj_id="1")

    def get(self, entity: str, obj_id: str) -> Rec | None:
        return self.recs[entity].get(str(obj_id))

    def read(self, entity: str, obj_id: str) -> Rec:
        rec = self.recs[entity].get(str(obj_id))
        if rec is None:
            raise F.not_found(entity, str(obj_id))
        return rec

    # ------------------------------------------------------------------ references
    def ref(self, value: Any, entity: str, element: str, *, require_active: bool = True) -> tuple[dict, Rec]:
        """Resolve a Ref {"value": id}: 2500 if it never existed or was deleted, 610 if inactive."""
        if not isinstance(value, dict) or not value.get("value"):
            if isinstance(value, (str, int)) and str(value):
                value = {"value": str(value)}
            else:
                raise F.required(element)
        ref_id = str(value["value"])
        rec = self.recs[entity].get(ref_id)
        if rec is None:
            raise F.invalid_reference(element, entity, ref_id)
        if require_active and rec.data.get("Active") is False:
            raise F.not_found(entity, ref_id, inactive=True, element=element)
        return {"value": ref_id, "name": self._display(entity, rec)}, rec

    @staticmethod
    def _display(entity: str, rec: Rec) -> str:
        d = rec.data
        if entity in PERSONS:
            return d.get("DisplayName", "")
        return d.get("FullyQualifiedName") or d.get("Name", "")

    def currency(self, value: Any) -> dict:
        if value is None:
            code = self.home_currency
        else:
            code = str(value.get("value") if isinstance(value, dict) else value).upper()
            if code != self.home_currency and not self.multicurrency:
                raise F.business(f"Multicurrency is off for this company: CurrencyRef must be "
                                 f"{self.home_currency}, not {code}.", "CurrencyRef")
            if len(code) != 3 or not code.isalpha():
                raise F.invalid("CurrencyRef", f"Unknown currency {code}")
        return {"value": code, "name": CURRENCY_NAMES.get(code, code)}

    # ------------------------------------------------------------------ write entry points
    def create(self, entity: str, payload: dict, options: set[str] | None = None) -> Rec:
        if entity == "CompanyInfo":
            raise F.business("CompanyInfo cannot be created.")
        body = {k: v for k, v in clean(payload).items() if k not in READ_ONLY}
        data = self._validate(entity, body, None, options or set())
        rec = self._store_new(entity, data)
        self._index(entity, rec)
        self._after_write(entity, rec, None)
        self._changed(entity, rec.data["Id"], "Create", rec.updated)
        return rec

    def update(self, entity: str, payload: dict, options: set[str] | None = None) -> Rec:
        if not isinstance(payload, dict):
            raise F.invalid(entity, "The request body must be an object")
        obj_id = payload.get("Id")
        if obj_id in (None, ""):
            raise F.required("Id")
        rec = self.recs[entity].get(str(obj_id))
        if rec is None:
            raise F.not_found(entity, str(obj_id))
        token = payload.get("SyncToken")
        if token in (None, ""):
            raise F.required("SyncToken")
        if str(token) != rec.data["SyncToken"]:
            raise F.stale(entity)
        sparse = payload.get("sparse") in (True, "true", "True")
        body = {k: v for k, v in clean(payload).items() if k not in READ_ONLY}
        if sparse:
            merged = {k: v for k, v in rec.data.items() if k not in READ_ONLY}
            merged.update(body)
            body = merged
        if entity == "CompanyInfo":
            data = {k: v for k, v in rec.data.items() if k not in READ_ONLY}
            data.update(body)
            self._bump(rec, data)
            return rec
        data = self._validate(entity, body, rec, options or set())
        self._unindex(entity, rec)
        self._bump(rec, data)
        self._index(entity, rec)
        self._after_write(entity, rec, None)
        self._changed(entity, rec.data["Id"], "Update", rec.updated)
        return rec

    def delete(self, entity: str, payload: dict, *, force: bool = False) -> dict:
        """Delete a transaction (name lists are made inactive instead, unless `force` from the control API)."""
        if entity not in TXNS and not force:
            raise F.business(f"{entity} cannot be deleted; make it inactive (Active=false) instead.")
        obj_id = str(payload.get("Id") or "")
        if not obj_id:
            raise F.required("Id")
        rec = self.recs[entity].get(obj_id)
        if rec is None:
            raise F.not_found(entity, obj_id)
        if not force:
            token = payload.get("SyncToken")
            if token in (None, ""):
                raise F.required("SyncToken")
            if str(token) != rec.data["SyncToken"]:
                raise F.stale(entity)
        if entity == "PurchaseOrder" and self.po_billing.get(obj_id):
            raise F.business("This purchase order is linked to a bill and cannot be deleted.")
        self._unindex(entity, rec)
        del self.recs[entity][obj_id]
        self._after_write(entity, rec, deleted=True)
        t = self.now()
        tomb = Rec({"domain": "QBO", "status": "Deleted", "Id": obj_id,
                    "MetaData": {"LastUpdatedTime": self.fmt(t)}}, rec.created, t)
        self.deleted[entity][obj_id] = tomb
        self._changed(entity, obj_id, "Delete", t)
        return {"domain": "QBO", "status": "Deleted", "Id": obj_id}

    def set_active(self, entity: str, obj_id: str, active: bool) -> Rec:
        rec = self.read(entity, obj_id)
        data = {k: v for k, v in rec.data.items() if k not in ("Id", "SyncToken", "MetaData", "domain", "sparse")}
        data["Active"] = active
        self._bump(rec, data)
        self._changed(entity, obj_id, "Update", rec.updated)
        return rec

    def edit(self, entity: str, obj_id: str, fields: dict) -> Rec:
        """Fields changed as a person changes them in QuickBooks' screens: no validation, the SyncToken moves."""
        rec = self.read(entity, obj_id)
        data = {k: v for k, v in rec.data.items() if k not in ("Id", "SyncToken", "MetaData", "domain", "sparse")}
        data.update({k: v for k, v in fields.items() if k not in ("Id", "SyncToken", "MetaData", "domain")})
        self._unindex(entity, rec)
        self._bump(rec, data)
        self._index(entity, rec)
        self._changed(entity, obj_id, "Update", rec.updated)
        return rec

    def mark_paid(self, bill_id: str, amount: Any = None) -> Rec:
        rec = self.read("Bill", bill_id)
        total = money(rec.data.get("TotalAmt", 0), "TotalAmt")
        paid = total if amount is None else min(total, money(amount, "amount"))
        rec.extra["paid"] = paid
        data = {k: v for k, v in rec.data.items() if k not in ("Id", "SyncToken", "MetaData", "domain", "sparse")}
        data["Balance"] = number(total - paid)
        self._bump(rec, data)
        return rec

    # ------------------------------------------------------------------ indexes
    def _index(self, entity: str, rec: Rec) -> None:
        d = rec.data
        if entity in PERSONS:
            self.person_names[d["DisplayName"].casefold()] = (entity, d["Id"])
        elif entity in LISTS:
            self.list_names[entity][self._display(entity, rec).casefold()] = d["Id"]
        elif entity in TXNS and d.get("DocNumber"):
            self.docnums[entity].setdefault(d["DocNumber"].casefold(), set()).add(d["Id"])

    def _unindex(self, entity: str, rec: Rec) -> None:
        d = rec.data
        if entity in PERSONS:
            key = d["DisplayName"].casefold()
            if self.person_names.get(key) == (entity, d["Id"]):
                del self.person_names[key]
        elif entity in LISTS:
            key = self._display(entity, rec).casefold()
            if self.list_names[entity].get(key) == d["Id"]:
                del self.list_names[entity][key]
        elif entity in TXNS and d.get("DocNumber"):
            ids = self.docnums[entity].get(d["DocNumber"].casefold())
            if ids:
                ids.discard(d["Id"])
                if not ids:
                    del self.docnums[entity][d["DocNumber"].casefold()]

    # ------------------------------------------------------------------ validation per entity
    def _validate(self, entity: str, body: dict, existing: Rec | None, options: set[str]) -> dict:
        if entity in PERSONS:
            return self._person(entity, body, existing)
        if entity == "Account":
            return self._account(body, existing)
        if entity in ("Department", "Class"):
            return self._simple_list(entity, body, existing)
        if entity == "Term":
            return self._term(body, existing)
        return self._txn(entity, body, existing, options)

    def _text(self, body: dict, key: str, max_len: int, *, required: bool = False, bad: str = "") -> str | None:
        value = body.get(key)
        if value is None:
            if required:
                raise F.required(key)
            return None
        if not isinstance(value, str):
            value = str(value)
        value = value.strip()
        if not value:
            if required:
                raise F.required(key)
            return None
        if len(value) > max_len:
            raise F.length(key, max_len, len(value))
        for ch in bad:
            if ch in value:
                names = {":": "a colon (:)", "\t": "a tab", "\n": "a new line", "\r": "a new line",
                         '"': 'a double quote (")'}
                raise F.bad_characters(key, names.get(ch, repr(ch)))
        body[key] = value
        return value

    def _person(self, entity: str, body: dict, existing: Rec | None) -> dict:
        name = self._text(body, "DisplayName", 500, required=True, bad=":\t\n\r")
        owner = self.person_names.get(name.casefold())
        if owner is not None and (existing is None or owner != (entity, existing.data["Id"])):
            raise F.duplicate_name("customer, vendor or employee")
        for key, max_len in (("GivenName", 100), ("FamilyName", 100), ("MiddleName", 100),
                             ("CompanyName", 100), ("Title", 16), ("Suffix", 16)):
            self._text(body, key, max_len)
        self._text(body, "AcctNum", 100)
        data = dict(body)
        data["DisplayName"] = name
        data["Active"] = boolean(body.get("Active"), "Active", True)
        data.setdefault("PrintOnCheckName", name[:110])
        if "TermRef" in body:
            data["TermRef"], _ = self.ref(body["TermRef"], "Term", "TermRef")
        if entity == "Vendor":
            if "APAccountRef" in body:
                ref, acct = self.ref(body["APAccountRef"], "Account", "APAccountRef")
                if acct.data.get("AccountType") != "Accounts Payable":
                    raise F.business("APAccountRef must be an Accounts Payable account.", "APAccountRef")
                data["APAccountRef"] = ref
            data["Vendor1099"] = boolean(body.get("Vendor1099"), "Vendor1099", False)
            data["CurrencyRef"] = self.currency(body.get("CurrencyRef"))
            data["Balance"] = 0
        elif entity == "Customer":
            data["CurrencyRef"] = self.currency(body.get("CurrencyRef"))
            data["FullyQualifiedName"] = name
            data["Job"] = False
            data["BillWithParent"] = False
            data["Balance"] = 0
            data["BalanceWithJobs"] = 0
            data["Taxable"] = boolean(body.get("Taxable"), "Taxable", False)
        else:
            data["BillableTime"] = boolean(body.get("BillableTime"), "BillableTime", False)
        return data

    def _parent(self, entity: str, body: dict, existing: Rec | None) -> tuple[dict | None, Rec | None]:
        if "ParentRef" not in body:
            return None, None
        ref, parent = self.ref(body["ParentRef"], entity, "ParentRef")
        if existing is not None:
            cur = parent
            while cur is not None:                      # no cycles
                if cur.data["Id"] == existing.data["Id"]:
                    raise F.business(f"A {entity} cannot be its own parent.", "ParentRef")
                pref = cur.data.get("ParentRef")
                cur = self.recs[entity].get(pref["value"]) if pref else None
        return ref, parent

    def _unique_list_name(self, entity: str, fqn: str, existing: Rec | None, kind: str) -> None:
        owner = self.list_names[entity].get(fqn.casefold())
        if owner is not None and (existing is None or owner != existing.data["Id"]):
            raise F.duplicate_name(kind)

    def _account(self, body: dict, existing: Rec | None) -> dict:
        name = self._text(body, "Name", 100, required=True, bad=':"\t\n\r')
        acct_type = body.get("AccountType")
        if acct_type is None:
            raise F.required("AccountType")
        canonical = _ACCOUNT_TYPES_LOWER.get(str(acct_type).lower())
        if canonical is None:
            raise F.invalid("AccountType", f"Invalid AccountType: {acct_type}")
        max_num = 20 if self.country in ("AU", "CA") else 7
        self._text(body, "AcctNum", max_num)
        self._text(body, "Description", 100)
        parent_ref, parent = self._parent("Account", body, existing)
        fqn = name if parent is None else f"{parent.data['FullyQualifiedName']}:{name}"
        self._unique_list_name("Account", fqn, existing, "account")
        classification, subtype = ACCOUNT_TYPES[canonical]
        data = dict(body)
        data.update({"Name": name, "AccountType": canonical, "Classification": classification,
                     "AccountSubType": body.get("AccountSubType") or subtype,
                     "SubAccount": parent is not None, "FullyQualifiedName": fqn,
                     "Active": boolean(body.get("Active"), "Active", True),
                     "CurrentBalance": 0, "CurrentBalanceWithSubAccounts": 0,
                     "CurrencyRef": self.currency(body.get("CurrencyRef"))})
        if parent_ref:
            data["ParentRef"] = parent_ref
        return data

    def _simple_list(self, entity: str, body: dict, existing: Rec | None) -> dict:
        name = self._text(body, "Name", 100, required=True, bad=":\t\n\r")
        parent_ref, parent = self._parent(entity, body, existing)
        fqn = name if parent is None else f"{parent.data['FullyQualifiedName']}:{name}"
        self._unique_list_name(entity, fqn, existing, entity.lower())
        data = dict(body)
        data.update({"Name": name, "FullyQualifiedName": fqn, "Active": boolean(body.get("Active"), "Active", True),
                     ("SubDepartment" if entity == "Department" else "SubClass"): parent is not None})
        if parent_ref:
            data["ParentRef"] = parent_ref
        return data

    def _term(self, body: dict, existing: Rec | None) -> dict:
        name = self._text(body, "Name", 31, required=True, bad=":\t\n\r")
        self._unique_list_name("Term", name, existing, "term")
        data = dict(body)
        data["Name"] = name
        data["FullyQualifiedName"] = name
        data["Active"] = boolean(body.get("Active"), "Active", True)
        data.setdefault("Type", "STANDARD")
        if data["Type"] == "STANDARD":
            try:
                data["DueDays"] = int(body.get("DueDays", 30))
            except (TypeError, ValueError):
                raise F.invalid("DueDays", "DueDays must be a whole number")
        return data

    # ---- transactions
    def _date(self, body: dict, key: str) -> str | None:
        value = body.get(key)
        if value is None:
            return None
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            raise F.invalid(key, f"{key} must be a date (YYYY-MM-DD), not {value!r}")

    def _txn(self, entity: str, body: dict, existing: Rec | None, options: set[str]) -> dict:
        if "VendorRef" not in body:
            raise F.required("VendorRef")
        vendor_ref, vendor = self.ref(body["VendorRef"], "Vendor", "VendorRef")
        data = dict(body)
        data["VendorRef"] = vendor_ref
        # AP account: required on a PO (contract), defaulted on bills and credits
        if "APAccountRef" in body:
            ap_ref, ap = self.ref(body["APAccountRef"], "Account", "APAccountRef")
            if ap.data.get("AccountType") != "Accounts Payable":
                raise F.business("APAccountRef must be a Liability account of type Accounts Payable "
                                 f"(account {ap_ref['value']} is {ap.data.get('AccountType')}).", "APAccountRef")
            data["APAccountRef"] = ap_ref
        elif entity == "PurchaseOrder":
            raise F.required("APAccountRef")
        else:
            ap = next((r for r in self.recs["Account"].values()
                       if r.data.get("AccountType") == "Accounts Payable" and r.data.get("Active") is not False),
                      None)
            if ap is None:
                raise F.business("The company has no active Accounts Payable account.", "APAccountRef")
            data["APAccountRef"] = {"value": ap.data["Id"], "name": ap.data["FullyQualifiedName"]}
        for key, ref_entity in (("DepartmentRef", "Department"), ("ClassRef", "Class"), ("SalesTermRef", "Term")):
            if key in body:
                data[key], _ = self.ref(body[key], ref_entity, key)
        data["CurrencyRef"] = self.currency(body.get("CurrencyRef"))
        if data["CurrencyRef"]["value"] == self.home_currency:
            data["ExchangeRate"] = 1
        elif "ExchangeRate" in body:
            data["ExchangeRate"] = float(money(body["ExchangeRate"], "ExchangeRate"))
        else:
            data["ExchangeRate"] = 1
        txn_date = self._date(body, "TxnDate") or self.today()
        data["TxnDate"] = txn_date
        if entity == "Bill":
            due = self._date(body, "DueDate")
            if due is None:
                days = 0
                term = self.recs["Term"].get((data.get("SalesTermRef") or vendor.data.get("TermRef") or {})
                                             .get("value", ""))
                if term is not None:
                    days = int(term.data.get("DueDays") or 0)
                due = (date.fromisoformat(txn_date) + timedelta(days=days)).isoformat()
            data["DueDate"] = due
        self._text(body, "PrivateNote", 4000)
        docnumber = self._text(body, "DocNumber", 21)
        if docnumber:
            data["DocNumber"] = docnumber
            if "allowduplicatedocnum" not in options:
                self._check_docnumber(entity, docnumber, vendor_ref["value"], existing)
        lines = body.get("Line")
        if not isinstance(lines, list) or not lines:
            raise F.required("Line")
        old_ids = {str(ln.get("Id")) for ln in (existing.data.get("Line") or [])} if existing else set()
        next_line = existing.extra.get("next_line", 1) if existing else 1
        out_lines = []
        total = Decimal(0)
        links: dict[str, dict[str, Decimal]] = {}
        for pos, line in enumerate(lines, start=1):
            out, amount = self._line(entity, line, pos, vendor_ref["value"], links)
            line_id = str(line.get("Id") or "") if isinstance(line, dict) else ""
            if not line_id or line_id not in old_ids or any(x["Id"] == line_id for x in out_lines):
                line_id = str(next_line)
                next_line += 1
            out = {"Id": line_id, "LineNum": pos, **out}
            out_lines.append(out)
            total += amount
        data["Line"] = out_lines
        data["TotalAmt"] = number(total)
        data["_next_line"] = next_line
        data["_links"] = links
        if entity == "PurchaseOrder":
            status = body.get("POStatus", "Open")
            if status not in ("Open", "Closed"):
                raise F.invalid("POStatus", f"POStatus must be Open or Closed, not {status!r}")
            data["POStatus"] = status
            data.setdefault("EmailStatus", "NotSet")
            if existing is not None and existing.data.get("LinkedTxn"):
                data["LinkedTxn"] = existing.data["LinkedTxn"]
        else:
            paid = existing.extra.get("paid", Decimal(0)) if existing is not None else Decimal(0)
            data["Balance"] = number(max(Decimal(0), total - paid))
        return data

    def _check_docnumber(self, entity: str, docnumber: str, vendor_id: str, existing: Rec | None) -> None:
        ids = self.docnums[entity].get(docnumber.casefold())
        if not ids:
            return
        mine = existing.data["Id"] if existing is not None else None
        for other in ids:
            if other == mine:
                continue
            if entity != "PurchaseOrder":
                # bills and vendor credits: QBO checks the supplier's own numbers only
                other_vendor = self.recs[entity][other].data["VendorRef"]["value"]
                if other_vendor != vendor_id:
                    continue
            raise F.duplicate_docnumber(docnumber, entity, other)

    def _line(self, entity: str, line: Any, pos: int, vendor_id: str,
              links: dict[str, dict[str, Decimal]]) -> tuple[dict, Decimal]:
        if not isinstance(line, dict):
            raise F.invalid("Line", f"Line {pos} must be an object")
        detail_type = line.get("DetailType")
        if detail_type is None:
            detail_type = next((k for k in ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")
                                if k in line), None)
        if detail_type not in ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"):
            if detail_type is None:
                raise F.required("Line.DetailType")
            raise F.invalid("Line.DetailType", f"Unsupported DetailType {detail_type!r} on a {entity} line")
        if line.get("Amount") is None:
            raise F.required("Line.Amount")
        amount = money(line["Amount"], "Line.Amount")
        out: dict[str, Any] = {}
        if line.get("Description") is not None:
            desc = str(line["Description"])
            if len(desc) > 4000:
                raise F.length("Line.Description", 4000, len(desc))
            out["Description"] = desc
        out["Amount"] = number(amount)
        out["DetailType"] = detail_type
        detail = line.get(detail_type)
        if not isinstance(detail, dict):
            raise F.required(f"Line.{detail_type}")
        d = dict(detail)
        if detail_type == "AccountBasedExpenseLineDetail":
            if "AccountRef" not in detail:
                raise F.required("Line.AccountBasedExpenseLineDetail.AccountRef")
            d["AccountRef"], _ = self.ref(detail["AccountRef"], "Account", "AccountRef")
        else:
            if "ItemRef" not in detail:
                raise F.required("Line.ItemBasedExpenseLineDetail.ItemRef")
            raise F.invalid_reference("ItemRef", "Item", str((detail["ItemRef"] or {}).get("value")))
        if "ClassRef" in detail:
            d["ClassRef"], _ = self.ref(detail["ClassRef"], "Class", "ClassRef")
        if "CustomerRef" in detail:
            d["CustomerRef"], _ = self.ref(detail["CustomerRef"], "Customer", "CustomerRef")
        d.setdefault("BillableStatus", "NotBillable")
        d.pop("TaxInclusiveAmt", None)
        d.setdefault("TaxCodeRef", {"value": "NON"})
        out[detail_type] = d
        linked = line.get("LinkedTxn")
        if linked:
            if entity != "Bill":
                raise F.business(f"A {entity} line cannot be linked to another transaction.", "Line.LinkedTxn")
            out["LinkedTxn"] = [self._link(lk, vendor_id, amount, links) for lk in linked]
        return out, amount

    def _link(self, lk: Any, vendor_id: str, amount: Decimal, links: dict[str, dict[str, Decimal]]) -> dict:
        if not isinstance(lk, dict) or not lk.get("TxnId"):
            raise F.required("Line.LinkedTxn.TxnId")
        txn_type = lk.get("TxnType")
        if txn_type != "PurchaseOrder":
            raise F.business(f"A bill line can link only to a PurchaseOrder, not {txn_type!r}.", "Line.LinkedTxn")
        po_id = str(lk["TxnId"])
        po = self.recs["PurchaseOrder"].get(po_id)
        if po is None:
            raise F.invalid_reference("Line.LinkedTxn", "PurchaseOrder", po_id)
        if po.data["VendorRef"]["value"] != vendor_id:
            raise F.business(f"PurchaseOrder {po_id} belongs to another vendor "
                             f"({po.data['VendorRef']['name']}); a bill can link only its own vendor's "
                             "purchase orders.", "Line.LinkedTxn")
        out = {"TxnId": po_id, "TxnType": "PurchaseOrder"}
        line_id = lk.get("TxnLineId")
        if line_id not in (None, "", 0, "0"):
            line_id = str(line_id)
            if not any(str(x.get("Id")) == line_id for x in po.data.get("Line") or []):
                raise F.business(f"PurchaseOrder {po_id} has no line {line_id}.", "Line.LinkedTxn.TxnLineId")
            out["TxnLineId"] = line_id
            per_line = links.setdefault(po_id, {})
            per_line[line_id] = per_line.get(line_id, Decimal(0)) + amount
        else:
            links.setdefault(po_id, {})
        return out

    def _after_write(self, entity: str, rec: Rec, deleted: bool = False) -> None:
        """Move private bookkeeping out of the public data; keep PO billing state in step with bills."""
        d = rec.data
        if entity in TXNS and not deleted:
            rec.extra["next_line"] = d.pop("_next_line", rec.extra.get("next_line", 1))
            links = d.pop("_links", {})
            rec.touch()
        else:
            links = {}
        if entity != "Bill":
            return
        bill_id = d["Id"]
        touched = set(links) | self.bill_pos.pop(bill_id, set())
        if links:
            self.bill_pos[bill_id] = set(links)
        for po_id in sorted(touched, key=int):
            bills = self.po_billing.setdefault(po_id, {})
            if po_id in links:
                bills[bill_id] = links[po_id]
            else:
                bills.pop(bill_id, None)
            self._refresh_po(po_id)

    def _refresh_po(self, po_id: str) -> None:
        po = self.recs["PurchaseOrder"].get(po_id)
        if po is None:
            return
        bills = self.po_billing.get(po_id, {})
        billed: dict[str, Decimal] = {}
        for per_line in bills.values():
            for line_id, amount in per_line.items():
                billed[line_id] = billed.get(line_id, Decimal(0)) + amount
        data = {k: v for k, v in po.data.items() if k not in ("Id", "SyncToken", "MetaData", "domain", "sparse")}
        linked = [{"TxnId": b, "TxnType": "Bill"} for b in sorted(bills, key=int)]
        full = bool(po.data.get("Line")) and all(
            billed.get(str(ln["Id"]), Decimal(0)) >= money(ln["Amount"], "Amount") for ln in po.data["Line"])
        status = data.get("POStatus", "Open")
        if full and status == "Open":
            status = "Closed"
            po.extra["auto_closed"] = True
        elif not full and po.extra.get("auto_closed") and status == "Closed":
            status = "Open"
            po.extra["auto_closed"] = False
        if linked:
            data["LinkedTxn"] = linked
        else:
            data.pop("LinkedTxn", None)
        if data.get("LinkedTxn") == po.data.get("LinkedTxn") and status == po.data.get("POStatus"):
            return
        data["POStatus"] = status
        self._bump(po, data)

    # ------------------------------------------------------------------ queries
    def query(self, q: Query) -> tuple[str, list[Rec] | int]:
        entity = BY_LOWER.get(q.entity.lower())
        if entity is None:
            raise QueryError(f"QueryValidationError: Invalid entity {q.entity}", code="4001")
        conds = list(q.where)
        if entity in NAME_LISTS and not q.mentions("Active"):
            conds.append(Condition(("Active",), "=", ["true"]))
        rows = self._candidates(entity, conds)
        times = {id(c): [float(int(parse_time(str(v), self.tz))) for v in c.values]
                 for c in conds if len(c.path) == 2 and c.path[0].lower() == "metadata" and c.op != "like"}
        rows = [r for r in rows if self._passes(r, conds, times)] if conds else list(rows)
        if q.count:
            return entity, len(rows)
        for path, desc in reversed(q.order):
            if len(path) == 2 and path[0].lower() == "metadata":
                attr = "created" if path[1].lower() == "createtime" else "updated"
                rows.sort(key=lambda r, a=attr: getattr(r, a), reverse=desc)
            else:
                key = sort_key(path)
                rows.sort(key=lambda r, k=key: k(r.data), reverse=desc)
        start = q.start - 1
        return entity, rows[start:start + q.max_results]

    def _candidates(self, entity: str, conds: list[Condition]):
        table = self.recs[entity]
        for c in conds:
            if c.op not in ("=", "in") or len(c.path) != 1:
                continue
            name = c.path[0].lower()
            values = [str(v).casefold() for v in c.values]
            if name == "id":
                return [table[v] for v in values if v in table]
            if name == "displayname" and entity in PERSONS:
                out = []
                for v in values:
                    hit = self.person_names.get(v)
                    if hit and hit[0] == entity:
                        out.append(table[hit[1]])
                return out
            if name == "docnumber" and entity in TXNS:
                ids = set()
                for v in values:
                    ids |= self.docnums[entity].get(v, set())
                return [table[i] for i in sorted(ids, key=int)]
        return table.values()

    def _passes(self, rec: Rec, conds: list[Condition], times: dict[int, list[float]]) -> bool:
        for c in conds:
            if len(c.path) == 2 and c.path[0].lower() == "metadata":
                attr = c.path[1].lower()
                if attr not in ("createtime", "lastupdatedtime") or c.op == "like":
                    return False
                value = float(int(rec.created if attr == "createtime" else rec.updated))
                if not matches(value, c, times[id(c)]):
                    return False
                continue
            value = resolve(rec.data, c.path)
            if value is None or isinstance(value, dict):  # a missing field, or a ref without a value
                return False
            lits = [coerce(v, value) for v in c.values]
            if not matches(value, c, lits):
                return False
        return True

    # ------------------------------------------------------------------ change data capture
    def changed_since(self, entity: str, since: float, limit: int = 1000) -> list[Rec]:
        s = float(int(since))
        rows = [r for r in self.recs[entity].values() if int(r.updated) >= s]
        rows += [r for r in self.deleted[entity].values() if int(r.updated) >= s]
        rows.sort(key=lambda r: r.updated)
        return rows[:limit]


__all__ = ["Realm", "Rec", "Limits", "WebhookConfig", "ENTITIES", "BY_LOWER", "PERSONS", "LISTS", "TXNS",
           "NAME_LISTS", "REQUESTID_CACHE_SIZE", "clean", "money", "QboFault"]

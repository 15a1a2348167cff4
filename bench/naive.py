"""The naive baseline of the sync benchmark: what a first, straightforward integration does.

For every JAGGAER record it makes one QBO look-up (does it exist already?) and, if not, one create:
no /batch, no bulk reads of QBO, no link tables, no digests. It reads JAGGAER in the same pages as
ours (a list API has no other way) and knows the few references a writer cannot do without (the
A/P account, accounts by GL number) from one read each at the start, and the vendor and PO ids it
created itself from memory. It writes into a QBO realm of its own, loaded with the same company.

Only what ours also writes is attempted (suppliers; POs in a posted status; approved or paid invoices,
not credit memos, in the home currency, whose PO lines it wrote), so requests per written record
compare like with like. A QBO refusal counts as a failed record and its requests still count.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import requests

PO_POSTED = {"Approved", "Issued", "Closed"}
INVOICE_POSTED = {"Approved", "Paid"}


def _q(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


@dataclass
class NaiveResult:
    written: Counter = field(default_factory=Counter)
    existing: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    qbo_requests: Counter = field(default_factory=Counter)
    jaggaer_requests: int = 0
    seconds: dict = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(self.written.values()) + sum(self.existing.values()) + sum(self.failed.values()) + \
            sum(self.skipped.values())


class NaiveSync:
    def __init__(self, *, qbo_url: str, realm: str, qbo_token: str, jaggaer_url: str, jaggaer_token: str,
                 limit: int | None = None):
        self.qbo = requests.Session()
        self.qbo.headers.update({"Authorization": f"Bearer {qbo_token}", "Accept": "application/json"})
        self.base = f"{qbo_url}/v3/company/{realm}"
        self.jaggaer = requests.Session()
        self.jaggaer.headers.update({"Authorization": f"Bearer {jaggaer_token}", "Accept": "application/json"})
        self.jaggaer_url = jaggaer_url
        self.limit = limit           # records per entity (a slice of the load), None: all
        self.result = NaiveResult()
        self.vendors: dict[str, str] = {}                 # companyId -> QBO vendor id
        self.pos: dict[str, tuple[str, list[str]]] = {}   # poNumber -> (QBO PO id, line ids in order)

    # ---- HTTP
    def _query(self, statement: str) -> dict:
        self.result.qbo_requests["query"] += 1
        r = self.qbo.get(f"{self.base}/query", params={"query": statement, "minorversion": 75})
        r.raise_for_status()
        return r.json().get("QueryResponse") or {}

    def _create(self, entity: str, payload: dict) -> dict | None:
        self.result.qbo_requests["single"] += 1
        r = self.qbo.post(f"{self.base}/{entity.lower()}", params={"minorversion": 75}, json=payload)
        body = r.json() if r.content else {}
        if r.status_code != 200 or "Fault" in body:
            return None
        return body.get(entity)

    def _pages(self, path: str, key: str):
        start, seen = 1, 0
        while True:
            self.result.jaggaer_requests += 1
            r = self.jaggaer.get(f"{self.jaggaer_url}{path}", params={"start": start, "size": 200})
            r.raise_for_status()
            rows = r.json().get(key) or []
            for row in rows:
                yield row
                seen += 1
                if self.limit is not None and seen >= self.limit:
                    return
            if len(rows) < 200:
                return
            start += len(rows)

    # ---- the load
    def run(self) -> NaiveResult:
        started = time.perf_counter()
        accounts = self._query("select * from Account maxresults 1000").get("Account") or []
        self.ap = next(a for a in accounts if a.get("AccountSubType") == "AccountsPayable")
        self.by_number = {a.get("AcctNum"): a for a in accounts if a.get("AcctNum")}
        home = (self._query("select * from CompanyInfo").get("CompanyInfo") or [{}])[0]
        self.home = (home.get("HomeCurrency") or {}).get("value") if isinstance(home.get("HomeCurrency"), dict) \
            else "USD"
        self.home = self.home or "USD"
        for name, fn in (("suppliers", self.suppliers), ("purchase_orders", self.purchase_orders),
                         ("invoices", self.invoices)):
            begun = time.perf_counter()
            fn()
            self.result.seconds[name] = time.perf_counter() - begun
        self.result.seconds["total"] = time.perf_counter() - started
        return self.result

    def suppliers(self) -> None:
        res = self.result
        for s in self._pages("/j1p/api/public/ja/v1/companyprofiles", "returnCompanyData"):
            name = " ".join(str(s.get("companyName") or "").split())[:500]
            if not name or not s.get("companyId"):
                res.skipped["suppliers"] += 1
                continue
            found = self._query(f"select * from Vendor where DisplayName = '{_q(name)}'").get("Vendor")
            if found:
                self.vendors[s["companyId"]] = str(found[0]["Id"])
                res.existing["suppliers"] += 1
                continue
            vendor = self._create("Vendor", {"DisplayName": name, "CompanyName": name})
            if vendor is None:
                res.failed["suppliers"] += 1
            else:
                self.vendors[s["companyId"]] = str(vendor["Id"])
                res.written["suppliers"] += 1

    def _lines(self, rows: list[dict], links: list[dict] | None = None) -> list[dict] | None:
        out = []
        for n, line in enumerate(rows):
            code = (line.get("accountingSegments") or {}).get("Account")
            account = self.by_number.get(code)
            try:
                amount = float(Decimal(str(line["amount"])))
            except (KeyError, ArithmeticError):
                return None
            if account is None:
                return None
            detail = {"AccountRef": {"value": str(account["Id"])}}
            entry = {"DetailType": "AccountBasedExpenseLineDetail", "Amount": amount,
                     "Description": str(line.get("description") or "")[:4000],
                     "AccountBasedExpenseLineDetail": detail}
            if links is not None and links[n]:
                entry["LinkedTxn"] = [links[n]]
            out.append(entry)
        return out

    def purchase_orders(self) -> None:
        res = self.result
        for po in self._pages("/j1p/api/public/jp/v1/purchaseorders", "purchaseOrderList"):
            vendor = self.vendors.get((po.get("supplier") or {}).get("companyId"))
            lines = self._lines(po.get("lineList") or [])
            if po.get("status") not in PO_POSTED or (po.get("currency") or "USD") != self.home or not vendor \
                    or not lines or not po.get("poNumber"):
                res.skipped["purchase_orders"] += 1
                continue
            doc = str(po["poNumber"])[:21]
            found = self._query(f"select * from PurchaseOrder where DocNumber = '{_q(doc)}'").get("PurchaseOrder")
            if found:
                self.pos[po["poNumber"]] = (str(found[0]["Id"]), [str(x.get("Id")) for x in found[0]["Line"]])
                res.existing["purchase_orders"] += 1
                continue
            created = self._create("PurchaseOrder", {"VendorRef": {"value": vendor}, "DocNumber": doc,
                                                     "APAccountRef": {"value": str(self.ap["Id"])},
                                                     "TxnDate": po.get("orderDate"), "Line": lines})
            if created is None:
                res.failed["purchase_orders"] += 1
            else:
                self.pos[po["poNumber"]] = (str(created["Id"]), [str(x.get("Id")) for x in created["Line"]])
                res.written["purchase_orders"] += 1

    def invoices(self) -> None:
        res = self.result
        for inv in self._pages("/j1p/api/public/ji/v1/invoices", "invoiceList"):
            vendor = self.vendors.get((inv.get("supplier") or {}).get("companyId"))
            rows = inv.get("lineList") or []
            links: list[dict] = []
            for line in rows:
                po = self.pos.get(line.get("poNumber")) if line.get("poNumber") else None
                n = int(line.get("poLineNumber") or 0)
                if line.get("poNumber") and (po is None or not 0 < n <= len(po[1])):
                    links = None
                    break
                links.append({"TxnId": po[0], "TxnType": "PurchaseOrder", "TxnLineId": po[1][n - 1]} if po else {})
            lines = self._lines(rows, links) if links is not None else None
            try:
                total = Decimal(str((inv.get("total") or {}).get("value") or 0))
            except ArithmeticError:
                total = Decimal(0)
            if inv.get("workflowStatus") not in INVOICE_POSTED or total <= 0 or not vendor or not lines \
                    or (inv.get("currency") or "USD") != self.home:
                res.skipped["invoices"] += 1
                continue
            doc = str(inv.get("supplierInvoiceNumber") or inv.get("invoiceNumber"))[:21]
            found = self._query(f"select * from Bill where DocNumber = '{_q(doc)}'").get("Bill")
            if any(str((b.get("VendorRef") or {}).get("value")) == vendor for b in found or []):
                res.existing["invoices"] += 1
                continue
            created = self._create("Bill", {"VendorRef": {"value": vendor}, "DocNumber": doc,
                                            "TxnDate": inv.get("invoiceDate"), "Line": lines})
            if created is None:
                res.failed["invoices"] += 1
            else:
                res.written["invoices"] += 1

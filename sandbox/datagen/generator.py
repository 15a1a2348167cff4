"""A deterministic manufacturing company: JAGGAER procurement data plus the QuickBooks company it syncs into.

Everything comes from one `random.Random(seed)` and a fixed base date, so the same (dataset, seed, scale)
always yields identical data. Amounts are integer cents until they are formatted as decimal strings.
"""
from __future__ import annotations

import copy
import gc
import random
import time
from decimal import Decimal

from . import pools
from .dataset import Dataset

BASE_EPOCH = 1793491200                      # 2026-11-01T00:00:00Z: the newest record is older than this
WINDOW_START = BASE_EPOCH - 90 * 86400       # 2026-08-03T00:00:00Z: the oldest data
DAY = 86400
HOUR = 3600

SIZES = {  # suppliers, purchase orders, invoices at scale 1
    "small": (40, 80, 150),
    "demo": (200, 500, 1000),
    "bench": (2000, 10000, 20000),
}
PLANTS = {"small": 6, "demo": 8, "bench": 12}

PO_STATUSES = ("Draft", "Approved", "Issued", "Closed", "Cancelled")
PO_STATUS_WEIGHTS = (8, 14, 50, 21, 7)
INVOICE_STATUSES = ("InProcess", "Approved", "Rejected", "Paid")
INVOICE_STATUS_WEIGHTS = (16, 44, 8, 32)
# weighted draws as lookup tables: one random() per draw instead of random.choices' bookkeeping
PO_STATUS_TABLE = tuple(s for s, w in zip(PO_STATUSES, PO_STATUS_WEIGHTS, strict=True) for _ in range(w))
INVOICE_STATUS_TABLE = tuple(s for s, w in zip(INVOICE_STATUSES, INVOICE_STATUS_WEIGHTS, strict=True)
                             for _ in range(w))
POSTABLE_PO = ("Approved", "Issued", "Closed")

CENT = Decimal("0.01")
MALFORMED_INVOICES = 10          # invoices `make_malformed` adds (the random fill stops that many short)
# Cases of values the contract forbids or documents that contradict themselves (`make_malformed`); each names
# the hold reason it gets and the records that correct it.
MALFORMED_CASES = ("negative_quantity", "unit_price_currency_sign", "unit_price_negative", "letter_for_digit",
                   "thousands_separator", "exponent_amount", "json_number_amount", "line_amount_mismatch",
                   "currency_code_invalid", "po_overbilled")
SAFE_SEGMENTS = {"Account": "5100", "DepartmentCode": "PLANT-2"}   # mapped in every dataset, one department
LETTERS_FOR_DIGITS = {"0": "O", "1": "l", "5": "S", "8": "B"}
QBO_TERMS = ("Net 30", "Net 15", "Due on receipt")
COMPANY_NAME = "Midwest Precision Components Inc."


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _amount(qty: int, unit_price: str) -> str:
    amount = Decimal(qty) * Decimal(unit_price)
    cents = amount.quantize(CENT)
    return str(cents if cents == amount else amount)


def generate(dataset: str = "small", seed: int = 42, scale: float = 1.0) -> Dataset:
    """Generate the named dataset ("small", "demo" or "bench"); `scale` multiplies its record counts."""
    if dataset not in SIZES:
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {', '.join(SIZES)}")
    if not scale > 0:
        raise ValueError("scale must be positive")
    # The generator builds hundreds of thousands of small dicts that all stay alive: cyclic GC passes over
    # them would make generation quadratic, and there are no cycles to collect.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Generator(dataset, int(seed), float(scale)).run()
    finally:
        if was_enabled:
            gc.enable()


class _Generator:
    def __init__(self, dataset: str, seed: int, scale: float) -> None:
        self.dataset = dataset
        self.seed = seed
        self.scale = scale
        self.rng = random.Random(f"ml-connector/{dataset}/{seed}")
        self._random = self.rng.random
        n_sup, n_po, n_inv = SIZES[dataset]
        self.n_suppliers = max(30, round(n_sup * scale))
        self.n_pos = max(40, round(n_po * scale))
        self.n_invoices = max(80, round(n_inv * scale))
        self.n_plants = PLANTS[dataset]
        self.cases: dict[str, dict] = {}
        self._case_seen: set[tuple[str, str, str]] = set()
        self.suppliers: list[dict] = []
        self.supplier_info: dict[str, dict] = {}       # companyId -> {"trade", "terms", "idx", "style", ...}
        self.pos: list[dict] = []
        self.invoices: list[dict] = []

    # ------------------------------------------------------------------ helpers
    def pick(self, seq):
        return seq[int(self._random() * len(seq))]

    def case(self, name: str, entity: str, record_id: str, **detail) -> None:
        entry = self.cases.setdefault(name, {})
        ids = entry.setdefault(entity, [])
        if (name, entity, record_id) not in self._case_seen:
            self._case_seen.add((name, entity, record_id))
            ids.append(record_id)
        for k, v in detail.items():
            entry.setdefault(k, []).append(v)

    def run(self) -> Dataset:
        self.make_departments()
        self.make_gl_accounts()
        self.make_suppliers()
        self.make_purchase_orders()
        self.make_invoices()
        qbo = self.make_qbo()
        ds = Dataset(name=self.dataset, seed=self.seed, scale=self.scale, cases=self.cases, qbo=qbo,
                     jaggaer={"suppliers": self.suppliers, "purchase_orders": self.pos, "invoices": self.invoices,
                              "gl_accounts": self.gl_accounts, "departments": self.departments})
        return ds

    # ------------------------------------------------------------------ reference data
    def make_departments(self) -> None:
        setup = _iso(WINDOW_START + 2 * HOUR)
        self.departments = []
        for i in range(1, self.n_plants + 1):
            city = pools.PLANT_CITIES[(i - 1) % len(pools.PLANT_CITIES)]
            self.departments.append({"code": f"PLANT-{i}", "name": f"Plant {i} - {city}", "active": True,
                                     "lastModTime": setup})
        # The newest plant was opened after QuickBooks was set up: QuickBooks has no department for it.
        newest = self.departments[-1]
        newest["lastModTime"] = _iso(WINDOW_START + 40 * DAY + 9 * HOUR)
        self.plant_new = newest["code"]
        self.case("department_without_qbo", "departments", newest["code"])
        self.cases["invoice_department_without_qbo"] = {"departments": [newest["code"]], "invoices": []}
        retired = {"code": "PLANT-0", "name": "Plant 0 - Akron (closed)", "active": False,
                   "lastModTime": _iso(WINDOW_START + 3 * HOUR)}
        self.departments.insert(0, retired)
        self.case("department_retired", "departments", retired["code"])
        self.plants = [d["code"] for d in self.departments if d["active"] and d["code"] != self.plant_new]

    def make_gl_accounts(self) -> None:
        setup = _iso(WINDOW_START + 2 * HOUR)
        self.gl_accounts = [{"code": c, "name": n, "active": True, "lastModTime": setup}
                            for c, n, _ in pools.GL_CHART]
        code, name, _ = pools.GL_RETIRED
        self.gl_accounts.append({"code": code, "name": name, "active": False,
                                 "lastModTime": _iso(WINDOW_START + 12 * DAY)})
        self.case("gl_retired", "gl_accounts", code)
        for c in pools.GL_QBO_NAME_ONLY:
            self.case("gl_qbo_name_only", "gl_accounts", c)
        self.case("gl_without_qbo", "gl_accounts", pools.GL_QBO_MISSING)
        self.case("gl_qbo_inactive", "gl_accounts", pools.GL_QBO_INACTIVE)

    # ------------------------------------------------------------------ suppliers
    def _address_contact(self, slug: str) -> tuple[dict, dict]:
        rng = self.rng
        city, state, zip3, area = self.pick(pools.CITIES)
        address = {"line1": f"{rng.randint(10, 9899)} {self.pick(pools.STREET_NAMES)}",
                   "line2": self.pick(pools.LINE2) if rng.random() < 0.2 else None,
                   "city": city, "state": state, "postalCode": f"{zip3}{rng.randint(1, 99):02d}", "country": "US"}
        first = self.pick(pools.FIRST_NAMES)
        last = self.pick(pools.LAST_NAMES)
        mailbox = ("ap", "billing", "invoices", "ar", "accounts")[int(self._random() * 5)]
        contact = {"name": f"{first} {last}", "email": f"{mailbox}@{slug}.example",
                   "phone": f"+1 {area} 555 {rng.randint(100, 199):04d}"}
        return address, contact

    @staticmethod
    def _slug(name: str) -> str:
        out = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
        return out[:24] or "supplier"

    def _supplier(self, name: str | None, trade: str, *, currency: str = "USD", terms: str | None = None,
                  active: bool = True, mod: int | None = None) -> dict:
        rng = self.rng
        idx = len(self.suppliers)
        cid = f"C-{10001 + idx}"
        if terms is None:
            terms = self.pick(pools.PAYMENT_TERMS)[0]
        address, contact = self._address_contact(self._slug(name or cid))
        if mod is None:
            mod = rng.randint(WINDOW_START + DAY, BASE_EPOCH - DAY)
        rec = {"companyId": cid, "companyName": name,
               "doingBusinessAs": None, "erpNumber": f"V-{idx + 1:04d}" if rng.random() < 0.7 else None,
               "active": active, "duns": f"{rng.randint(10**8, 10**9 - 1)}",
               "taxId": f"{rng.randint(10, 99)}-{rng.randint(10**6, 10**7 - 1)}",
               "currency": currency, "paymentTerms": terms, "primaryAddress": address, "primaryContact": contact,
               "lastModTime": _iso(mod)}
        if currency != "USD":
            address["country"] = {"CAD": "CA", "EUR": "DE", "JPY": "JP"}.get(currency, "US")
        self.suppliers.append(rec)
        style = rng.randrange(4)
        self.supplier_info[cid] = {"trade": trade, "terms": terms, "idx": idx, "style": style,
                                   "counter": rng.randint(100, 9000)}
        return rec

    def _regular_name(self, used: dict[str, None]) -> tuple[str, str]:
        for attempt in range(40):
            lead = self.pick(pools.NAME_LEADS)
            trade = self.pick(pools.NAME_TRADES)
            suffix = self.pick(pools.NAME_SUFFIXES)
            if "&" in trade and "&" in suffix:
                suffix = "Inc."
            name = f"{lead} {trade} {suffix}"
            if attempt >= 20:                            # pools exhausted at large scales: number the branch
                name = f"{lead} {trade} {suffix} #{len(used) + 1}"
            if name.lower() not in used:
                used[name.lower()] = None
                return name, trade
        raise RuntimeError("could not draw a unique supplier name")

    def make_suppliers(self) -> None:
        rng = self.rng
        # The messy suppliers: (case, name, trade, options)
        long_name = ("Consolidated Great Lakes Industrial Fabrication, Machining, Welding, Heat Treating, "
                     "Powder Coating, Assembly, Warehousing and Contract Manufacturing Services "
                     "for the Automotive, Agricultural, Aerospace, Medical Device and Consumer Durable "
                     "Goods Industries of Ohio, Indiana, Michigan, Pennsylvania, Kentucky, Illinois and "
                     "Wisconsin, Doing Business Through Its Regional Divisions in Dayton, Columbus, Toledo, "
                     "Fort Wayne, Grand Rapids, Erie, Louisville and Peoria, Together With Its Subsidiaries "
                     "and Affiliates (Formerly Known As Great Lakes Fabrication Holdings Incorporated)")
        assert len(long_name) > 500
        specials = [
            ("name_apostrophe", "O'Brien Tool & Die Inc.", "Tool & Die", {}),
            ("name_apostrophe", "Miller's Industrial Supply Co.", "Industrial Supply", {}),
            ("name_colon", "Acme Corp: Dayton Division", "Castings", {}),
            ("name_tab", "Lakeshore\tPallet Co.", "Pallet", {}),
            ("name_accents", "Fonderie Québécoise Ltée", "Foundry", {"currency": "CAD", "non_usd": True}),
            ("name_accents", "Müller Präzisionstechnik GmbH", "Machining", {"currency": "EUR", "non_usd": True}),
            ("name_non_latin", "株式会社山田製作所", "Springs", {}),
            ("name_non_latin", "ООО «Уралсталь»", "Steel Supply", {}),
            ("name_over_500_chars", long_name, "Machining", {}),
            ("supplier_name_equals_qbo_customer", "Summit Packaging Co.", "Packaging", {}),
            ("duplicate_supplier_case", "Acme Castings Ltd", "Castings", {}),
            ("duplicate_supplier_case", "ACME CASTINGS LTD", "Castings", {}),
            ("duplicate_supplier_trailing_space", "Buckeye Bearings Inc.", "Bearings", {}),
            ("duplicate_supplier_trailing_space", "Buckeye Bearings Inc.  ", "Bearings", {}),
            ("supplier_renamed", "Kessler Forge Inc.", "Forge", {"old_name": "Kessler Forge & Machine Inc."}),
            ("payment_terms_without_qbo", "Ridgeway Scale & Calibration LLC", "Scale & Calibration",
             {"terms": "2% 10 Net 30"}),
            ("inactive_supplier", "Harbor Office Products Co.", "Office Products", {"active": False}),
        ]
        n_regular = self.n_suppliers - len(specials) - 1          # one more: the supplier without a name
        # The messy suppliers sit among the first ids (small data stays readable), in a seeded order.
        head = [str(i) for i in range(len(specials))] + ["nameless"] + ["regular"] * min(n_regular, 12)
        rng.shuffle(head)
        order = head + ["regular"] * (n_regular - min(n_regular, 12))
        used: dict[str, None] = {}
        for _, name, _, _ in specials:
            used[name.lower()] = None
        self.featured: list[str] = []                  # suppliers every dataset gives POs and invoices
        bulk_time = WINDOW_START + 6 * HOUR            # the initial import stamped many rows with one time
        for n, kind in enumerate(order):
            mod = bulk_time if n % 4 == 0 else None
            if kind == "regular":
                name, trade = self._regular_name(used)
                rec = self._supplier(name, trade, mod=mod)
                if rng.random() < 0.08:
                    rec["doingBusinessAs"] = name.rsplit(" ", 1)[0]
            elif kind == "nameless":
                rec = self._supplier(None, "Industrial Supply", mod=mod)
                del rec["companyName"]
                self.case("missing_required_fields", "suppliers", rec["companyId"],
                          records={"entity": "suppliers", "id": rec["companyId"], "field": "companyName"})
            else:
                case, name, trade, opts = specials[int(kind)]
                rec = self._supplier(name, trade, currency=opts.get("currency", "USD"), terms=opts.get("terms"),
                                     active=opts.get("active", True), mod=mod)
                self.case(case, "suppliers", rec["companyId"])
                if opts.get("non_usd"):
                    self.case("non_usd", "suppliers", rec["companyId"], currency=opts["currency"])
                if case == "supplier_renamed":
                    self.supplier_info[rec["companyId"]]["old_name"] = opts["old_name"]
                    self.cases[case]["old_name"] = opts["old_name"]
                    self.cases[case]["new_name"] = name
                    # renamed late in the window, after its early POs were raised under the old name
                    rec["lastModTime"] = _iso(BASE_EPOCH - 20 * DAY + 3 * HOUR)
                if rec["active"]:
                    self.featured.append(rec["companyId"])
            if rec["lastModTime"] == _iso(bulk_time):
                self.case("same_lastmodtime", "suppliers", rec["companyId"])
        self.active_suppliers = [s["companyId"] for s in self.suppliers
                                 if s["active"] and "companyName" in s]
        # plain suppliers (no messy case of their own) carry the messy documents, so cases do not overlap
        self.plain = [s["companyId"] for s, kind in zip(self.suppliers, order, strict=True) if kind == "regular"]
        # A few plain suppliers QuickBooks already knows, under another letter case.
        self.qbo_case_matches = self.plain[:3]
        self.plain = self.plain[3:]
        for cid in self.qbo_case_matches:
            self.featured.append(cid)
        self.cases["same_lastmodtime"]["lastModTime"] = [_iso(bulk_time)]

    def supplier_ref(self, cid: str, epoch: int) -> dict:
        rec = self.suppliers[self.supplier_info[cid]["idx"]]
        info = self.supplier_info[cid]
        name = rec.get("companyName")
        if "old_name" in info and epoch < BASE_EPOCH - 20 * DAY:
            name = info["old_name"]
        return {"companyId": cid, "companyName": name}

    # ------------------------------------------------------------------ purchase orders
    def _line(self, n: int, trade: str, plant: str) -> tuple[dict, int]:
        rng = self.rng
        gl, items = pools.TRADE_ITEMS[trade]
        desc, lo, hi = self.pick(items)
        qty = (1, 1, 2, 4, 5, 10, 12, 20, 25, 50, 100)[int(self._random() * 11)] if hi < 200000 else 1
        price = rng.randint(lo, hi)
        if rng.random() < 0.08:                      # a freight charge on a material order
            desc, gl, qty, price = "Freight charge", "6200", 1, rng.randint(4500, 38000)
        if rng.random() < 0.05:                      # charged to a neighbouring plant
            plant = self.pick(self.plants)
        amount = qty * price
        return {"lineNumber": n, "description": desc, "quantity": str(qty), "unitPrice": _money(price),
                "amount": _money(amount), "accountingSegments": {"Account": gl, "DepartmentCode": plant}}, amount

    def _po(self, cid: str, status: str, *, plant: str | None = None, n_lines: int | None = None,
            order: int | None = None) -> dict:
        rng = self.rng
        i = len(self.pos)
        info = self.supplier_info[cid]
        if plant is None:
            plant = self.pick(self.plants)
        if order is None:
            order = rng.randint(WINDOW_START + 3 * DAY, BASE_EPOCH - 6 * DAY)
        if n_lines is None:
            n_lines = (1, 1, 2, 2, 3, 3, 4, 5)[int(self._random() * 8)]
        lines, total = [], 0
        for n in range(1, n_lines + 1):
            line, amount = self._line(n, info["trade"], plant)
            lines.append(line)
            total += amount
        later = {"Closed": 20 * DAY, "Cancelled": 6 * DAY}.get(status, 2 * DAY)
        update = min(order + rng.randint(HOUR, later), BASE_EPOCH - rng.randint(60, 6 * HOUR))
        currency = self.suppliers[info["idx"]]["currency"]
        po = {"poId": f"PO-{88001 + i}", "poNumber": str(4500100000 + i * 10 + rng.randrange(10)),
              "status": status, "orderDate": _date(order), "supplier": self.supplier_ref(cid, order),
              "currency": currency, "total": {"currency": currency, "value": _money(total)},
              "accountingSegments": dict(lines[0]["accountingSegments"], DepartmentCode=plant),
              "lineList": lines, "lastUpdate": _iso(max(update, order))}
        self.pos.append(po)
        self.po_meta.append({"order": order, "cid": cid,
                             "remaining": [int(ln["quantity"]) for ln in lines]})
        if currency != "USD":
            self.case("non_usd", "purchase_orders", po["poId"])
        return po

    def make_purchase_orders(self) -> None:
        self.po_meta: list[dict] = []
        # Every featured supplier gets an issued PO (and, below, an approved invoice against it).
        for cid in self.featured:
            self._po(cid, "Issued")
        renamed = self.cases["supplier_renamed"]["suppliers"][0]
        old = self._po(renamed, "Closed", order=WINDOW_START + 10 * DAY)
        self.case("supplier_renamed", "purchase_orders", old["poId"])
        self.special_pos: dict[str, dict] = {}
        draft = self._po(self.plain_supplier(), "Draft")
        cancelled = self._po(self.plain_supplier(), "Cancelled")
        self.special_pos["draft"], self.special_pos["cancelled"] = draft, cancelled
        self.case("po_draft", "purchase_orders", draft["poId"])
        self.case("po_cancelled", "purchase_orders", cancelled["poId"])
        for number in ("PO-2026-PLANT2-0004417", "PO-2026-PLANT1-MAINT-SHUTDOWN-07"):
            po = self._po(self.plain_supplier(), "Issued")
            po["poNumber"] = number
            self.case("po_number_over_21_chars", "purchase_orders", po["poId"], poNumber=number)
        # a fastener order priced per piece to four decimals
        po = self._po(self.plain_supplier(), "Issued", n_lines=1)
        line = po["lineList"][0]
        line.update(description="Socket head cap screw M6x20", quantity="5000", unitPrice="0.0425",
                    amount="212.50")
        po["total"]["value"] = "212.50"
        self.po_meta[-1]["remaining"] = [5000]
        self.case("amounts_over_two_decimals", "purchase_orders", po["poId"])
        self.special_pos["four_decimals"] = po
        # a PO for the plant QuickBooks does not know
        po = self._po(self.plain_supplier(), "Approved", plant=self.plant_new, n_lines=2)
        self.special_pos["new_plant"] = po
        self.case("department_without_qbo", "purchase_orders", po["poId"])
        # a PO with a missing required field and one with a malformed date
        po = self._po(self.plain_supplier(), "Issued")
        del po["poNumber"]
        self.case("missing_required_fields", "purchase_orders", po["poId"],
                  records={"entity": "purchase_orders", "id": po["poId"], "field": "poNumber"})
        po = self._po(self.plain_supplier(), "Approved")
        po["orderDate"] = "2026-02-30"
        self.case("malformed_dates", "purchase_orders", po["poId"],
                  records={"entity": "purchase_orders", "id": po["poId"], "field": "orderDate", "value": "2026-02-30"})
        self.n_special_pos = len(self.pos)
        while len(self.pos) < self.n_pos:
            cid = self.pick(self.active_suppliers)
            status = self.pick(PO_STATUS_TABLE)
            self._po(cid, status)
        self.po_by_status: dict[str, list[int]] = {s: [] for s in PO_STATUSES}
        for i, po in enumerate(self.pos):
            self.po_by_status[po["status"]].append(i)
        self.invoiceable = [i for i, po in enumerate(self.pos)
                            if po["status"] in POSTABLE_PO and "poNumber" in po and i >= self.n_special_pos]

    def plain_supplier(self) -> str:
        return self.pick(self.plain)

    # ------------------------------------------------------------------ invoices
    def _supplier_invoice_number(self, cid: str) -> str:
        info = self.supplier_info[cid]
        info["counter"] += 1 + self.rng.randrange(30)
        n, idx = info["counter"], info["idx"]
        return (f"A-{idx:04d}{n:05d}", f"{idx + 1}{n:06d}", f"SI-2026-{idx:04d}-{n:05d}",
                f"INV{idx:04d}/{n}")[info["style"]]

    def _invoice(self, cid: str, lines: list[dict], *, invoice_date: int, status: str | None = None,
                 kind: str = "Invoice") -> dict:
        rng = self.rng
        i = len(self.invoices)
        sup = self.suppliers[self.supplier_info[cid]["idx"]]
        currency = sup["currency"]
        if status is None:
            status = self.pick(INVOICE_STATUS_TABLE)
        invoice_date = min(invoice_date, BASE_EPOCH - 2 * DAY)
        due = invoice_date + pools.TERM_DAYS.get(self.supplier_info[cid]["terms"], 30) * DAY
        later = 25 * DAY if status == "Paid" else 4 * DAY
        update = min(invoice_date + rng.randint(HOUR, later), BASE_EPOCH - rng.randint(60, 12 * HOUR))
        total = sum((Decimal(ln["amount"]) for ln in lines), Decimal("0.00"))
        inv = {"invoiceId": f"INV-{1001 + i}", "invoiceNumber": f"INV-2026-{i + 1:06d}",
               "supplierInvoiceNumber": self._supplier_invoice_number(cid), "invoiceType": kind,
               "workflowStatus": status, "invoiceDate": _date(invoice_date), "dueDate": _date(due),
               "supplier": self.supplier_ref(cid, invoice_date), "currency": currency,
               "total": {"currency": currency, "value": str(total)}, "lineList": lines,
               "lastUpdate": _iso(max(update, invoice_date))}
        self.invoices.append(inv)
        if currency != "USD":
            self.case("non_usd", "invoices", inv["invoiceId"])
        if kind == "Credit Memo":
            self.case("credit_memos", "invoices", inv["invoiceId"])
        return inv

    def _po_invoice_lines(self, p: int, *, partial: bool, credit: bool = False) -> list[dict]:
        rng = self.rng
        po, meta = self.pos[p], self.po_meta[p]
        out = []
        for k, line in enumerate(po["lineList"]):
            remaining = meta["remaining"][k]
            if remaining <= 0 and not credit:
                continue
            if credit:
                qty = -1 if k == 0 else 0
            elif partial:
                qty = rng.randint(0, remaining) if len(po["lineList"]) > 1 else max(1, remaining // 2)
            else:
                qty = remaining
            if qty == 0:
                continue
            if not credit:
                meta["remaining"][k] -= qty
            out.append({"lineNumber": len(out) + 1,
                        "description": ("Return: " if credit else "") + line["description"],
                        "quantity": str(qty), "unitPrice": line["unitPrice"],
                        "amount": _amount(qty, line["unitPrice"]),
                        "poNumber": po.get("poNumber"), "poLineNumber": line["lineNumber"],
                        "accountingSegments": dict(line["accountingSegments"])})
        return out

    def _po_invoice(self, p: int, *, partial: bool = False, status: str | None = None,
                    kind: str = "Invoice") -> dict | None:
        lines = self._po_invoice_lines(p, partial=partial, credit=kind == "Credit Memo")
        if not lines:
            return None
        meta = self.po_meta[p]
        inv = self._invoice(meta["cid"], lines, invoice_date=meta["order"] + self.rng.randint(2 * DAY, 30 * DAY),
                            status=status, kind=kind)
        if kind == "Invoice":
            done = not any(meta["remaining"])
            self.case("full_invoices" if done and not meta.get("partly") else "partial_invoices", "invoices",
                      inv["invoiceId"], purchase_order=self.pos[p]["poId"])
            meta["partly"] = meta.get("partly") or not done
        return inv

    def _non_po_invoice(self, cid: str, *, plant: str | None = None, status: str | None = None,
                        gl: str | None = None) -> dict:
        rng = self.rng
        if plant is None:
            plant = self.pick(self.plants)
        lines = []
        for n in range(1, rng.randint(1, 2) + 1):
            line, _ = self._line(n, self.supplier_info[cid]["trade"], plant)
            if gl is not None:
                line["accountingSegments"]["Account"] = gl
            line["poNumber"] = None
            line["poLineNumber"] = None
            lines.append(line)
        inv = self._invoice(cid, lines, invoice_date=rng.randint(WINDOW_START + 5 * DAY, BASE_EPOCH - 2 * DAY),
                            status=status)
        self.case("non_po_invoices", "invoices", inv["invoiceId"])
        return inv

    def make_invoices(self) -> None:
        rng = self.rng
        # An approved invoice for every featured supplier's issued PO.
        for p in range(len(self.featured)):
            self._po_invoice(p, status="Approved")
        renamed_po = len(self.featured)
        self._po_invoice(renamed_po, status="Paid")
        sp = self.special_pos
        idx = {po["poId"]: i for i, po in enumerate(self.pos[: self.n_special_pos])}
        for key, case in (("draft", "invoice_po_draft"), ("cancelled", "invoice_po_cancelled")):
            inv = self._po_invoice(idx[sp[key]["poId"]], status="Approved")
            self.case(case, "invoices", inv["invoiceId"], purchase_orders=sp[key]["poId"])
        for po_id in self.cases["po_number_over_21_chars"]["purchase_orders"]:
            inv = self._po_invoice(idx[po_id], status="Approved")
            self.case("po_number_over_21_chars", "invoices", inv["invoiceId"])
        inv = self._po_invoice(idx[sp["four_decimals"]["poId"]], status="Approved")
        self.case("amounts_over_two_decimals", "invoices", inv["invoiceId"])
        inv = self._po_invoice(idx[sp["new_plant"]["poId"]], status="Approved")
        self.case("invoice_department_without_qbo", "invoices", inv["invoiceId"])
        # A PO number that exists nowhere (the PO has not reached us, or never will).
        cid = self.plain_supplier()
        inv = self._non_po_invoice(cid, status="Approved")
        self.cases["non_po_invoices"]["invoices"].remove(inv["invoiceId"])
        for n, line in enumerate(inv["lineList"], 1):
            line["poNumber"], line["poLineNumber"] = "4599999001", n
        self.case("invoice_po_unknown", "invoices", inv["invoiceId"], poNumber="4599999001")
        # A GL code QuickBooks has no account for, on a non-PO invoice.
        inv = self._non_po_invoice(self.plain_supplier(), status="Approved", gl=pools.GL_QBO_MISSING)
        self.case("invoice_gl_without_qbo", "invoices", inv["invoiceId"], gl=pools.GL_QBO_MISSING)
        # A non-PO invoice for the new plant.
        inv = self._non_po_invoice(self.plain_supplier(), status="Approved", plant=self.plant_new)
        self.case("invoice_department_without_qbo", "invoices", inv["invoiceId"])
        # Credit memos: one against a PO, one without.
        inv = self._po_invoice(self.featured.index(self.qbo_case_matches[0]), status="Approved", kind="Credit Memo")
        inv = self._non_po_invoice(self.plain_supplier(), status="Approved")
        inv["invoiceType"] = "Credit Memo"
        self._negate(inv)
        self.case("credit_memos", "invoices", inv["invoiceId"])
        # The same invoice number from two different suppliers.
        first = self.plain_supplier()
        second = next(c for c in self.plain if c != first)
        a = self._non_po_invoice(first, status="Approved")
        b = self._non_po_invoice(second, status="Approved")
        b["invoiceNumber"], b["supplierInvoiceNumber"] = a["invoiceNumber"], a["supplierInvoiceNumber"]
        self.case("invoice_number_reused", "invoices", a["invoiceId"], invoiceNumber=a["invoiceNumber"])
        self.case("invoice_number_reused", "invoices", b["invoiceId"],
                  supplierInvoiceNumber=a["supplierInvoiceNumber"])
        # Amounts with more than two decimals.
        inv = self._non_po_invoice(self.plain_supplier(), status="Approved")
        inv["lineList"] = inv["lineList"][:1]
        inv["lineList"][0].update(quantity="2.5", unitPrice="3.3333", amount="8.33325")
        inv["total"]["value"] = "8.33325"
        self.case("amounts_over_two_decimals", "invoices", inv["invoiceId"])
        # Lines that do not add up to the header total (freight added on the header only).
        inv = self._non_po_invoice(self.plain_supplier(), status="Approved")
        lines_sum = sum(Decimal(ln["amount"]) for ln in inv["lineList"])
        inv["total"]["value"] = str(lines_sum + Decimal("45.00"))
        self.case("invoice_total_mismatch", "invoices", inv["invoiceId"], lines_sum=str(lines_sum),
                  total=inv["total"]["value"])
        # Records missing required fields, and malformed dates.
        for field_name in ("invoiceNumber", "supplier", "lineList[0].amount"):
            inv = self._non_po_invoice(self.plain_supplier(), status="Approved")
            if field_name == "lineList[0].amount":
                del inv["lineList"][0]["amount"]
            else:
                del inv[field_name]
            self.case("missing_required_fields", "invoices", inv["invoiceId"],
                      records={"entity": "invoices", "id": inv["invoiceId"], "field": field_name})
        for field_name, value in (("invoiceDate", "11/31/2026"), ("dueDate", "2026-13-05")):
            inv = self._non_po_invoice(self.plain_supplier(), status="Approved")
            inv[field_name] = value
            self.case("malformed_dates", "invoices", inv["invoiceId"],
                      records={"entity": "invoices", "id": inv["invoiceId"], "field": field_name, "value": value})
        # The rest: mostly PO invoices, full or partial; some credit memos and non-PO invoices.
        pending = list(self.invoiceable)
        rng.shuffle(pending)
        invoiced: list[int] = []
        while len(self.invoices) < self.n_invoices - MALFORMED_INVOICES:
            r = rng.random()
            inv = None
            if r < 0.13 or not pending:
                inv = self._non_po_invoice(self.pick(self.active_suppliers))
            elif r < 0.17 and invoiced:
                inv = self._po_invoice(self.pick(invoiced), kind="Credit Memo")
            else:
                p = pending[-1]
                inv = self._po_invoice(p, partial=rng.random() < 0.45)
                if not any(self.po_meta[p]["remaining"]):
                    pending.pop()
                if inv is not None:
                    invoiced.append(p)
        for inv in self.invoices:
            if inv["invoiceType"] == "Credit Memo" and not inv["total"]["value"].startswith("-"):
                self._negate(inv)
        self.make_malformed(invoiced)
        # Documents raised before the supplier's rename still carry its old name.
        old_name = self.cases["supplier_renamed"]["old_name"]
        for entity, rows, key in (("purchase_orders", self.pos, "poId"), ("invoices", self.invoices, "invoiceId")):
            for r in rows:
                if r.get("supplier", {}).get("companyName") == old_name:
                    self.case("supplier_renamed", entity, r[key])

    # ------------------------------------------------------------------ malformed values (issue: every field checked)
    def _malformed(self, name: str, entity: str, record: dict, field: str, value, reason: str,
                   corrected: list[tuple[str, dict]]) -> None:
        """Record a malformed case: the record, the field and value, the hold reason the connector gives it, and
        the records that correct it in JAGGAER (`corrections`: whole records to upsert)."""
        key = {"invoices": "invoiceId", "purchase_orders": "poId"}[entity]
        self.case(name, entity, record[key], records={"entity": entity, "id": record[key], "field": field,
                                                      "value": value})
        self.cases[name]["reason"] = reason
        self.cases[name].setdefault("corrections", []).extend(
            {"entity": e, "record": copy.deepcopy(r)} for e, r in corrected)

    def _clean_invoice(self, quantity: str, unit_price: str) -> dict:
        """A one-line approved non-PO invoice of a plain supplier on a mapped GL account and department."""
        amount = str(Decimal(quantity) * Decimal(unit_price))
        line = {"lineNumber": 1, "description": "Shop supplies", "quantity": quantity, "unitPrice": unit_price,
                "amount": amount, "poNumber": None, "poLineNumber": None,
                "accountingSegments": dict(SAFE_SEGMENTS)}
        inv = self._invoice(self.plain_supplier(), [line], status="Approved",
                            invoice_date=self.rng.randint(WINDOW_START + 5 * DAY, BASE_EPOCH - 2 * DAY))
        inv["lastUpdate"] = _iso(BASE_EPOCH - 3 * HOUR + len(self.invoices))
        return inv

    def _unbilled_po(self, taken: set[str]) -> dict:
        """A PO no invoice bills, made an issued one of a plain supplier on one mapped department: a random draft
        or cancelled PO (invoices never bill those), so the rest of the data stays as it was."""
        for p, po in enumerate(self.pos):
            if p < self.n_special_pos or po["status"] not in ("Draft", "Cancelled") or po["poId"] in taken:
                continue
            taken.add(po["poId"])
            cid = self.plain_supplier()
            order = self.po_meta[p]["order"]
            po.update(status="Issued", supplier=self.supplier_ref(cid, order), currency="USD",
                      accountingSegments=dict(SAFE_SEGMENTS))
            po["total"]["currency"] = "USD"
            for line in po["lineList"]:
                line["accountingSegments"] = dict(SAFE_SEGMENTS)
            self.po_meta[p]["cid"] = cid
            non_usd = self.cases["non_usd"].get("purchase_orders", [])
            if po["poId"] in non_usd:
                non_usd.remove(po["poId"])
            return po
        raise RuntimeError("no draft or cancelled PO left for a malformed case")

    def make_malformed(self, invoiced: list[int]) -> None:
        """Values the contract forbids and documents that contradict themselves, each a named case."""
        # invoices: one per case, each correctable by upserting the record in `corrections`
        for name, field, value, reason in (
                ("negative_quantity", "quantity", "-4", "quantity_not_positive"),
                ("unit_price_currency_sign", "unitPrice", "$12.50", "invalid_record"),
                ("unit_price_negative", "unitPrice", "-12.50", "unit_price_negative"),
                ("letter_for_digit", "amount", None, "invalid_record"),
                ("thousands_separator", "amount", None, "invalid_record"),
                ("exponent_amount", "amount", None, "invalid_record"),
                ("json_number_amount", "amount", None, "invalid_record"),
                ("line_amount_mismatch", "amount", None, "line_amount_mismatch"),
                ("currency_code_invalid", "currency", "DOLLARS", "invalid_record")):
            inv = self._clean_invoice("4", "312.50") if name == "thousands_separator" else self._clean_invoice("4",
                                                                                                             "12.50")
            good = copy.deepcopy(inv)
            line = inv["lineList"][0]
            if name == "negative_quantity":          # a negative quantity with a positive amount
                line["quantity"] = value
            elif name in ("unit_price_currency_sign", "unit_price_negative"):
                line["unitPrice"] = value
            elif name == "letter_for_digit":
                value = "".join(LETTERS_FOR_DIGITS.get(ch, ch) for ch in line["amount"])
                line["amount"] = value
            elif name == "thousands_separator":
                value = "1,250.00"
                line["amount"] = value
            elif name == "exponent_amount":
                value = "5E1"
                line["amount"] = value
            elif name == "json_number_amount":
                value = 50.0
                line["amount"] = value
            elif name == "line_amount_mismatch":     # 4 x 12.50 is 50.00; amount and total say 55.00
                value = "55.00"
                line["amount"] = value
                inv["total"]["value"] = value
            elif name == "currency_code_invalid":
                inv["currency"] = value
            path = field if field == "currency" else f"lineList[0].{field}"
            self._malformed(name, "invoices", inv, path, value, reason, [("invoices", good)])
        # POs: two unbilled ones get a malformed line
        taken: set[str] = set()
        po = self._unbilled_po(taken)
        good = copy.deepcopy(po)
        line = po["lineList"][0]
        value = "".join(LETTERS_FOR_DIGITS.get(ch, ch) for ch in line["unitPrice"])
        if value == line["unitPrice"]:
            value = "O" + value
        line["unitPrice"] = value
        self._malformed("letter_for_digit", "purchase_orders", po, "lineList[0].unitPrice", value, "invalid_record",
                        [("purchase_orders", good)])
        po = self._unbilled_po(taken)
        good = copy.deepcopy(po)
        po["lineList"][0]["quantity"] = "-" + po["lineList"][0]["quantity"]
        self._malformed("negative_quantity", "purchase_orders", po, "lineList[0].quantity",
                        po["lineList"][0]["quantity"], "quantity_not_positive", [("purchase_orders", good)])
        # over-billing: the issued PO of a supplier QuickBooks already knows, billed in full by its approved invoice,
        # is billed once more by another invoice
        p = self.featured.index(self.qbo_case_matches[1])
        po = self.pos[p]
        first = next(inv for inv in self.invoices if inv["lineList"][0].get("poNumber") == po["poNumber"])
        po["accountingSegments"] = dict(SAFE_SEGMENTS)
        for ln in po["lineList"] + first["lineList"]:
            ln["accountingSegments"] = dict(SAFE_SEGMENTS)
        first["lastUpdate"] = _iso(BASE_EPOCH - 2 * HOUR)
        line = po["lineList"][0]
        extra = {"lineNumber": 1, "description": line["description"], "quantity": "1",
                 "unitPrice": line["unitPrice"], "amount": _amount(1, line["unitPrice"]),
                 "poNumber": po["poNumber"], "poLineNumber": line["lineNumber"],
                 "accountingSegments": dict(line["accountingSegments"])}
        again = self._invoice(po["supplier"]["companyId"], [extra], status="Approved",
                              invoice_date=self.po_meta[p]["order"] + 3 * DAY)
        again["lastUpdate"] = _iso(BASE_EPOCH - HOUR)
        raised = copy.deepcopy(po)                   # the correction: the PO line raised by one in JAGGAER
        raised_line = raised["lineList"][0]
        raised_line["quantity"] = str(int(raised_line["quantity"]) + 1)
        raised_line["amount"] = _amount(int(raised_line["quantity"]), raised_line["unitPrice"])
        raised["total"]["value"] = str(sum(Decimal(ln["amount"]) for ln in raised["lineList"]))
        self._malformed("po_overbilled", "invoices", again, "lineList[0].quantity", "1", "po_overbilled",
                        [("purchase_orders", raised)])
        self.case("po_overbilled", "purchase_orders", po["poId"], billed_by=first["invoiceId"])
        # touched only: records whose timestamp moves with nothing else (the tests and the demo touch them)
        self.case("touch_only", "suppliers", po["supplier"]["companyId"])
        self.case("touch_only", "purchase_orders", po["poId"])
        self.case("touch_only", "invoices", first["invoiceId"])

    @staticmethod
    def _negate(inv: dict) -> None:
        for line in inv["lineList"]:
            for key in ("quantity", "amount"):
                if key in line and not line[key].startswith("-"):
                    line[key] = "-" + line[key]
        if not inv["total"]["value"].startswith("-"):
            inv["total"]["value"] = "-" + inv["total"]["value"]

    # ------------------------------------------------------------------ QuickBooks side
    def make_qbo(self) -> dict:
        accounts = [
            {"Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable", "AccountSubType": "AccountsPayable",
             "Classification": "Liability", "Active": True},
            {"Name": "Checking", "AcctNum": "1010", "AccountType": "Bank", "AccountSubType": "Checking",
             "Classification": "Asset", "Active": True},
            {"Name": "Inventory Asset", "AcctNum": "1300", "AccountType": "Other Current Asset",
             "AccountSubType": "Inventory", "Classification": "Asset", "Active": True},
            {"Name": "Sales of Product Income", "AcctNum": "4000", "AccountType": "Income",
             "AccountSubType": "SalesOfProductIncome", "Classification": "Revenue", "Active": True},
        ]
        for code, name, klass in pools.GL_CHART:
            if code == pools.GL_QBO_MISSING:
                continue
            acct = {"Name": name, "AcctNum": code,
                    "AccountType": "Cost of Goods Sold" if klass == "cogs" else "Expense",
                    "AccountSubType": pools.QBO_ACCOUNT_SUBTYPE[code], "Classification": "Expense",
                    "Active": code != pools.GL_QBO_INACTIVE}
            if code in pools.GL_QBO_NAME_ONLY:
                del acct["AcctNum"]
            accounts.append(acct)
        departments = [{"Name": "Plants", "SubDepartment": False, "Active": True},
                       {"Name": "Corporate", "SubDepartment": False, "Active": True}]
        for d in self.departments:                   # the closed plant is inactive in QuickBooks too
            if d["code"] != self.plant_new:
                departments.append({"Name": d["name"], "SubDepartment": True, "ParentRef": {"name": "Plants"},
                                    "Active": d["active"]})
        vendors = []
        for n, cid in enumerate(self.qbo_case_matches):
            sup = self.suppliers[self.supplier_info[cid]["idx"]]
            name = sup["companyName"]
            display = name.lower() if n % 2 else name.upper()
            vendors.append(self._qbo_vendor(display, sup))
            self.case("qbo_vendor_other_case", "suppliers", cid, qbo_display_name=display)
        vendors.append({"DisplayName": "Dayton Power & Light", "CompanyName": "Dayton Power & Light",
                        "Active": True, "TermRef": {"name": "Net 15"},
                        "PrimaryEmailAddr": {"Address": "business@dpl.example"}})
        vendors.append({"DisplayName": "Ohio Bureau of Workers' Compensation", "Active": True,
                        "TermRef": {"name": "Due on receipt"}})
        collide_id = self.cases["supplier_name_equals_qbo_customer"]["suppliers"][0]
        collide_name = self.suppliers[self.supplier_info[collide_id]["idx"]]["companyName"]
        self.cases["supplier_name_equals_qbo_customer"]["customer_display_name"] = collide_name
        customers = [
            {"DisplayName": collide_name, "CompanyName": collide_name, "Active": True,
             "PrimaryEmailAddr": {"Address": "purchasing@summitpackaging.example"}},
            {"DisplayName": "Hendricks Automotive Assembly", "CompanyName": "Hendricks Automotive Assembly LLC",
             "Active": True},
            {"DisplayName": "Tri-State Agricultural Equipment", "Active": True},
        ]
        employees = [{"DisplayName": "Pat Kowalski", "GivenName": "Pat", "FamilyName": "Kowalski", "Active": True},
                     {"DisplayName": "Dana Whitfield", "GivenName": "Dana", "FamilyName": "Whitfield",
                      "Active": True}]
        classes = [{"Name": "Production", "Active": True}, {"Name": "Overhead", "Active": True}]
        terms = [{"Name": "Net 30", "Type": "STANDARD", "DueDays": 30, "Active": True},
                 {"Name": "Net 15", "Type": "STANDARD", "DueDays": 15, "Active": True},
                 {"Name": "Due on receipt", "Type": "STANDARD", "DueDays": 0, "Active": True}]
        for s in self.suppliers:
            if s["paymentTerms"] not in QBO_TERMS:
                self.case("payment_terms_without_qbo", "suppliers", s["companyId"])
        company = {"CompanyName": COMPANY_NAME, "LegalName": COMPANY_NAME, "Country": "US",
                   "CompanyAddr": {"Line1": "2200 Kettering Blvd", "City": "Dayton", "CountrySubDivisionCode": "OH",
                                   "PostalCode": "45439", "Country": "US"},
                   "Email": {"Address": "accounting@midwestprecision.example"},
                   "FiscalYearStartMonth": "January", "MultiCurrencyEnabled": False,
                   "HomeCurrency": {"value": "USD"}}
        return {"CompanyInfo": company, "Account": accounts, "Department": departments, "Vendor": vendors,
                "Customer": customers, "Employee": employees, "Class": classes, "Term": terms}

    @staticmethod
    def _qbo_vendor(display: str, sup: dict) -> dict:
        addr = sup["primaryAddress"]
        return {"DisplayName": display, "CompanyName": display, "Active": True,
                "PrimaryEmailAddr": {"Address": sup["primaryContact"]["email"]},
                "PrimaryPhone": {"FreeFormNumber": sup["primaryContact"]["phone"]},
                "BillAddr": {"Line1": addr["line1"], "City": addr["city"], "CountrySubDivisionCode": addr["state"],
                             "PostalCode": addr["postalCode"], "Country": addr["country"]},
                **({"TermRef": {"name": sup["paymentTerms"]}} if sup["paymentTerms"] in QBO_TERMS else {})}


def malformed_ids(dataset: Dataset) -> dict[str, set[str]]:
    """entity -> ids of the records a malformed case changed on purpose (the PO an over-billing invoice bills
    is itself well formed, so it is not among them)."""
    out: dict[str, set[str]] = {}
    for name in MALFORMED_CASES:
        for record in dataset.cases.get(name, {}).get("records", []):
            out.setdefault(record["entity"], set()).add(record["id"])
    return out

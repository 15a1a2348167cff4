"""sandbox.datagen: determinism, sizes and the shapes of what it generates."""
import json
import os
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from sandbox.datagen import BASE_EPOCH, generate, malformed_ids
from sandbox.datagen.dataset import JAGGAER_KEYS, QBO_KEYS
from sandbox.jaggaer import JaggaerApp

ROOT = Path(__file__).resolve().parents[2]


def _dump(ds) -> str:
    return json.dumps({"jaggaer": ds.jaggaer, "qbo": ds.qbo, "cases": ds.cases}, sort_keys=True, ensure_ascii=False)


@pytest.fixture(scope="module")
def small():
    return generate("small", seed=42)


def test_it_generates_identical_data_for_the_same_seed():
    assert _dump(generate("small", seed=42)) == _dump(generate("small", seed=42))
    assert _dump(generate("demo", seed=7)) == _dump(generate("demo", seed=7))


def test_it_generates_different_data_for_another_seed():
    a, b = generate("small", seed=42), generate("small", seed=43)
    assert _dump(a) != _dump(b)
    names_a = [s.get("companyName") for s in a.jaggaer["suppliers"]]
    names_b = [s.get("companyName") for s in b.jaggaer["suppliers"]]
    assert names_a != names_b


def test_it_does_not_depend_on_hash_seed_or_wall_clock():
    script = ("import hashlib, json; from sandbox.datagen import generate; d = generate('small', seed=42); "
              "print(hashlib.sha256(json.dumps([d.jaggaer, d.qbo, d.cases], sort_keys=True)"
              ".encode()).hexdigest())")
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, TZ="Asia/Tokyo" if hash_seed == "1" else "UTC")
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


@pytest.mark.parametrize(("dataset", "sizes"), [
    ("small", (40, 80, 150)),
    ("demo", (200, 500, 1000)),
])
def test_it_generates_the_documented_sizes(dataset, sizes):
    ds = generate(dataset)
    assert (len(ds.jaggaer["suppliers"]), len(ds.jaggaer["purchase_orders"]), len(ds.jaggaer["invoices"])) == sizes


def test_scale_multiplies_the_counts():
    ds = generate("small", scale=2)
    assert (len(ds.jaggaer["suppliers"]), len(ds.jaggaer["purchase_orders"]), len(ds.jaggaer["invoices"])) == (
        80, 160, 300)


def test_bench_has_its_sizes_and_generates_and_loads_in_under_ten_seconds():
    started = time.perf_counter()
    ds = generate("bench")
    app = JaggaerApp(ds)
    elapsed = time.perf_counter() - started
    assert (len(ds.jaggaer["suppliers"]), len(ds.jaggaer["purchase_orders"]), len(ds.jaggaer["invoices"])) == (
        2000, 10000, 20000)
    assert app.count("invoices") == 20000
    assert elapsed < 10, f"bench generation and load took {elapsed:.1f} s"
    small_cases = generate("small").cases
    assert set(ds.cases) == set(small_cases)
    id_fields = {"suppliers": "companyId", "purchase_orders": "poId", "invoices": "invoiceId",
                 "gl_accounts": "code", "departments": "code"}
    ids = {e: {r[f] for r in ds.jaggaer[e]} for e, f in id_fields.items()}
    for name, entry in ds.cases.items():
        named = [(e, i) for e in id_fields for i in entry.get(e, [])]
        assert named, name
        assert all(i in ids[e] for e, i in named), name


def test_unknown_dataset_or_bad_scale_is_refused():
    with pytest.raises(ValueError):
        generate("huge")
    with pytest.raises(ValueError):
        generate("small", scale=0)


def test_ids_are_unique_and_records_carry_the_contract_fields(small):
    id_fields = {"suppliers": "companyId", "purchase_orders": "poId", "invoices": "invoiceId",
                 "gl_accounts": "code", "departments": "code"}
    assert set(small.jaggaer) == set(JAGGAER_KEYS)
    for entity, field in id_fields.items():
        ids = [r[field] for r in small.jaggaer[entity]]
        assert len(ids) == len(set(ids)), entity
    sup = small.jaggaer["suppliers"][0]
    assert {"companyId", "doingBusinessAs", "erpNumber", "active", "duns", "taxId", "currency", "paymentTerms",
            "primaryAddress", "primaryContact", "lastModTime"} <= set(sup)
    po = small.jaggaer["purchase_orders"][0]
    assert {"poId", "poNumber", "status", "orderDate", "supplier", "currency", "total", "accountingSegments",
            "lineList", "lastUpdate"} <= set(po)
    line = po["lineList"][0]
    assert {"lineNumber", "description", "quantity", "unitPrice", "amount", "accountingSegments"} <= set(line)
    assert set(line["accountingSegments"]) == {"Account", "DepartmentCode"}


def test_amounts_and_quantities_are_decimal_strings(small):
    malformed = malformed_ids(small)         # the malformed cases break this on purpose
    for inv in small.jaggaer["invoices"] + small.jaggaer["purchase_orders"]:
        if inv.get("invoiceId", inv.get("poId")) in malformed.get("invoices", set()) | malformed.get(
                "purchase_orders", set()):
            continue
        assert isinstance(inv["total"]["value"], str)
        Decimal(inv["total"]["value"])
        for line in inv["lineList"]:
            for key in ("quantity", "unitPrice", "amount"):
                if key in line:
                    assert isinstance(line[key], str)
                    Decimal(line[key])


def test_timestamps_are_utc_and_before_the_base_date(small):
    from datetime import datetime
    for entity, field in (("suppliers", "lastModTime"), ("purchase_orders", "lastUpdate"),
                          ("invoices", "lastUpdate"), ("gl_accounts", "lastModTime"), ("departments", "lastModTime")):
        for r in small.jaggaer[entity]:
            assert r[field].endswith("Z")
            assert datetime.fromisoformat(r[field]).timestamp() < BASE_EPOCH


def test_it_covers_every_status_type_and_full_and_partial_invoices():
    ds = generate("demo")
    assert set(Counter(p["status"] for p in ds.jaggaer["purchase_orders"])) == {
        "Draft", "Approved", "Issued", "Closed", "Cancelled"}
    assert set(Counter(i["workflowStatus"] for i in ds.jaggaer["invoices"])) == {
        "InProcess", "Approved", "Rejected", "Paid"}
    assert set(Counter(i["invoiceType"] for i in ds.jaggaer["invoices"])) == {"Invoice", "Credit Memo"}
    assert len(ds.cases["full_invoices"]["invoices"]) > 50
    assert len(ds.cases["partial_invoices"]["invoices"]) > 50
    assert len(ds.cases["non_po_invoices"]["invoices"]) > 20
    multi_line = [p for p in ds.jaggaer["purchase_orders"] if len(p["lineList"]) >= 3]
    assert len(multi_line) > 100


def test_po_invoices_never_bill_more_than_was_ordered(small):
    ordered = {}
    for po in small.jaggaer["purchase_orders"]:
        for line in po["lineList"]:
            ordered[(po.get("poNumber"), line["lineNumber"])] = Decimal(line["quantity"])
    billed = Counter()
    malformed = malformed_ids(small)["invoices"]     # among them the invoice that over-bills on purpose
    for inv in small.jaggaer["invoices"]:
        if inv["invoiceType"] != "Invoice" or inv["invoiceId"] in malformed:
            continue
        for line in inv["lineList"]:
            key = (line.get("poNumber"), line.get("poLineNumber"))
            if key in ordered:
                billed[key] += Decimal(line["quantity"])
    assert billed
    assert all(billed[k] <= ordered[k] for k in billed)


def test_departments_are_plants_and_the_gl_chart_is_a_manufacturers(small):
    plants = [d for d in small.jaggaer["departments"] if d["active"]]
    assert all(d["code"].startswith("PLANT-") and d["name"].startswith("Plant ") for d in plants)
    codes = {g["code"]: g["name"] for g in small.jaggaer["gl_accounts"]}
    assert codes["6100"] == "Raw materials" and codes["6200"] == "Freight in"
    assert codes["6400"] == "Maintenance & repairs"
    assert any(c.startswith("5") for c in codes) and any(c.startswith("6") for c in codes)


def test_the_qbo_side_has_company_chart_departments_names_and_terms(small):
    qbo = small.qbo
    assert set(qbo) == set(QBO_KEYS)
    info = qbo["CompanyInfo"]
    assert info["Country"] == "US" and info["MultiCurrencyEnabled"] is False and info["CompanyName"]
    ap = [a for a in qbo["Account"] if a["AccountType"] == "Accounts Payable"]
    assert ap == [{"Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable",
                   "AccountSubType": "AccountsPayable", "Classification": "Liability", "Active": True}]
    jag_codes = {g["code"] for g in small.jaggaer["gl_accounts"] if g["active"]}
    by_number = [a for a in qbo["Account"] if a.get("AcctNum") in jag_codes]
    assert len(by_number) >= len(jag_codes) - 4
    assert all(len(a["Name"]) <= 100 and ":" not in a["Name"] and '"' not in a["Name"] for a in qbo["Account"])
    assert [t["Name"] for t in qbo["Term"]] == ["Net 30", "Net 15", "Due on receipt"]
    assert qbo["Employee"] and qbo["Customer"] and qbo["Vendor"] and qbo["Class"]
    for entity in ("Account", "Department", "Vendor", "Customer", "Employee", "Class", "Term"):
        assert all({"Id", "SyncToken", "MetaData"}.isdisjoint(r) for r in qbo[entity])
    names = [r["DisplayName"] for key in ("Vendor", "Customer", "Employee") for r in qbo[key]]
    assert len(names) == len({n.lower() for n in names})     # QBO itself would refuse duplicates
    dept_names = {d["Name"] for d in qbo["Department"]}
    matched = [d for d in small.jaggaer["departments"] if d["name"] in dept_names]
    assert len(matched) >= len(small.jaggaer["departments"]) - 1
    for d in qbo["Department"]:
        if "ParentRef" in d:
            assert d["ParentRef"]["name"] in dept_names


@pytest.mark.parametrize(("dataset", "seed"), [("small", 42), ("small", 7), ("demo", 42)])
def test_the_qbo_side_loads_into_the_qbo_sandbox_without_errors_or_warnings(dataset, seed):
    from sandbox.qbo.app import QboApp
    app = QboApp()
    app.reset(generate(dataset, seed=seed))
    assert app.load_warnings == []

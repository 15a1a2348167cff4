"""How fast the QBO sandbox answers: a query page of 1,000 vendors, and a /batch of 30 creates.

    python bench/sandbox_speed.py [--pages 200] [--batches 300] [--threads 1]

Limits are switched off (the benchmark of our sync does the same); each client thread keeps one
connection alive, as a requests.Session does. Prints requests/second and records/second.
"""
import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from sandbox.common.http import SandboxServer  # noqa: E402
from sandbox.qbo.app import QboApp  # noqa: E402


def _run(threads: int, per_thread: int, call) -> float:
    """Seconds for `threads` threads each making `per_thread` calls of call(session, thread, i)."""
    barrier = threading.Barrier(threads + 1)
    errors = []

    def worker(t: int) -> None:
        session = requests.Session()
        barrier.wait()
        for i in range(per_thread):
            try:
                call(session, t, i)
            except Exception as e:            # noqa: BLE001 - reported below
                errors.append(e)
                return
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    barrier.wait()
    started = time.perf_counter()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"failed: {errors[0]}")
    return elapsed


def flow(session, base, headers, params, ap, expense, scale: float) -> None:
    """The benchmark's write load, one client: vendors, 3-line POs, then bills linked to every PO line."""
    n_vendors, n_pos, n_bills = int(2000 * scale), int(10000 * scale), int(20000 * scale)

    def post(items):
        r = session.post(base + "/batch", headers=headers, params=params, json={"BatchItemRequest": items})
        answers = r.json()["BatchItemResponse"]
        assert r.status_code == 200 and not any("Fault" in a for a in answers), r.text[:300]
        return answers
    started = time.perf_counter()
    vendors = []
    for start in range(0, n_vendors, 30):
        items = [{"bId": str(k), "operation": "create", "Vendor": {"DisplayName": f"Flow Vendor {k:05d}"}}
                 for k in range(start, min(n_vendors, start + 30))]
        vendors += [a["Vendor"]["Id"] for a in post(items)]
    pos = []
    for start in range(0, n_pos, 30):
        items = [{"bId": str(k), "operation": "create", "PurchaseOrder": {
            "VendorRef": {"value": vendors[k % len(vendors)]}, "APAccountRef": {"value": ap}, "DocNumber": f"F{k}",
            "Line": [{"Amount": 10 + j, "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}}} for j in range(3)]}}
            for k in range(start, min(n_pos, start + 30))]
        pos += [(a["PurchaseOrder"]["Id"], a["PurchaseOrder"]["VendorRef"]["value"]) for a in post(items)]
    for start in range(0, n_bills, 30):
        items = []
        for k in range(start, min(n_bills, start + 30)):
            po_id, vendor = pos[k % len(pos)]
            items.append({"bId": str(k), "operation": "create", "Bill": {
                "VendorRef": {"value": vendor}, "DocNumber": f"FB{k}",
                "Line": [{"Amount": 5, "DetailType": "AccountBasedExpenseLineDetail",
                          "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}},
                          "LinkedTxn": [{"TxnId": po_id, "TxnType": "PurchaseOrder", "TxnLineId": str(j + 1)}]}
                         for j in range(3)]}})
        post(items)
    took = time.perf_counter() - started
    total = n_vendors + n_pos + n_bills
    print(f"write flow ({n_vendors:,} vendors, {n_pos:,} POs, {n_bills:,} bills, batches of 30, 1 client): "
          f"{took:.1f} s, {total / took:,.0f} records/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="1,000-row query pages per thread")
    parser.add_argument("--batches", type=int, default=300, help="30-item batches per thread")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--flow", type=float, default=0, metavar="SCALE",
                        help="also push the benchmark's write load (2,000/10,000/20,000 at scale 1) through /batch")
    args = parser.parse_args()

    server = SandboxServer(QboApp()).start()
    app = server.app
    app.set_limits("*", requests_per_minute=None, concurrent=None, batches_per_minute=None)
    tokens = app.issue_tokens()
    base = f"{server.url}/v3/company/{tokens['realm_id']}"
    headers = {"Authorization": "Bearer " + tokens["access_token"], "Accept": "application/json"}
    params = {"minorversion": "75"}
    try:
        for i in range(1000):
            app.create("Vendor", {"DisplayName": f"Speed Vendor {i:04d}", "CompanyName": f"Speed Co {i}",
                                  "PrimaryEmailAddr": {"Address": f"ap{i}@speed.example"},
                                  "BillAddr": {"Line1": f"{i} Main St", "City": "Dayton", "PostalCode": "45402"}})

        def page(session, t, i):
            r = session.get(base + "/query", headers=headers,
                            params={**params, "query": "select * from Vendor startposition 1 maxresults 1000"})
            assert r.status_code == 200 and len(r.json()["QueryResponse"]["Vendor"]) == 1000, r.text[:200]

        def batch(session, t, i):
            items = [{"bId": str(k), "operation": "create",
                      "Vendor": {"DisplayName": f"Batch {t}-{i}-{k}", "CompanyName": "Batch Co"}} for k in range(30)]
            r = session.post(base + "/batch", headers=headers, params=params, json={"BatchItemRequest": items})
            body = r.json()["BatchItemResponse"]
            assert r.status_code == 200 and all("Vendor" in x for x in body), r.text[:300]

        page(requests.Session(), 0, 0)                          # warm the JSON cache of the 1,000 vendors
        n_pages = args.pages * args.threads
        s = _run(args.threads, args.pages, page)
        print(f"query page of 1,000 vendors: {n_pages / s:8.1f} requests/s  ({n_pages * 1000 / s:,.0f} rows/s; "
              f"{args.threads} thread(s), {n_pages} pages in {s:.2f} s)")
        n_batches = args.batches * args.threads
        s = _run(args.threads, args.batches, batch)
        print(f"batch of 30 vendor creates: {n_batches / s:8.1f} requests/s  ({n_batches * 30 / s:,.0f} records/s; "
              f"{args.threads} thread(s), {n_batches} batches in {s:.2f} s)")
        ap = app.find("Account", AccountType="Accounts Payable")[0]["Id"]
        expense = app.find("Account", AccountType="Expense")[0]["Id"]
        vendor_ids = [v["Id"] for v in app.state("Vendor")[:1000]]
        po_lines = {}

        def po_batch(session, t, i):
            items = []
            for k in range(30):
                vid = vendor_ids[(i * 30 + k) % len(vendor_ids)]
                items.append({"bId": str(k), "operation": "create", "PurchaseOrder": {
                    "VendorRef": {"value": vid}, "APAccountRef": {"value": ap}, "DocNumber": f"P{t}-{i}-{k}",
                    "Line": [{"Amount": 100 + j, "DetailType": "AccountBasedExpenseLineDetail",
                              "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}}} for j in range(3)]}})
            r = session.post(base + "/batch", headers=headers, params=params, json={"BatchItemRequest": items})
            for x in r.json()["BatchItemResponse"]:
                po = x["PurchaseOrder"]
                po_lines[(t, i, int(x["bId"]))] = (po["Id"], po["VendorRef"]["value"])

        def bill_batch(session, t, i):
            items = []
            for k in range(30):
                po_id, vid = po_lines[(t, i, k)]
                items.append({"bId": str(k), "operation": "create", "Bill": {
                    "VendorRef": {"value": vid}, "DocNumber": f"B{t}-{i}-{k}",
                    "Line": [{"Amount": 100 + j, "DetailType": "AccountBasedExpenseLineDetail",
                              "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}},
                              "LinkedTxn": [{"TxnId": po_id, "TxnType": "PurchaseOrder", "TxnLineId": str(j + 1)}]}
                             for j in range(3)]}})
            r = session.post(base + "/batch", headers=headers, params=params, json={"BatchItemRequest": items})
            assert all("Bill" in x for x in r.json()["BatchItemResponse"]), r.text[:300]

        if args.flow:
            flow(session=requests.Session(), base=base, headers=headers, params=params, ap=ap, expense=expense,
                 scale=args.flow)
        n = min(args.batches, 100) * args.threads
        s = _run(args.threads, n // args.threads, po_batch)
        print(f"batch of 30 POs (3 lines):  {n / s:8.1f} requests/s  ({n * 30 / s:,.0f} records/s)")
        s = _run(args.threads, n // args.threads, bill_batch)
        print(f"batch of 30 bills linked:   {n / s:8.1f} requests/s  ({n * 30 / s:,.0f} records/s)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

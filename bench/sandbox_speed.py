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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="1,000-row query pages per thread")
    parser.add_argument("--batches", type=int, default=300, help="30-item batches per thread")
    parser.add_argument("--threads", type=int, default=1)
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

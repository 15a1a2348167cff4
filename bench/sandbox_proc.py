"""The sandboxes in a process of their own, for the sync benchmark (so its RSS and CPU are the sync's alone).

    python bench/sandbox_proc.py --dataset bench --scale 1 [--limits real|off] [--latency-ms 0]
                                 [--realms 9130355000000007,...]

Prints one JSON line `{"qbo_url", "jaggaer_url", "realm", "realms"}` when both servers listen, then reads
commands from stdin, one per line, and answers each with one JSON line:
- `mutate <fraction>`: change about that fraction of JAGGAER's records the way a working day does
  (suppliers renamed, draft POs approved, PO lines changed, a few POs cancelled, invoices approved);
- `quit` (or end of input): stop.
`--realms` adds QBO realms loaded with the same dataset (a fresh company each: the naive baseline, the
throttled run), so the runs do not share QBO state.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

OFF = {"requests_per_minute": None, "concurrent": None, "batches_per_minute": None, "requests_per_second": None}
REAL = {"requests_per_minute": 500, "concurrent": 10, "batches_per_minute": 40, "requests_per_second": 10}


def mutate(jaggaer, fraction: float) -> dict:
    """About `fraction` of every entity changed, deterministically (every k-th record of a kind)."""
    done = {"suppliers_renamed": 0, "pos_approved": 0, "po_lines_changed": 0, "pos_cancelled": 0,
            "invoices_approved": 0}
    suppliers = [s for s in jaggaer.records("suppliers") if s.get("active", True)]
    want = max(1, round(len(jaggaer.records("suppliers")) * fraction))
    for s in suppliers[::max(1, len(suppliers) // want)][:want]:
        jaggaer.rename_supplier(s["companyId"], f"{s['companyName']} (renamed {s['companyId']})")
        done["suppliers_renamed"] += 1
    pos = jaggaer.records("purchase_orders")
    want = max(1, round(len(pos) * fraction))
    drafts = [p for p in pos if p.get("status") == "Draft"]
    for p in drafts[:want // 2]:
        jaggaer.approve_po(p["poId"] if "poId" in p else p["purchaseOrderId"])
        done["pos_approved"] += 1
    open_pos = [p for p in pos if p.get("status") in ("Approved", "Issued") and p.get("lineList")]
    step = max(1, len(open_pos) // max(1, want - done["pos_approved"]))
    changed = open_pos[::step][:want - done["pos_approved"]]
    for p in changed:
        lines = [dict(line) for line in p["lineList"]]
        last = lines[-1]
        last.pop("amount", None)
        last["quantity"] = str(int(float(last.get("quantity") or 1)) + 1)
        jaggaer.set_po_lines(_po_id(p), lines)
        done["po_lines_changed"] += 1
    for p in open_pos[1::step][:max(1, want // 50)]:
        if p not in changed:
            jaggaer.cancel_po(_po_id(p))
            done["pos_cancelled"] += 1
    invoices = jaggaer.records("invoices")
    want = max(1, round(len(invoices) * fraction))
    waiting = [i for i in invoices if i.get("workflowStatus") == "InProcess"]
    for i in waiting[::max(1, len(waiting) // want)][:want]:
        jaggaer.approve_invoice(i["invoiceId"])
        done["invoices_approved"] += 1
    done["total"] = sum(done.values())
    return done


def _po_id(po: dict) -> str:
    return po.get("poId") or po.get("purchaseOrderId") or po["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="bench")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limits", choices=["off", "real"], default="off")
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--realms", default="", help="comma-separated realm ids to add, loaded with the dataset")
    args = parser.parse_args()

    from sandbox.datagen import load_dataset
    from sandbox.runner import start_sandboxes

    limits = OFF if args.limits == "off" else REAL
    sb = start_sandboxes(args.dataset, args.seed, args.scale, qbo_limits=limits)
    data = load_dataset(args.dataset, args.seed, args.scale)
    realms = [r for r in args.realms.split(",") if r]
    for realm_id in realms:
        info = data.qbo.get("CompanyInfo") or {}
        realm = sb.qbo.create_realm(realm_id, company_name=info.get("CompanyName"), starter_accounts=False)
        sb.qbo._load(realm, data.qbo)
        sb.qbo.set_limits(realm_id, **limits)
    if args.latency_ms:
        for server in sb.servers():
            server.faults.set_latency(args.latency_ms)
    print(json.dumps({"qbo_url": sb.qbo_url, "jaggaer_url": sb.jaggaer_url, "realm": sb.qbo.default_realm_id,
                      "realms": realms, "pid": os.getpid()}), flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            try:
                if words[0] == "mutate":
                    answer = mutate(sb.jaggaer, float(words[1]))
                elif words[0] == "log":
                    answer = {name: server.log.counts() for name, server in
                              (("qbo", sb.qbo_server), ("jaggaer", sb.jaggaer_server))}
                else:
                    answer = {"error": f"unknown command {words[0]!r}"}
            except Exception as e:  # noqa: BLE001 - reported to the caller
                answer = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(answer), flush=True)
    finally:
        sb.stop()


if __name__ == "__main__":
    main()

"""Small helpers for sync tests: the small dataset's cases and what the sandboxes saw."""

from sandbox.datagen import load_dataset

DATASET = load_dataset("small", 42)
CASES = DATASET.cases
SUPPLIERS = {s["companyId"]: s for s in DATASET.jaggaer["suppliers"]}


def case_ids(name: str, entity: str = "suppliers") -> list[str]:
    return list(CASES[name][entity])


def qbo_writes(server) -> int:
    """POSTs that may write (batches and single entity writes); queries, and batches of queries only, do not."""
    return sum(1 for e in server.log.entries() if e["method"] == "POST" and "/query" not in e["endpoint"]
               and e.get("note") != "reads")


def vendors_by_name(server) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for vendor in server.app.state("Vendor"):
        out.setdefault(vendor["DisplayName"].casefold(), []).append(vendor)
    return out

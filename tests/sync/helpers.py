"""Small helpers for sync tests: the small dataset's cases and what the sandboxes saw."""

import re
from collections import Counter
from urllib.parse import unquote

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


def capture_queries(qbo_client) -> list[str]:
    """The query statements the client sends from now on (GET, long ones POSTed, /batch query items), in order."""
    sent: list[str] = []
    real = qbo_client.http.request

    def request(method, path, **kwargs):
        if "/query" in path:
            sent.append(unquote(path.split("query=", 1)[1]) if "query=" in path else str(kwargs.get("data")))
        body = kwargs.get("json")
        if isinstance(body, dict):      # query items of a /batch
            sent.extend(item["Query"] for item in body.get("BatchItemRequest") or [] if "Query" in item)
        return real(method, path, **kwargs)

    qbo_client.http.request = request
    return sent


def look_ups(sent: list[str]) -> Counter:
    """DocNumber look-up queries sent, by entity."""
    return Counter(q.split(" from ")[1].split()[0] for q in sent if "DocNumber IN" in q)


def looked_up_numbers(sent: list[str]) -> set[str]:
    """Every DocNumber the look-ups asked about."""
    return {n for q in sent if "DocNumber IN" in q for n in re.findall(r"'((?:[^'\\]|\\.)*)'", q.split("IN", 1)[1])}


def count_queries(sent: list[str]) -> list[str]:
    """The entities QBO was asked to count, sorted."""
    return sorted(q.split(" from ")[1].split()[0] for q in sent if q.startswith("select count(*)"))

"""The seam of the fit report: the clients a dry run hands to the real pipeline.

The pipeline runs unchanged with these clients inside one database transaction that is rolled back at the
end (reports.fit): every read goes to JAGGAER and QuickBooks as a sync would, every QuickBooks write is
answered here as QuickBooks would answer a successful one (new Ids, line Ids, statuses), so the links, holds
and audit rows the run writes on the way are exactly the real run's and let later records resolve against the
would-be-created vendors and purchase orders; then they are thrown away.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation

from django.db import connection as db_connection

from connections.clients.qbo import BatchItem, BatchResult, SentBatch
from core.tenancy import tenant_scope

DRY_ID_PREFIX = "dry-"
CAPPED_ENTITIES = ("suppliers", "purchase_orders", "invoices")    # the records; catalogs are read whole


class DryRunQbo:
    """A QBO client whose reads are real and whose writes are predicted: counted, never sent."""

    def __init__(self, qbo):
        self._qbo = qbo
        self.batches = 0
        self.writes: Counter = Counter()          # (entity, operation) -> n
        self._ids = 0
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self._qbo, name)

    @property
    def reads(self) -> int:
        return sum(getattr(self._qbo, "request_counts", Counter()).values())

    def batch(self, items: list[BatchItem], *, requestid: str | None = None) -> list[BatchResult]:
        if not items:
            return []
        # query items are reads (a page's look-ups sent together): real, each its own query, so the dry run
        # sends QuickBooks no batch at all (nothing it could take for a write)
        read = {item.bid: BatchResult(item.bid, query_response=self._qbo.query(item.query))
                for item in items if item.operation == "query"}
        if len(read) < len(items):
            self.batches += 1
        return [read[item.bid] if item.bid in read
                else BatchResult(item.bid, entity=self._answer(item.entity, item.operation, item.payload))
                for item in items]

    def batch_send(self, items: list[BatchItem], *, requestid: str | None = None) -> SentBatch:
        """The engine's overlapped `batch`: answered here at once (the real client's would send the writes)."""
        return SentBatch(self._qbo, items, done=self.batch(items, requestid=requestid))

    def create(self, entity: str, payload: dict, *, requestid: str | None = None) -> dict:
        self.batches += 1
        return self._answer(entity, "create", payload)

    def update(self, entity: str, payload: dict, *, requestid: str | None = None, sparse: bool = True) -> dict:
        self.batches += 1
        return self._answer(entity, "update", payload)

    def _answer(self, entity: str, operation: str, payload: dict) -> dict:
        """What QuickBooks answers to a successful write: the object with its Id, SyncToken and line Ids."""
        self.writes[(entity, operation)] += 1
        obj = copy.deepcopy(payload)
        obj.pop("sparse", None)
        if operation == "create":
            with self._lock:
                self._ids += 1
                obj["Id"] = f"{DRY_ID_PREFIX}{self._ids}"
            obj["SyncToken"] = "0"
        else:
            try:
                obj["SyncToken"] = str(int(obj.get("SyncToken") or 0) + 1)
            except (TypeError, ValueError):
                obj["SyncToken"] = "1"
        lines = [ln for ln in obj.get("Line") or [] if ln.get("DetailType") != "SubTotalLineDetail"]
        total = Decimal(0)
        for number, line in enumerate(lines, 1):
            line.setdefault("Id", str(number))
            line["LineNum"] = number
            try:
                total += Decimal(str(line.get("Amount", 0)))
            except (InvalidOperation, ValueError):
                pass
        if entity == "Vendor":
            obj.setdefault("Active", True)
        if entity == "PurchaseOrder":
            obj.setdefault("POStatus", "Open")
        if entity in ("Bill", "VendorCredit", "PurchaseOrder"):
            obj.setdefault("TotalAmt", str(total))
            if entity != "PurchaseOrder":
                obj.setdefault("Balance", str(total))
        return obj


class CappedJaggaer:
    """A JAGGAER client that reads at most `max_pages` pages of each record entity and says which it cut."""

    def __init__(self, jaggaer, max_pages: int):
        self._jaggaer = jaggaer
        self.max_pages = max_pages
        self.pages: Counter = Counter()
        self.capped: set[str] = set()

    def __getattr__(self, name):
        return getattr(self._jaggaer, name)

    def iter_pages(self, entity: str, *, since=None, read_ahead: int = 0):
        if entity not in CAPPED_ENTITIES:
            yield from self._jaggaer.iter_pages(entity, since=since, read_ahead=read_ahead)
            return
        pages = self._jaggaer.iter_pages(entity, since=since)    # a sample: no page asked for beyond it
        for page in pages:
            if self.pages[entity] >= self.max_pages:   # there is one more page: the report is a sample
                self.capped.add(entity)
                pages.close()
                return
            self.pages[entity] += 1
            yield page


class DetachedTokens:
    """A QBO token provider for use inside the dry run's transaction: a refresh commits on its own connection
    (a rotated refresh token must outlive the rollback), in a helper thread; a valid token needs no database."""

    def __init__(self, provider, tenant_id):
        self._provider = provider
        self._tenant_id = tenant_id
        self._pool: ThreadPoolExecutor | None = None

    def __getattr__(self, name):
        return getattr(self._provider, name)

    def _fresh(self) -> bool:
        conn = getattr(self._provider, "connection", None)
        margin = getattr(self._provider, "margin", 0)
        return conn is None or conn.access_token_valid_for(margin)

    def access_token(self) -> str:
        if self._fresh():
            return self._provider.access_token()
        return self._detached(self._provider.access_token)

    def renew(self, rejected: str) -> str:
        return self._detached(lambda: self._provider.renew(rejected))

    def _detached(self, call):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fit-report-tokens")

        def run():
            with tenant_scope(self._tenant_id):
                return call()
        return self._pool.submit(run).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.submit(lambda: db_connection.close()).result()   # the helper thread's own connection
            self._pool.shutdown()
            self._pool = None


def detach_tokens(qbo, tenant_id) -> DetachedTokens | None:
    """Give the client a detached provider when it has a refreshing one; the provider, to close afterwards."""
    tokens = getattr(qbo, "tokens", None)
    if tokens is None or not hasattr(tokens, "connection"):
        return None
    tokens.access_token()       # refreshed now, outside the transaction, when it is close to expiry
    detached = DetachedTokens(tokens, tenant_id)
    qbo.tokens = detached
    return detached

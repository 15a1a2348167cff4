"""QuickBooks Online Accounting API v3: the only module that speaks to a QBO company.

Per ../shared/contracts/qbo-v3.md: `minorversion` on every call, queries paged with STARTPOSITION /
MAXRESULTS, `requestid` for idempotent writes, batches of at most QBO_BATCH_SIZE items, and faults read
from all three shapes QBO uses (JSON `Fault`, the gateway's lower-case `fault`, the XML throttle fault),
also when they arrive with HTTP 200. A 401 renews the token once and repeats the call once. Every write
carries a `requestid` (the caller's, or a fresh one), so the HTTP layer's retries never write twice.
`batch_send` sends a batch from the client's helper thread while the caller does its database work.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from connections.clients.http import RETRY_STATUSES, ErrorReading, Exchange, HelperThread, HttpClient, json_body
from connections.exceptions import NeedsReauthorization, NotConfigured, QboFault

SYSTEM = "qbo"
MAX_PAGE_SIZE = 1000                 # MAXRESULTS cap
LONG_QUERY_CHARS = 4000              # longer statements are POSTed as application/text
MAX_REQUESTID_CHARS = 50
MAX_BATCH_REQUESTID_CHARS = 36
MAX_BID_CHARS = 10
BATCH_OPERATIONS = ("create", "update", "delete", "query")
_XML_LIMIT = 256 * 1024
_QUERY_RESPONSE_META = {"startposition", "maxresults", "totalcount"}


def escape_query_value(value: str) -> str:
    """A value for a single-quoted string in the QBO query language: backslash-escape \\ and '."""
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


# ============================================================================ faults

def _first(d: dict, *names: str) -> Any:
    for name in names:
        if name in d and d[name] not in (None, ""):
            return d[name]
    return None


def fault_from_dict(fault: dict, *, status: int | None = None, intuit_tid: str | None = None) -> QboFault:
    """A QboFault from a JSON `Fault` (or gateway `fault`) object."""
    raw_errors = _first(fault, "Error", "error") or []
    if isinstance(raw_errors, dict):
        raw_errors = [raw_errors]
    errors = []
    for e in raw_errors:
        if not isinstance(e, dict):
            continue
        errors.append({"message": _first(e, "Message", "message"), "detail": _first(e, "Detail", "detail"),
                       "code": None if _first(e, "code", "Code") is None else str(_first(e, "code", "Code")),
                       "element": _first(e, "element", "Element")})
    first = errors[0] if errors else {}
    code = first.get("code")
    return QboFault(first.get("message") or "QuickBooks Online reported a fault", status=status, code=code,
                    detail=first.get("detail"), intuit_tid=intuit_tid,
                    transient=_is_transient(status, code), fault_type=_first(fault, "type", "Type"),
                    element=first.get("element"), errors=errors)


def _is_transient(status: int | None, code: str | None) -> bool:
    return code == "3001" or (status in RETRY_STATUSES)


def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def fault_from_xml(text: str | bytes, *, status: int | None = None, intuit_tid: str | None = None) -> QboFault | None:
    """A QboFault from an XML body (`<IntuitResponse><Fault><Error code=...>`); None if it holds no Fault."""
    if len(text) > _XML_LIMIT:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    fault_el = root if _strip_ns(root.tag) == "Fault" else next(
        (el for el in root.iter() if _strip_ns(el.tag) == "Fault"), None)
    if fault_el is None:
        return None
    errors = []
    for el in fault_el:
        if _strip_ns(el.tag) != "Error":
            continue
        children = {_strip_ns(c.tag): (c.text or "").strip() for c in el}
        errors.append({"Message": children.get("Message"), "Detail": children.get("Detail"),
                       "code": el.get("code"), "element": el.get("element")})
    return fault_from_dict({"Error": errors, "type": fault_el.get("type")}, status=status, intuit_tid=intuit_tid)


def fault_from_response(response: requests.Response) -> QboFault | None:
    """The fault a response carries (any status, any of the three shapes); None for a clean answer.

    A non-2xx answer without a readable fault still gives a QboFault describing the HTTP status."""
    status = response.status_code
    tid = response.headers.get("intuit_tid")
    body = json_body(response)
    if isinstance(body, dict):
        fault = body.get("Fault") or body.get("fault")
        if isinstance(fault, dict):
            return fault_from_dict(fault, status=status, intuit_tid=tid)
    elif body is None and response.content and response.content.lstrip()[:1] == b"<":
        fault = fault_from_xml(response.content, status=status, intuit_tid=tid)
        if fault is not None:
            return fault
    if response.ok:
        return None
    if status == 429:
        return QboFault("QuickBooks Online is throttling requests for this company", status=status, code="3001",
                        intuit_tid=tid, transient=True)
    return QboFault(f"QuickBooks Online answered HTTP {status}", status=status, intuit_tid=tid,
                    transient=status in RETRY_STATUSES, detail=_short_text(response))


def _short_text(response: requests.Response) -> str | None:
    ctype = response.headers.get("Content-Type", "")
    if "json" in ctype or "html" in ctype or not response.content:
        return None
    return response.text.strip()[:200] or None


def read_qbo_error(response: requests.Response) -> ErrorReading | None:
    """The HTTP layer's view of a QBO answer: the fault code and whether a retry may help."""
    fault = fault_from_response(response)
    if fault is None:
        return None
    return ErrorReading(code=fault.code, message=fault.message, transient=fault.transient,
                        throttled=fault.is_throttled)


# ============================================================================ batch items

@dataclass
class BatchItem:
    bid: str
    operation: str                   # "create" | "update" | "delete" | "query"
    entity: str | None = None        # "Vendor", "Bill", ... (not for queries)
    payload: dict | None = None
    query: str | None = None
    sparse: bool = True              # updates only

    def as_request(self) -> dict:
        if not self.bid or len(self.bid) > MAX_BID_CHARS:
            raise ValueError(f"batch bId must be 1 to {MAX_BID_CHARS} characters, not {self.bid!r}")
        if self.operation not in BATCH_OPERATIONS:
            raise ValueError(f"batch operation must be one of {', '.join(BATCH_OPERATIONS)}, not {self.operation!r}")
        if self.operation == "query":
            if not self.query:
                raise ValueError(f"batch item {self.bid}: a query item needs `query`")
            return {"bId": self.bid, "Query": self.query}
        if not self.entity or not isinstance(self.payload, dict):
            raise ValueError(f"batch item {self.bid}: {self.operation} needs `entity` and a `payload` dict")
        payload = dict(self.payload)
        if self.operation in ("update", "delete"):
            _require_id_and_synctoken(self.entity, payload)
        if self.operation == "update" and self.sparse:
            payload.setdefault("sparse", True)
        return {"bId": self.bid, "operation": self.operation, self.entity: payload}


@dataclass
class BatchResult:
    bid: str
    entity: dict | None = None
    fault: QboFault | None = None
    query_response: dict | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None


def _require_id_and_synctoken(entity: str, payload: dict) -> None:
    if not payload.get("Id") or payload.get("SyncToken") in (None, ""):
        raise ValueError(f"{entity} update/delete needs Id and SyncToken in the payload")


def _entity_value(container: dict, entity: str | None) -> Any:
    """container[entity], matching the entity name without regard to case."""
    if not isinstance(container, dict):
        return None
    if entity and entity in container:
        return container[entity]
    if entity:
        lower = entity.lower()
        for key, value in container.items():
            if key.lower() == lower:
                return value
    return None


def company_base(api_base: str, realm_id: str) -> str:
    """`https://host/v3/company/<realm>` from QBO_API_BASE (a host, a host with /v3, or a template)."""
    base = api_base.rstrip("/")
    if "{realm_id}" in base or "{realmId}" in base:
        return base.replace("{realm_id}", quote(realm_id, safe="")).replace("{realmId}", quote(realm_id, safe=""))
    if base.endswith("/v3"):
        base = base[:-3]
    return f"{base}/v3/company/{quote(str(realm_id), safe='')}"


def changed_after(when: dt.datetime) -> str:
    """The `where` of an incremental query: rows QBO changed after `when`."""
    return f"Metadata.LastUpdatedTime > '{_format_since(when)}'"


def _format_since(when: dt.datetime) -> str:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("changed_since must be a timezone-aware datetime")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ============================================================================ the client

@dataclass
class _Call:
    """One request as the client sends it (again, after a 401)."""

    method: str
    path: str
    params: dict
    json: Any = None
    content: str | None = None
    content_type: str | None = None
    limit_kind: str | None = None


class SentBatch:
    """A batch on its way (`QboClient.batch_send`); `result()` on the thread that sent it."""

    def __init__(self, client: QboClient, items: list[BatchItem], *, call: _Call | None = None, token: str = "",
                 exchange: Exchange | None = None, done: list[BatchResult] | None = None,
                 error: Exception | None = None):
        self._client, self._items, self._call, self._token = client, items, call, token
        self._exchange, self._done, self._error = exchange, done, error

    def result(self) -> list[BatchResult]:
        """The answers, as `batch` gives them; its errors raised here (ConnectionFailure, RemoteError)."""
        if self._error is not None:
            raise self._error
        if self._done is not None:
            return self._done
        response = self._exchange.response()
        self._done = self._client._batch_results(self._items,
                                                 self._client._answer(self._call, self._token, response))
        return self._done

    @property
    def future(self) -> Future | None:
        """Done once QBO has answered (None when nothing is on its way): a caller may wait on it beside other work."""
        return self._exchange.future if self._exchange is not None and self._done is None else None

    def settle(self) -> None:
        """Wait for the exchange to end and tell its calls, whatever the outcome (a page stopping early)."""
        if self._exchange is not None:
            self._exchange.settle()


class QboClient:
    """One QBO company (realm), through one keep-alive HTTP session."""

    def __init__(self, *, api_base: str, realm_id: str, tokens, minor_version: int = 75, limiter=None,
                 http: HttpClient | None = None, tenant_id=None):
        if not realm_id:
            raise NotConfigured("QuickBooks Online has no company (realm id) for this tenant: connect it first",
                                system=SYSTEM)
        self.realm_id = str(realm_id)
        self.base_url = company_base(api_base, self.realm_id)
        self.tokens = tokens
        self.minor_version = int(minor_version)
        self.tenant_id = tenant_id
        if http is None:
            http = HttpClient(SYSTEM, self.base_url, limiter=limiter, read_error=read_qbo_error,
                              tenant_id=tenant_id, realm_id=self.realm_id)
        else:
            http.read_error = http.read_error or read_qbo_error
            http.limiter = limiter if limiter is not None else http.limiter
            http.tenant_id = tenant_id if tenant_id is not None else http.tenant_id
            http.realm_id = http.realm_id or self.realm_id
        self.http = http
        self.request_counts: Counter = Counter()
        self.last_intuit_tid: str | None = None
        self._batches = HelperThread(f"qbo-{self.realm_id}")     # the batches' exchanges (`batch_send`)
        self._unsent = 0                        # batches handed to the helper thread, not sent yet
        self._unsent_lock = threading.Lock()

    def close(self) -> None:
        self._batches.close()
        self.http.close()

    # ---- transport
    def _call(self, kind: str, method: str, path: str, *, params: dict | None = None, json: Any = None,
              content: str | None = None, content_type: str | None = None) -> dict:
        """One logical call: counted once, sent with the token, renewed once on 401, faults raised."""
        call = self._prepare(kind, method, path, params=params, json=json, content=content, content_type=content_type)
        token = self.tokens.access_token()
        return self._answer(call, token, self._send(token, call))

    def _prepare(self, kind: str, method: str, path: str, *, params: dict | None = None, json: Any = None,
                 content: str | None = None, content_type: str | None = None) -> _Call:
        self.request_counts[kind] += 1
        return _Call(method, path, {**(params or {}), "minorversion": self.minor_version}, json, content,
                     content_type, "batch" if kind == "batch" else None)

    def _answer(self, call: _Call, token: str, response: requests.Response) -> dict:
        """The body of a call's answer; a 401 renews the token and sends the call again (here, once)."""
        if response.status_code == 401:
            token = self.tokens.renew(token)
            response = self._send(token, call)
            if response.status_code == 401:
                fault = fault_from_response(response)
                raise NeedsReauthorization(
                    "QuickBooks Online rejected a freshly renewed access token: reconnect QuickBooks for this "
                    f"company{_tid_note(fault.intuit_tid if fault else None)}", system=SYSTEM)
        self.last_intuit_tid = response.headers.get("intuit_tid")
        fault = fault_from_response(response)
        if fault is not None:
            raise fault
        body = json_body(response)
        if not isinstance(body, dict):
            raise QboFault("QuickBooks Online answered with something that is not JSON",
                           status=response.status_code, intuit_tid=response.headers.get("intuit_tid"))
        return body

    def _send(self, token: str, call: _Call) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if call.content_type:
            headers["Content-Type"] = call.content_type
        return self.http.request(call.method, f"{self.base_url}{call.path}", params=call.params, json=call.json,
                                 content=call.content, headers=headers, limit_kind=call.limit_kind)

    # ---- reads
    def company_info(self) -> dict:
        body = self._call("single", "GET", f"/companyinfo/{quote(self.realm_id, safe='')}")
        return body.get("CompanyInfo") or {}

    def preferences(self) -> dict:
        """The company's Preferences (CurrencyPrefs: home currency, multicurrency on or off)."""
        return self._call("single", "GET", "/preferences").get("Preferences") or {}

    def read(self, entity: str, entity_id: str) -> dict:
        body = self._call("single", "GET", f"/{entity.lower()}/{quote(str(entity_id), safe='')}")
        return _entity_value(body, entity) or {}

    def query(self, sql: str) -> dict:
        """One query statement; the `QueryResponse` dict (rows under the entity name)."""
        if len(sql) > LONG_QUERY_CHARS:
            body = self._call("query", "POST", "/query", content=sql, content_type="application/text")
        else:
            # %20, not "+", for spaces: the statement is the whole value and "+" is a literal in QBO's eyes.
            body = self._call("query", "GET", f"/query?query={quote(sql, safe='')}")
        return body.get("QueryResponse") or {}

    def query_pages(self, entity: str, where: str = "", *, page_size: int = MAX_PAGE_SIZE,
                    order_by: str = "Id") -> Iterator[list[dict]]:
        """Every row of `select * from <entity> [where ...]`, one page at a time, until a short page."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        statement = f"select * from {entity}{_where(where)}"
        if order_by:
            statement += f" orderby {order_by}"
        start = 1
        while True:
            rows = _entity_value(self.query(f"{statement} startposition {start} maxresults {page_size}"),
                                 entity) or []
            if rows:
                yield rows
            if len(rows) < page_size:
                return
            start += len(rows)

    def count(self, entity: str, where: str = "") -> int | None:
        """QBO's `select count(*)`: the answer's `totalCount`, or None when it carries no whole number (a caller
        that decides on the count then takes the cautious way)."""
        response = self.query(f"select count(*) from {entity}{_where(where)}")
        total = response.get("totalCount")
        if isinstance(total, bool) or not isinstance(total, int | str):
            return None
        try:
            return int(total) if int(total) >= 0 else None
        except ValueError:
            return None

    def cdc(self, entities: list[str], changed_since: dt.datetime) -> dict[str, list[dict]]:
        """Objects of `entities` changed since then (deleted ones carry `status: Deleted`)."""
        if not entities:
            return {}
        body = self._call("query", "GET", "/cdc", params={"entities": ",".join(entities),
                                                          "changedSince": _format_since(changed_since)})
        result: dict[str, list[dict]] = {name: [] for name in entities}
        for cdc in body.get("CDCResponse") or []:
            for qr in cdc.get("QueryResponse") or []:
                if not isinstance(qr, dict):
                    continue
                for key, rows in qr.items():
                    if key.lower() in _QUERY_RESPONSE_META or not isinstance(rows, list):
                        continue
                    name = next((e for e in entities if e.lower() == key.lower()), key)
                    result.setdefault(name, []).extend(rows)
        return result

    # ---- writes
    def create(self, entity: str, payload: dict, *, requestid: str | None = None) -> dict:
        body = self._call("single", "POST", f"/{entity.lower()}", params=_requestid(requestid), json=payload)
        return _entity_value(body, entity) or {}

    def update(self, entity: str, payload: dict, *, requestid: str | None = None, sparse: bool = True) -> dict:
        _require_id_and_synctoken(entity, payload)
        payload = {**payload, "sparse": True} if sparse else dict(payload)
        body = self._call("single", "POST", f"/{entity.lower()}", params=_requestid(requestid), json=payload)
        return _entity_value(body, entity) or {}

    def batch(self, items: list[BatchItem], *, requestid: str | None = None) -> list[BatchResult]:
        """Up to QBO_BATCH_SIZE operations in one request; per-item faults come back, never raised."""
        request_items = self._batch_request(items)
        if not items:
            return []
        if self._spill_to_single_requests(items):
            return self._one_by_one(items, requestid)
        call = self._batch_call(request_items, requestid)
        token = self.tokens.access_token()
        return self._batch_results(items, self._answer(call, token, self._send(token, call)))

    def batch_send(self, items: list[BatchItem], *, requestid: str | None = None) -> SentBatch:
        """`batch`, with its HTTP exchange on this client's helper thread: the caller goes on with other work
        (its database writes) and takes the answers with `SentBatch.result()`. Everything else stays on the
        calling thread: the access token is taken here, a 401 is renewed and the batch sent again (same
        requestid) in `result()`, the outbound call log is told there, and a spill to single requests is
        sent here at once. The context ids (run, request id, tenant, step) go with the request."""
        request_items = self._batch_request(items)
        try:
            if not items or self._spill_to_single_requests(items):
                return SentBatch(self, items, done=self._one_by_one(items, requestid) if items else [])
            call = self._batch_call(request_items, requestid)
            token = self.tokens.access_token()
        except Exception as e:   # noqa: BLE001 - raised where the answers are taken, as `batch` would raise it
            return SentBatch(self, items, error=e)
        with self._unsent_lock:
            self._unsent += 1
        return SentBatch(self, items, call=call, token=token,
                         exchange=self._batches.start(self._send_queued, token, call))

    def _send_queued(self, token: str, call: _Call) -> requests.Response:
        with self._unsent_lock:
            self._unsent -= 1
        return self._send(token, call)

    def _helper(self) -> ThreadPoolExecutor:
        return self._batches.executor()

    @staticmethod
    def _batch_request(items: list[BatchItem]) -> list[dict]:
        """The `BatchItemRequest` of `items`; ValueError for a batch QBO would refuse, before anything is sent."""
        limit = int(getattr(settings, "QBO_BATCH_SIZE", 30))
        if len(items) > limit:
            raise ValueError(f"a batch holds at most {limit} items, not {len(items)}")
        bids = [item.bid for item in items]
        if len(set(bids)) != len(bids):
            raise ValueError("batch bIds must be unique within a batch")
        return [item.as_request() for item in items]

    def _batch_call(self, request_items: list[dict], requestid: str | None) -> _Call:
        return self._prepare("batch", "POST", "/batch", params=_requestid(requestid, MAX_BATCH_REQUESTID_CHARS),
                             json={"BatchItemRequest": request_items})

    def _batch_results(self, items: list[BatchItem], body: dict) -> list[BatchResult]:
        answers = {str(a.get("bId")): a for a in body.get("BatchItemResponse") or [] if isinstance(a, dict)}
        tid = self.last_intuit_tid
        return [self._batch_result(item, answers.get(item.bid), tid) for item in items]

    def _spill_to_single_requests(self, items: list[BatchItem]) -> bool:
        """QBO caps batches (40 a minute) well below requests (500 a minute): when the realm's batch
        window is spent but its request window is not, the writes go one request each instead of
        waiting for a batch slot, so a long sync uses the whole request budget."""
        limiter = getattr(self.http, "limiter", None)
        if limiter is None or not getattr(settings, "QBO_SPILL_TO_SINGLE_REQUESTS", True):
            return False
        if any(item.operation not in ("create", "update") for item in items):
            return False
        unsent = self._unsent     # batches handed to the helper thread and not sent yet: their requests come first
        return not limiter.batch_budget_left(ahead=unsent) and limiter.request_budget_left(len(items) + unsent)

    def _one_by_one(self, items: list[BatchItem], requestid: str | None) -> list[BatchResult]:
        results = []
        for item in items:
            # Each write keeps a deterministic requestid of its own (batch requestid + bId, <= 47 chars).
            item_requestid = f"{requestid}-{item.bid}" if requestid else None
            try:
                if item.operation == "create":
                    entity = self.create(item.entity, item.payload, requestid=item_requestid)
                else:
                    entity = self.update(item.entity, item.payload, requestid=item_requestid, sparse=item.sparse)
            except QboFault as fault:
                results.append(BatchResult(item.bid, fault=fault))
            else:
                results.append(BatchResult(item.bid, entity=entity))
        return results

    @staticmethod
    def _batch_result(item: BatchItem, answer: dict | None, tid: str | None) -> BatchResult:
        if answer is None:
            return BatchResult(item.bid, fault=QboFault("QuickBooks Online gave no answer for this batch item",
                                                        intuit_tid=tid, transient=True))
        fault = answer.get("Fault") or answer.get("fault")
        if isinstance(fault, dict):
            return BatchResult(item.bid, fault=fault_from_dict(fault, intuit_tid=tid))
        if item.operation == "query":
            return BatchResult(item.bid, query_response=answer.get("QueryResponse") or {})
        entity = _entity_value(answer, item.entity)
        if entity is None:   # QBO names the entity as it likes: take the one object in the answer
            entity = next((v for k, v in answer.items() if k != "bId" and isinstance(v, dict)), None)
        return BatchResult(item.bid, entity=entity)


def _where(where: str) -> str:
    where = (where or "").strip()
    if where[:6].lower() == "where ":
        where = where[6:].strip()
    return f" where {where}" if where else ""


def _requestid(requestid: str | None, limit: int = MAX_REQUESTID_CHARS) -> dict:
    """The `requestid` parameter; one is made up when none is given, so a retried write is done only once."""
    if requestid is None:
        return {"requestid": uuid.uuid4().hex}
    if not requestid or len(requestid) > limit:
        raise ValueError(f"requestid must be 1 to {limit} characters")
    return {"requestid": requestid}


def _tid_note(tid: str | None) -> str:
    return f" (intuit_tid {tid})" if tid else ""


__all__ = ["BatchItem", "BatchResult", "QboClient", "SentBatch", "escape_query_value", "fault_from_dict",
           "fault_from_response", "fault_from_xml", "read_qbo_error"]

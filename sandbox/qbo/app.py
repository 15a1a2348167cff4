"""The QuickBooks Online sandbox: OAuth, the Accounting API under /v3/company/{realm}/, limits, webhooks.

`QboApp` is a `sandbox.common.http.SandboxApp`; run it with `SandboxServer(QboApp()).start()`.
In-process control (tests, the demo) goes through the methods below; the same is offered over HTTP
under `/_sandbox/` (see `control`).
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any

from sandbox.common.http import Request, Response

from . import faults as F
from .faults import QboFault
from .oauth import OAuthServer, TokenSettings
from .query import QueryError, parse, parse_time
from .store import BY_LOWER, ENTITIES, REQUESTID_CACHE_SIZE, TXNS, Limits, Realm, Rec, WebhookConfig
from .webhooks import WebhookSender

DEFAULT_REALM = "9130355000000001"
MIN_MINOR_VERSION = 75
MAX_BATCH_ITEMS = 30
CDC_MAX_DAYS = 30
CDC_MAX_ROWS = 1000
PREFERENCES = "Preferences"      # CDC answers the company's preferences too (one object, when they changed)
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
LOAD_ORDER = ("Term", "Account", "Department", "Class", "Vendor", "Customer", "Employee")
REF_TARGETS = {"APAccountRef": "Account", "AccountRef": "Account", "ExpenseAccountRef": "Account",
               "TermRef": "Term", "SalesTermRef": "Term", "DepartmentRef": "Department", "ClassRef": "Class",
               "VendorRef": "Vendor", "CustomerRef": "Customer"}
STARTER_ACCOUNTS = ({"Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable"},
                    {"Name": "Uncategorized Expense", "AccountType": "Expense"},
                    {"Name": "Checking", "AccountType": "Bank", "AcctNum": "1000"})
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def _b(obj: Any) -> bytes:
    return _dumps(obj).encode("utf-8")


class QboApp:
    name = "qbo"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.clock_offset = 0.0
        # Entities CDC answers "Unknown entity" for, as a QuickBooks that does not take them there would
        # (QuickBooks itself takes Preferences): empty by default, set by tests.
        self.cdc_refuses: set[str] = set()
        self.realms: dict[str, Realm] = {}
        self.default_realm_id = DEFAULT_REALM
        self.default_limits = Limits()
        self.oauth = OAuthServer(lambda: self.default_realm_id, lambda r: r in self.realms, clock=self.now)
        self.webhooks = WebhookSender()
        self.server = None
        self.reset(None)

    # ================================================================== SandboxApp protocol
    def now(self) -> float:
        return time.time() + self.clock_offset

    def attach(self, server) -> None:
        self.server = server

    def close(self) -> None:
        self.webhooks.stop()

    def reset(self, dataset: Any) -> None:
        """Drop every realm and load `dataset.qbo` (a sandbox.datagen Dataset) into the default realm;
        None gives an empty company with a starter chart of accounts. OAuth grants survive; token
        settings, limits and webhooks go back to their defaults."""
        with self._lock:
            self.realms = {}
            self.clock_offset = 0.0
            self.cdc_refuses = set()
            self.oauth.settings = TokenSettings()
            self.webhooks.clear()
            self.default_limits = Limits()
            self.load_warnings: list[str] = []
            qbo = getattr(dataset, "qbo", None) if dataset is not None else None
            company = (qbo or {}).get("CompanyInfo") or {}
            realm = self.create_realm(DEFAULT_REALM, company_name=company.get("CompanyName"),
                                      starter_accounts=not qbo)
            if qbo:
                self._load(realm, qbo)

    def throttle_response(self, retry_after: int | None) -> Response:
        realm = self.realms.get(self.default_realm_id)
        t = realm.fmt_ms(self.now()) if realm else ""
        return Response.text(429, F.throttle_xml(t), content_type="application/xml",
                             headers={"intuit_tid": _tid()})

    def error_response(self, status: int) -> Response:
        if status == 500:
            return Response.json(500, {"Fault": {"Error": [{
                "Message": "An application error has occurred while processing your request",
                "Detail": "System Failure Error: An unexpected error occurred while accessing or saving your "
                          "data. Please wait a few minutes and try again.", "code": "10000", "element": ""}],
                "type": "SystemFault"}}, headers={"intuit_tid": _tid()})
        return Response.text(status, f"<html><body><h1>{status} Service Unavailable</h1></body></html>",
                             content_type="text/html", headers={"intuit_tid": _tid()})

    def handle(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/v3/company/"):
            resp = self._api(req)
        elif path == TOKEN_PATH:
            resp = self.oauth.token(req)
        elif path == AUTHORIZE_PATH:
            resp = self.oauth.authorize(req)
        elif path == REVOKE_PATH:
            resp = self.oauth.revoke(req)
        else:
            resp = Response.json(404, {"fault": {"error": [{"message": "Not Found", "detail": f"No route {path}",
                                                            "code": "404"}], "type": "SERVICE"}})
        resp.headers.setdefault("intuit_tid", _tid())
        return resp

    # ================================================================== the Accounting API
    def _api(self, req: Request) -> Response:
        parts = req.path.split("/")                      # ["", "v3", "company", realm, ...]
        realm_id = parts[3] if len(parts) > 3 else ""
        rest = [p for p in parts[4:] if p]
        denied = self.oauth.authenticate(req, realm_id)
        if denied is not None:
            return denied
        realm = self.realms.get(realm_id)
        if realm is None:
            return Response.json(403, F.forbidden_body(f"Company {realm_id} does not exist in this sandbox"))
        is_batch = rest == ["batch"]
        throttled = self._acquire(realm, is_batch)
        if throttled is not None:
            return throttled
        released = []

        def release() -> None:
            if not released:
                released.append(True)
                with realm.limit_lock:
                    realm.inflight -= 1
        try:
            resp = self._api_in_slot(realm, req, rest, is_batch)
        except BaseException:
            release()
            raise
        resp.on_sent = release                           # the slot is held until the answer is written
        return resp

    def _api_in_slot(self, realm: Realm, req: Request, rest: list[str], is_batch: bool) -> Response:
        try:
            mv = req.arg("minorversion")
            if mv is None or mv == "":
                return self._fault(realm, F.required("minorversion"))
            try:
                ok = int(mv) >= MIN_MINOR_VERSION
            except ValueError:
                ok = False
            if not ok:
                return self._fault(realm, F.invalid(
                    "minorversion", f"minorversion={mv} is not supported: the minimum is {MIN_MINOR_VERSION}"))
            request_id = req.arg("requestid")
            if request_id is not None:
                limit = 36 if is_batch else 50
                if len(request_id) > limit:
                    return self._fault(realm, F.business(
                        f"You cannot enter more than {limit} characters in the request_id field. You tried "
                        f"entering {len(request_id)} characters.", "requestid"))
                with realm.lock:
                    cached = realm.requestids.get(request_id)
                    if cached is not None:
                        return Response(cached[0], cached[1], dict(cached[2]))
                    resp = self._route(realm, req, rest)
                    if resp.status == 200:
                        realm.requestids[request_id] = (resp.status, resp.body, dict(resp.headers))
                        if len(realm.requestids) > REQUESTID_CACHE_SIZE:
                            realm.requestids.popitem(last=False)
                    return resp
            return self._route(realm, req, rest)
        except QboFault as e:
            return self._fault(realm, e)

    def _acquire(self, realm: Realm, is_batch: bool) -> Response | None:
        lim = realm.limits
        now = time.monotonic()
        with realm.limit_lock:
            if lim.concurrent is not None and realm.inflight >= lim.concurrent:
                return self._throttled(realm, "Too many concurrent requests.")
            if lim.requests_per_minute is not None:
                w = realm.window
                while w and w[0] <= now - 60:
                    w.popleft()
                if len(w) >= lim.requests_per_minute:
                    return self._throttled(realm)
            if lim.requests_per_second is not None:
                s = realm.second_window
                while s and s[0] <= now - 1:
                    s.popleft()
                if len(s) >= lim.requests_per_second:
                    return self._throttled(realm)
            if is_batch and lim.batches_per_minute is not None:
                b = realm.batch_window
                while b and b[0] <= now - 60:
                    b.popleft()
                if len(b) >= lim.batches_per_minute:
                    return self._throttled(realm)
                b.append(now)
            if lim.requests_per_minute is not None:
                realm.window.append(now)
            if lim.requests_per_second is not None:
                realm.second_window.append(now)
            realm.inflight += 1
        return None

    def _throttled(self, realm: Realm, detail: str = "The request limit was reached.") -> Response:
        return Response.text(429, F.throttle_xml(realm.fmt_ms(self.now()), detail), content_type="application/xml")

    def _fault(self, realm: Realm, fault: QboFault) -> Response:
        return Response.json(fault.status, {"Fault": fault.body(), "time": realm.fmt_ms(self.now())})

    def _entity_response(self, realm: Realm, entity: str, rec_json: bytes) -> Response:
        body = b'{"' + entity.encode() + b'":' + rec_json + b',"time":"' + realm.fmt_ms(self.now()).encode() + b'"}'
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    def _route(self, realm: Realm, req: Request, rest: list[str]) -> Response:
        if not rest:
            raise F.invalid("path", "No resource named in the URL")
        head = rest[0].lower()
        if head == "query" and len(rest) == 1:
            if req.method == "GET":
                text = req.arg("query")
            elif req.method == "POST":
                text = req.body.decode("utf-8", "replace") if req.body else req.arg("query")
            else:
                raise F.invalid("method", "query accepts GET and POST")
            if not text:
                raise F.required("query")
            return self._query(realm, text)
        if head == "batch" and len(rest) == 1:
            if req.method != "POST":
                raise F.invalid("method", "batch accepts POST only")
            return self._batch(realm, req)
        if head == "cdc" and len(rest) == 1:
            return self._cdc(realm, req)
        if head == "preferences" and len(rest) == 1:
            return Response.json(200, {"Preferences": self._preferences(realm), "time": realm.fmt_ms(self.now())})
        entity = BY_LOWER.get(head)
        if entity is None:
            raise QboFault("2010", "Unsupported Operation", f"Operation {'/'.join(rest)} is not supported.",
                           status=400)
        if len(rest) == 2:
            if req.method != "GET":
                raise F.invalid("method", f"use GET to read a {entity}")
            obj_id = "1" if entity == "CompanyInfo" and rest[1] == realm.id else rest[1]
            with realm.lock:
                rec = realm.read(entity, obj_id)
                data = rec.json()
            return self._entity_response(realm, entity, data)
        if len(rest) != 1 or req.method != "POST":
            raise F.invalid("method", f"use POST to write a {entity}")
        try:
            payload = req.json()
        except ValueError as e:
            raise QboFault("2010", "Request has invalid or unsupported property",
                           f"Could not parse the request body as JSON: {e}", "body")
        if not isinstance(payload, dict):
            raise F.invalid("body", "The request body must be a JSON object")
        if entity in payload and isinstance(payload[entity], dict) and len(payload) == 1:
            payload = payload[entity]                   # {"Vendor": {...}} is accepted too
        options = _options(req.arg("include"))
        operation = (req.arg("operation") or "").lower()
        with realm.lock:
            if operation == "delete":
                out = realm.delete(entity, payload)
                return Response.json(200, {entity: out, "time": realm.fmt_ms(self.now())})
            if operation == "update" or (operation in ("", "create") and payload.get("Id") not in (None, "", 0, "0")):
                rec = realm.update(entity, payload, options)
            elif operation in ("", "create"):
                rec = realm.create(entity, payload, options)
            else:
                raise F.invalid("operation", f"Unknown operation {operation}")
            data = rec.json()
        return self._entity_response(realm, entity, data)

    # ---- query
    def _query_bytes(self, realm: Realm, text: str) -> bytes:
        """The QueryResponse member of an answer, as JSON bytes (under realm.lock)."""
        try:
            q = parse(text)
            entity, result = realm.query(q)
        except QueryError as e:
            raise QboFault(e.code, "Error parsing query" if e.code == "4000" else "Invalid query", e.detail)
        if isinstance(result, int):
            return b'{"totalCount":' + str(result).encode() + b"}"
        if not result:
            return b"{}"
        return (b'{"' + entity.encode() + b'":[' + b",".join(r.json() for r in result) + b'],"startPosition":'
                + str(q.start).encode() + b',"maxResults":' + str(len(result)).encode() + b"}")

    def _query(self, realm: Realm, text: str) -> Response:
        with realm.lock:
            qr = self._query_bytes(realm, text)
        body = b'{"QueryResponse":' + qr + b',"time":"' + realm.fmt_ms(self.now()).encode() + b'"}'
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    # ---- batch
    def _batch(self, realm: Realm, req: Request) -> Response:
        try:
            body = req.json()
        except ValueError as e:
            raise F.invalid("body", f"Could not parse the request body as JSON: {e}")
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise F.required("BatchItemRequest")
        if len(items) > MAX_BATCH_ITEMS:
            raise F.business(f"The maximum number of payloads in a single BatchItemRequest is {MAX_BATCH_ITEMS}; "
                             f"this one has {len(items)}. Nothing was processed.", "BatchItemRequest")
        seen = set()
        for item in items:
            bid = item.get("bId") if isinstance(item, dict) else None
            if not bid:
                raise F.required("BatchItemRequest.bId")
            if req.arg("requestid") is not None and len(str(bid)) > 10:
                raise F.business("With a requestid, each bId may have at most 10 characters.", "bId")
            if bid in seen:
                raise F.business(f"bId {bid} is used twice in one batch.", "bId")
            seen.add(bid)
        options = _options(req.arg("include"))
        out = []
        with realm.lock:
            for item in items:
                out.append(self._batch_item(realm, item, options))
        tail = b'],"time":"' + realm.fmt_ms(self.now()).encode() + b'"}'
        # a batch of queries only writes nothing: the request log says so (tests count writes from it)
        return Response(200, b'{"BatchItemResponse":[' + b",".join(out) + tail,
                        {"Content-Type": "application/json;charset=UTF-8"},
                        log_note="reads" if all("Query" in item for item in items) else "")

    def _batch_item(self, realm: Realm, item: dict, options: set[str]) -> bytes:
        bid = _b(str(item["bId"]))
        try:
            if "Query" in item:
                return b'{"bId":' + bid + b',"QueryResponse":' + self._query_bytes(realm, str(item["Query"])) + b"}"
            keys = [k for k in item if k not in ("bId", "operation", "optionsData")]
            if len(keys) != 1 or BY_LOWER.get(keys[0].lower()) is None or not isinstance(item[keys[0]], dict):
                raise F.invalid("BatchItemRequest", "Each item needs exactly one entity object or a Query")
            entity = BY_LOWER[keys[0].lower()]
            payload = item[keys[0]]
            op = (item.get("operation") or "create").lower()
            if op == "create":
                rec = realm.create(entity, payload, options)
            elif op == "update":
                rec = realm.update(entity, payload, options)
            elif op == "delete":
                return b'{"bId":' + bid + b',"' + entity.encode() + b'":' + _b(realm.delete(entity, payload)) + b"}"
            else:
                raise F.invalid("operation", f"Unknown batch operation {op}")
            return b'{"bId":' + bid + b',"' + entity.encode() + b'":' + rec.json() + b"}"
        except QboFault as e:
            return b'{"bId":' + bid + b',"Fault":' + _b(e.body()) + b"}"

    # ---- change data capture
    def _cdc(self, realm: Realm, req: Request) -> Response:
        names = req.arg("entities")
        since_text = req.arg("changedSince")
        if not names:
            raise F.required("entities")
        if not since_text:
            raise F.required("changedSince")
        try:
            since = parse_time(since_text, realm.tz)
        except QueryError:
            raise F.invalid("changedSince", f"changedSince is not a date-time: {since_text}")
        if since < self.now() - CDC_MAX_DAYS * 86400:
            raise F.invalid("changedSince", f"changedSince may be at most {CDC_MAX_DAYS} days in the past")
        entities = []
        for name in names.split(","):
            entity = PREFERENCES if name.strip().lower() == PREFERENCES.lower() else BY_LOWER.get(name.strip().lower())
            if entity is None or entity == "CompanyInfo" or entity in self.cdc_refuses:
                raise F.invalid("entities", f"Unknown entity {name.strip()}")
            entities.append(entity)
        parts = []
        with realm.lock:
            for entity in entities:
                if entity == PREFERENCES:      # one object, not a list: in the answer when changed since then
                    if int(realm.preferences_updated) >= int(since):
                        parts.append(b'{"Preferences":[' + _b(self._preferences(realm))
                                     + b'],"startPosition":1,"maxResults":1}')
                    else:
                        parts.append(b"{}")
                    continue
                rows = realm.changed_since(entity, since, CDC_MAX_ROWS)
                if rows:
                    parts.append(b'{"' + entity.encode() + b'":[' + b",".join(r.json() for r in rows)
                                 + b'],"startPosition":1,"maxResults":' + str(len(rows)).encode() + b"}")
                else:
                    parts.append(b"{}")
        body = (b'{"CDCResponse":[{"QueryResponse":[' + b",".join(parts) + b"]}],\"time\":\""
                + realm.fmt_ms(self.now()).encode() + b'"}')
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    def _preferences(self, realm: Realm) -> dict:
        stamp = realm.fmt(realm.preferences_updated)
        return {"Id": "1", "SyncToken": "0", "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
                "CurrencyPrefs": {"MultiCurrencyEnabled": realm.multicurrency,
                                  "HomeCurrency": {"value": realm.home_currency}},
                "AccountingInfoPrefs": {"UseAccountNumbers": True, "ClassTrackingPerTxnLine": True,
                                        "TrackDepartments": True, "DepartmentTerminology": "Location"},
                "VendorAndPurchasesPrefs": {"POCustomField": [], "TrackingByCustomer": False,
                                            "BillableExpenseTracking": False},
                "domain": "QBO", "sparse": False}

    # ================================================================== realms and dataset loading
    def realm(self, realm_id: str | None = None) -> Realm:
        rid = realm_id or self.default_realm_id
        realm = self.realms.get(rid)
        if realm is None:
            raise KeyError(f"no realm {rid}")
        return realm

    def create_realm(self, realm_id: str | None = None, company_name: str | None = None,
                     multicurrency: bool = False, limits: dict | None = None,
                     starter_accounts: bool = True) -> Realm:
        with self._lock:
            if realm_id is None:
                n = int(DEFAULT_REALM)
                while str(n) in self.realms:
                    n += 1
                realm_id = str(n)
            realm_id = str(realm_id)
            if realm_id in self.realms:
                raise ValueError(f"realm {realm_id} exists")
            lim = Limits(**vars(self.default_limits))
            realm = Realm(realm_id, company_name=company_name or "ML Sandbox Manufacturing Co.",
                          multicurrency=multicurrency, limits=lim, clock=self.now, on_change=self._on_change)
            if limits:
                self._apply_limits(realm, limits)
            if starter_accounts:
                for acct in STARTER_ACCOUNTS:
                    realm.create("Account", dict(acct))
            self.realms[realm_id] = realm
            return realm

    def create_realm_from_dataset(self, realm_id: str | None, spec: Any, limits: dict | None = None) -> Realm:
        """A new realm holding a generated dataset's company: `spec` is a dataset name or
        {"name", "seed", "scale"} (sandbox.datagen)."""
        from sandbox.datagen import load_dataset

        spec = {"name": spec} if isinstance(spec, str) else dict(spec or {})
        unknown = set(spec) - {"name", "seed", "scale"}
        if unknown or not spec.get("name"):
            raise ValueError("dataset needs a name (and may have seed and scale), not " + ", ".join(sorted(unknown)))
        data = load_dataset(str(spec["name"]), int(spec.get("seed", 42)), float(spec.get("scale", 1)))
        qbo = getattr(data, "qbo", None) or {}
        company = qbo.get("CompanyInfo") or {}
        realm = self.create_realm(realm_id, company_name=company.get("CompanyName"), limits=limits,
                                  starter_accounts=not qbo)
        if qbo:
            self._load(realm, qbo)
        return realm

    def _load(self, realm: Realm, qbo: dict) -> None:
        info = dict(qbo.get("CompanyInfo") or {})
        with realm.lock:
            if "MultiCurrencyEnabled" in info:                  # preferences in QBO, not CompanyInfo fields
                realm.multicurrency = bool(info.pop("MultiCurrencyEnabled"))
            home = info.pop("HomeCurrency", None)
            if home:
                realm.home_currency = str(home.get("value") if isinstance(home, dict) else home).upper()
            realm.touch_preferences()
            if info:
                rec = realm.recs["CompanyInfo"]["1"]
                data = {k: v for k, v in rec.data.items() if k not in ("Id", "SyncToken", "MetaData", "domain",
                                                                        "sparse")}
                data.update(json.loads(json.dumps(info)))
                rec.data.update(data)
                rec.touch()
            for entity in LOAD_ORDER:
                pending = [json.loads(json.dumps(x)) for x in qbo.get(entity) or []]
                while pending:
                    deferred = []
                    for item in pending:
                        if not self._resolve_names(realm, entity, item):
                            deferred.append(item)
                            continue
                        try:
                            realm.create(entity, item)
                        except QboFault as e:
                            raise ValueError(f"dataset {entity} {item.get('DisplayName') or item.get('Name')!r} "
                                             f"is not valid QBO data: {e}") from e
                    if len(deferred) == len(pending):
                        # names that match nothing in the dataset: load without them and say so
                        for item in deferred:
                            self._resolve_names(realm, entity, item, drop_missing=True)
                            realm.create(entity, item)
                        break
                    pending = deferred

    def _resolve_names(self, realm: Realm, entity: str, obj: Any, drop_missing: bool = False) -> bool:
        """Turn {"name": X} refs into {"value": id}; False when a target is not loaded yet.
        With `drop_missing`, a ref to a name the dataset lacks is removed and noted in `load_warnings`."""
        if isinstance(obj, list):
            return all([self._resolve_names(realm, entity, x, drop_missing) for x in obj])
        if not isinstance(obj, dict):
            return True
        ok = True
        for key, value in list(obj.items()):
            if key.endswith("Ref") and isinstance(value, dict) and value.get("name") and not value.get("value"):
                target = entity if key == "ParentRef" else REF_TARGETS.get(key)
                if target is None:
                    continue
                found = self._find_by_name(realm, target, value["name"])
                if found is not None:
                    value["value"] = found
                elif drop_missing:
                    del obj[key]
                    self.load_warnings.append(f"{entity} {obj.get('DisplayName') or obj.get('Name')!r}: "
                                              f"{key} names {target} {value['name']!r}, which the dataset "
                                              "lacks; loaded without it")
                else:
                    ok = False
            elif isinstance(value, (dict, list)) and not self._resolve_names(realm, entity, value, drop_missing):
                ok = False
        return ok

    @staticmethod
    def _find_by_name(realm: Realm, entity: str, name: str) -> str | None:
        key = str(name).casefold()
        if entity in ("Vendor", "Customer", "Employee"):
            hit = realm.person_names.get(key)
            return hit[1] if hit and hit[0] == entity else None
        hit = realm.list_names.get(entity, {}).get(key)
        if hit:
            return hit
        for rec in realm.recs[entity].values():                   # a leaf name instead of the full name
            if str(rec.data.get("Name", "")).casefold() == key:
                return rec.data["Id"]
        return None

    # ================================================================== in-process control
    def set_limits(self, realm_id: str | None = None, **limits: Any) -> dict:
        """requests_per_minute / concurrent / batches_per_minute; None means unlimited.
        realm_id "*" changes every realm and the default for realms made later."""
        with self._lock:
            if realm_id == "*":
                self._apply_limits_obj(self.default_limits, limits)
                for realm in self.realms.values():
                    self._apply_limits(realm, limits)
                return vars(self.default_limits)
            realm = self.realm(realm_id)
            self._apply_limits(realm, limits)
            return vars(realm.limits)

    def _apply_limits(self, realm: Realm, limits: dict) -> None:
        with realm.limit_lock:
            self._apply_limits_obj(realm.limits, limits)

    @staticmethod
    def _apply_limits_obj(target: Limits, limits: dict) -> None:
        for k, v in limits.items():
            if not hasattr(target, k):
                raise ValueError(f"unknown limit {k}")
            setattr(target, k, None if v is None else int(v))

    def set_multicurrency(self, on: bool, realm_id: str | None = None, home_currency: str | None = None) -> None:
        realm = self.realm(realm_id)
        with realm.lock:
            realm.multicurrency = bool(on)
            if home_currency:
                realm.home_currency = home_currency.upper()
            realm.touch_preferences()

    def set_token_settings(self, **settings: Any) -> dict:
        """access_lifetime, refresh_lifetime, hard_lifetime, refresh_grace (seconds), code_lifetime."""
        return vars(self.oauth.configure(**settings))

    def issue_tokens(self, realm_id: str | None = None, access_lifetime: float | None = None) -> dict:
        return self.oauth.issue_tokens(realm_id or self.default_realm_id, access_lifetime=access_lifetime)

    def expire_tokens(self, realm_id: str | None = None, refresh: bool = False) -> dict:
        out = {"access_tokens": self.oauth.expire_access_tokens(realm_id)}
        if refresh:
            out["grants"] = self.oauth.expire_refresh_tokens(realm_id)
        return out

    def mark_bill_paid(self, bill_id: str, realm_id: str | None = None, amount: Any = None) -> dict:
        realm = self.realm(realm_id)
        with realm.lock:
            return realm.mark_paid(str(bill_id), amount).data

    def edit(self, entity: str, obj_id: str, fields: dict, realm_id: str | None = None) -> dict:
        """Change an object's fields as a person would in QuickBooks (a bill's amount or date, a PO's status, a
        vendor's name), without the API's validation."""
        if not isinstance(fields, dict) or not fields:
            raise ValueError("fields must be a non-empty object")
        realm = self.realm(realm_id)
        entity = _entity(entity)
        with realm.lock:
            return json.loads(realm.edit(entity, str(obj_id), fields).json())

    def deactivate(self, entity: str, obj_id: str, realm_id: str | None = None, active: bool = False) -> dict:
        realm = self.realm(realm_id)
        entity = _entity(entity)
        with realm.lock:
            return realm.set_active(entity, str(obj_id), active).data

    def delete_entity(self, entity: str, obj_id: str, realm_id: str | None = None) -> dict:
        realm = self.realm(realm_id)
        entity = _entity(entity)
        with realm.lock:
            return realm.delete(entity, {"Id": str(obj_id)}, force=True)

    def create(self, entity: str, payload: dict, realm_id: str | None = None) -> dict:
        """Create an object directly (no HTTP, no limits), e.g. to arrange a test."""
        realm = self.realm(realm_id)
        with realm.lock:
            return json.loads(realm.create(_entity(entity), payload).json())

    def state(self, entity: str, realm_id: str | None = None, include_deleted: bool = False) -> list[dict]:
        """Every object of a type, inactive ones included, in Id order (copies)."""
        realm = self.realm(realm_id)
        entity = _entity(entity)
        with realm.lock:
            rows = [json.loads(r.json()) for r in realm.recs[entity].values()]
            if include_deleted:
                rows += [json.loads(r.json()) for r in realm.deleted[entity].values()]
        return rows

    def find(self, entity: str, realm_id: str | None = None, **fields: Any) -> list[dict]:
        """Objects whose fields equal the given values (strings compared case-insensitively)."""
        def same(a, b):
            if isinstance(a, str) and isinstance(b, str):
                return a.casefold() == b.casefold()
            return a == b
        return [o for o in self.state(entity, realm_id) if all(same(o.get(k), v) for k, v in fields.items())]

    def configure_webhooks(self, url: str, verifier_token: str, realm_id: str | None = None,
                           format: str = "classic", entities: Iterable[str] | None = None,  # noqa: A002
                           delay: float = 0.05) -> None:
        if format not in ("classic", "cloudevents"):
            raise ValueError("format must be classic or cloudevents")
        realm = self.realm(realm_id)
        ents = tuple(_entity(e) for e in entities) if entities else ("Vendor", "Account", "Department")
        realm.webhook = WebhookConfig(url, verifier_token, format, ents, float(delay))

    def disable_webhooks(self, realm_id: str | None = None) -> None:
        self.realm(realm_id).webhook = None

    def webhook_deliveries(self) -> list[dict]:
        return list(self.webhooks.deliveries)

    def _on_change(self, realm: Realm, entity: str, obj_id: str, operation: str, when: float) -> None:
        if realm.webhook is not None:
            self.webhooks.notify(realm.id, realm.webhook, entity, obj_id, operation, realm.fmt(when), when)

    # ================================================================== control over HTTP
    def control(self, req: Request, subpath: str) -> Response:
        parts = [p for p in subpath.split("/") if p]
        body: dict = {}
        if req.body:
            body = req.json()
            if not isinstance(body, dict):
                raise ValueError("the control body must be a JSON object")
        rid = body.pop("realm_id", None) or req.arg("realm_id")
        m = req.method
        if parts == ["realms"]:
            if m == "GET":
                return Response.json(200, {"realms": [self._realm_info(r) for r in self.realms.values()],
                                           "default": self.default_realm_id})
            if m == "POST":
                if body.get("dataset"):
                    realm = self.create_realm_from_dataset(rid, body["dataset"], limits=body.get("limits"))
                else:
                    realm = self.create_realm(rid, company_name=body.get("company_name"),
                                              multicurrency=bool(body.get("multicurrency", False)),
                                              limits=body.get("limits"),
                                              starter_accounts=bool(body.get("starter_accounts", True)))
                return Response.json(201, self._realm_info(realm))
        elif parts == ["limits"] and m == "POST":
            return Response.json(200, {"limits": self.set_limits(rid, **body)})
        elif parts == ["settings"] and m == "POST":
            self.set_multicurrency(body.get("multicurrency", False), rid, body.get("home_currency"))
            return Response.json(200, self._realm_info(self.realm(rid)))
        elif parts == ["tokens", "settings"] and m == "POST":
            return Response.json(200, {"settings": self.set_token_settings(**body)})
        elif parts == ["tokens", "expire"] and m == "POST":
            return Response.json(200, self.expire_tokens(rid, refresh=bool(body.get("refresh", False))))
        elif parts == ["tokens", "issue"] and m == "POST":
            return Response.json(200, self.issue_tokens(rid, access_lifetime=body.get("access_lifetime")))
        elif len(parts) == 3 and parts[0].lower() == "bill" and parts[2] == "paid" and m == "POST":
            return Response.json(200, self.mark_bill_paid(parts[1], rid, body.get("amount")))
        elif len(parts) == 3 and parts[2] == "edit" and m == "POST":
            return Response.json(200, self.edit(parts[0], parts[1], body.get("fields"), rid))
        elif len(parts) == 1 and parts[0].lower() in BY_LOWER and m == "POST":
            return Response.json(201, self.create(parts[0], body, rid))
        elif len(parts) == 3 and parts[2] in ("deactivate", "activate") and m == "POST":
            return Response.json(200, self.deactivate(parts[0], parts[1], rid, active=parts[2] == "activate"))
        elif len(parts) == 2 and parts[0].lower() in BY_LOWER and m == "DELETE":
            return Response.json(200, self.delete_entity(parts[0], parts[1], rid))
        elif len(parts) == 2 and parts[0] == "state" and m == "GET":
            return Response.json(200, {parts[1]: self.state(parts[1], rid,
                                                            include_deleted=req.arg("deleted") == "true")})
        elif parts == ["webhooks"]:
            if m == "POST":
                self.configure_webhooks(body["url"], body["verifier_token"], rid, body.get("format", "classic"),
                                        body.get("entities"), float(body.get("delay", 0.05)))
                return Response.json(200, {"configured": True})
            if m == "DELETE":
                self.disable_webhooks(rid)
                return Response.json(200, {"configured": False})
        elif parts == ["webhooks", "deliveries"] and m == "GET":
            return Response.json(200, {"deliveries": self.webhook_deliveries()})
        elif parts == ["clock"] and m == "POST":
            self.clock_offset = float(body.get("offset_seconds", 0))
            return Response.json(200, {"offset_seconds": self.clock_offset})
        else:
            return Response.json(404, {"error": f"no control route {m} /_sandbox/{subpath}"})
        return Response.json(405, {"error": "method not allowed"})

    def _realm_info(self, realm: Realm) -> dict:
        return {"realm_id": realm.id, "company_name": realm.company_name, "multicurrency": realm.multicurrency,
                "home_currency": realm.home_currency, "limits": vars(realm.limits),
                "counts": {e: len(realm.recs[e]) for e in ENTITIES if e != "CompanyInfo"}}


def _entity(name: str) -> str:
    entity = BY_LOWER.get(str(name).lower())
    if entity is None:
        raise ValueError(f"unknown entity {name}")
    return entity


def _options(include: str | None) -> set[str]:
    return {x.strip().lower() for x in (include or "").split(",") if x.strip()}


def _tid() -> str:
    return "1-" + secrets.token_hex(16)


__all__ = ["QboApp", "DEFAULT_REALM", "TXNS", "Rec"]

"""The JAGGAER sandbox: the J1P REST dialect of ../shared/contracts/jaggaer-j1p.md, served from memory.

Each entity is a table kept sorted by (modification time, id), so a list page with a `LASTMODTIME` filter is
a bisect plus a slice: O(page size), whatever the table size. Records are never changed in place: a mutation
stores a modified copy, so a loaded Dataset can be loaded again. Every mutation stamps the record with the
sandbox's own clock, which starts after the newest loaded record and moves strictly forward (one second per
mutation, or more with `advance_clock`), so tests are deterministic and never depend on the wall clock.
"""
from __future__ import annotations

import base64
import bisect
import collections
import copy
import gc
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, unquote

from sandbox.common.http import Request, Response

DEFAULT_CLIENT_ID = "ml-sandbox-jaggaer"
DEFAULT_CLIENT_SECRET = "ml-sandbox-jaggaer-secret"
DEFAULT_TOKEN_LIFETIME = 300
TOKEN_PATH = "/auth/realms/J1p-integrations/protocol/openid-connect/token"
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 100
EMPTY_CLOCK_START = 1793491200          # 2026-11-01T00:00:00Z, when no data is loaded

RC_OK = 0
RC_INVALID_PARAMETER = 100              # start/size not a positive integer
RC_INVALID_FILTER = 101                 # flt not understood
RC_NOT_FOUND = 404

PO_STATUSES = ("Draft", "Approved", "Issued", "Closed", "Cancelled")
INVOICE_STATUSES = ("InProcess", "Approved", "Rejected", "Paid")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_FILTER = re.compile(r"^\s*([A-Za-z_.]+)\s*(>=|>)\s*(\S+)\s*$")
FILTER_FIELDS = ("LASTMODTIME", "LASTUPDATE")
DEFAULT_PARAMS = {"start": "start", "size": "size", "flt": "flt"}


@dataclass(frozen=True)
class EntitySpec:
    name: str            # the Dataset key, also used by the control API: "suppliers", ...
    path: str            # default list path
    list_key: str        # envelope key of the rows
    id_field: str
    mod_field: str       # lastModTime or lastUpdate


ENTITIES: dict[str, EntitySpec] = {s.name: s for s in (
    EntitySpec("suppliers", "/j1p/api/public/ja/v1/companyprofiles", "returnCompanyData", "companyId", "lastModTime"),
    EntitySpec("purchase_orders", "/j1p/api/public/jp/v1/purchaseorders", "purchaseOrderList", "poId", "lastUpdate"),
    EntitySpec("invoices", "/j1p/api/public/ji/v1/invoices", "invoiceList", "invoiceId", "lastUpdate"),
    EntitySpec("gl_accounts", "/j1p/api/public/ja/v1/glaccounts", "glAccountList", "code", "lastModTime"),
    EntitySpec("departments", "/j1p/api/public/ja/v1/departments", "departmentList", "code", "lastModTime"),
)}


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_utc(value: str) -> datetime:
    """An ISO-8601 timestamp with a zone (Z or an offset); ValueError otherwise."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone: use UTC, e.g. 2026-11-20T00:00:00Z")
    return dt


def _epoch(value: Any) -> int | None:
    try:
        return int(parse_utc(value).timestamp())
    except (TypeError, ValueError):
        return None


class _Table:
    """One entity's records with a (modification epoch, id) index kept sorted."""

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        self.rows: dict[str, dict] = {}
        self.mod: dict[str, int] = {}
        self.keys: list[tuple[int, str]] = []
        self.cache: dict[str, bytes] = {}

    def load(self, rows: list[dict], fallback_epoch: int) -> None:
        id_field, mod_field = self.spec.id_field, self.spec.mod_field
        self.rows, self.mod, self.cache = {}, {}, {}
        for row in rows:
            rid = str(row[id_field])
            e = _epoch(row.get(mod_field))
            if e is None:               # the server always has a modification time; stamp the odd row
                row = dict(row, **{mod_field: iso(fallback_epoch)})
                e = fallback_epoch
            self.rows[rid] = row
            self.mod[rid] = e
        self.keys = sorted((e, rid) for rid, e in self.mod.items())

    def put(self, row: dict, epoch: int) -> None:
        rid = str(row[self.spec.id_field])
        old = self.mod.get(rid)
        if old is not None:
            i = bisect.bisect_left(self.keys, (old, rid))
            del self.keys[i]
        bisect.insort(self.keys, (epoch, rid))
        self.rows[rid] = row
        self.mod[rid] = epoch
        self.cache.pop(rid, None)

    def encoded(self, rid: str) -> bytes:
        data = self.cache.get(rid)
        if data is None:
            data = self.cache[rid] = _dumps(self.rows[rid]).encode("utf-8")
        return data

    def newest(self) -> int | None:
        return self.keys[-1][0] if self.keys else None


class RecordNotFound(KeyError):
    """No record with that id (the control API answers 404)."""


class _ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JaggaerApp:
    """The JAGGAER J1P sandbox (a `SandboxApp`): token endpoint, five list endpoints, single-record GETs."""

    name = "jaggaer"

    def __init__(self, dataset: Any = None, *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
                 max_page_size: int = MAX_PAGE_SIZE, wall_clock=time.time) -> None:
        self._lock = threading.RLock()
        self._wall = wall_clock               # token expiry only; data times come from the sandbox clock
        self._defaults = {"client_id": client_id, "client_secret": client_secret,
                          "token_lifetime": int(token_lifetime), "max_page_size": int(max_page_size)}
        self.reset(dataset)

    # ------------------------------------------------------------------ state
    def reset(self, dataset: Any) -> None:
        """Load a sandbox.datagen Dataset (None: empty) and restore credentials, token lifetime and paths."""
        with self._lock:
            self.client_id = self._defaults["client_id"]
            self._client_secret = self._defaults["client_secret"]
            self.token_lifetime = self._defaults["token_lifetime"]
            self.max_page_size = self._defaults["max_page_size"]
            self.default_page_size = min(DEFAULT_PAGE_SIZE, self.max_page_size)
            self._tokens: dict[str, float] = {}
            self.tables = {name: _Table(spec) for name, spec in ENTITIES.items()}
            self.set_paths({})
            self.params = dict(DEFAULT_PARAMS)
            self.filter_fields = FILTER_FIELDS
            self.rate_limit_per_minute: int | None = None
            self._hits: collections.deque[float] = collections.deque()
            data = getattr(dataset, "jaggaer", None) or {}
            was_enabled = gc.isenabled()
            gc.disable()                      # a big load allocates only live objects: GC passes are waste
            try:
                for name, table in self.tables.items():
                    table.load(data.get(name, []), EMPTY_CLOCK_START)
            finally:
                if was_enabled:
                    gc.enable()
            newest = [t.newest() for t in self.tables.values() if t.newest() is not None]
            self._clock = max(newest) + 60 if newest else EMPTY_CLOCK_START
            self.dataset_name = getattr(dataset, "name", None)

    load = reset

    def set_paths(self, paths: dict[str, str]) -> None:
        """Serve entities at other paths (a tenant whose JAGGAER uses different ones); {} restores the defaults."""
        unknown = set(paths) - set(ENTITIES)
        if unknown:
            raise ValueError(f"unknown entities: {', '.join(sorted(unknown))}")
        with self._lock:
            self.paths = {name: paths.get(name, spec.path).rstrip("/") for name, spec in ENTITIES.items()}
            self._by_path = {p: name for name, p in self.paths.items()}

    def set_params(self, start: str | None = None, size: str | None = None, flt: str | None = None,
                   filter_field: str | None = None) -> None:
        """Rename the paging/filter query parameters, or the filter field, as another JAGGAER instance has them."""
        with self._lock:
            for key, value in (("start", start), ("size", size), ("flt", flt)):
                if value:
                    self.params[key] = value
            if filter_field:
                self.filter_fields = (filter_field.upper(),)

    def set_rate_limit(self, per_minute: int | None) -> None:
        """Answer 429 (with Retry-After) once more than `per_minute` API calls arrive within 60 s; None: no limit."""
        if per_minute is not None and int(per_minute) < 1:
            raise ValueError("per_minute must be at least 1, or null for no limit")
        with self._lock:
            self.rate_limit_per_minute = None if per_minute is None else int(per_minute)
            self._hits.clear()

    def _throttled(self) -> int | None:
        """Seconds to wait when this call is over the rate limit, else None (and the call is counted)."""
        if self.rate_limit_per_minute is None:
            return None
        with self._lock:
            now = self._wall()
            while self._hits and self._hits[0] <= now - 60:
                self._hits.popleft()
            if len(self._hits) >= self.rate_limit_per_minute:
                return max(1, int(self._hits[0] + 60 - now + 0.999))
            self._hits.append(now)
            return None

    def now(self) -> str:
        """The sandbox clock: the modification time the last mutation stamped (or the starting point)."""
        return iso(self._clock)

    def advance_clock(self, seconds: int) -> str:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._clock += int(seconds)
            return iso(self._clock)

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def count(self, entity: str) -> int:
        return len(self._table(entity).rows)

    def _table(self, entity: str) -> _Table:
        try:
            return self.tables[entity]
        except KeyError:
            raise ValueError(f"unknown entity {entity!r}: expected one of {', '.join(ENTITIES)}") from None

    # ------------------------------------------------------------------ tokens and credentials
    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self._wall() + self.token_lifetime
        return token

    def expire_tokens(self) -> int:
        """Revoke every token now (the next API call with one answers 401)."""
        with self._lock:
            n = len(self._tokens)
            self._tokens.clear()
            return n

    def set_token_lifetime(self, seconds: int) -> None:
        if int(seconds) < 0:
            raise ValueError("token lifetime must not be negative")
        self.token_lifetime = int(seconds)

    def set_credentials(self, client_id: str, client_secret: str) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        with self._lock:
            self.client_id, self._client_secret = client_id, client_secret

    def _token_valid(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        expires = self._tokens.get(token.strip())
        if expires is None:
            return False
        if expires <= self._wall():
            self._tokens.pop(token.strip(), None)
            return False
        return True

    # ------------------------------------------------------------------ records (Python control API)
    def get(self, entity: str, record_id: str) -> dict:
        """A copy of one record; KeyError when unknown."""
        with self._lock:
            row = self._table(entity).rows.get(str(record_id))
            if row is None:
                raise RecordNotFound(f"no {entity} record {record_id!r}")
            return copy.deepcopy(row)

    def records(self, entity: str) -> list[dict]:
        """Copies of all records of an entity, in list order (modification time, then id)."""
        with self._lock:
            t = self._table(entity)
            return [copy.deepcopy(t.rows[rid]) for _, rid in t.keys]

    def upsert(self, entity: str, record: dict) -> dict:
        """Insert or replace a whole record (its id field is required); stamps it with the clock."""
        t = self._table(entity)
        if not record.get(t.spec.id_field):
            raise ValueError(f"{entity} records need {t.spec.id_field}")
        row = copy.deepcopy(record)
        with self._lock:
            epoch = self._tick()
            row[t.spec.mod_field] = iso(epoch)
            t.put(row, epoch)
            return copy.deepcopy(row)

    def patch(self, entity: str, record_id: str, changes: dict) -> dict:
        """Change some top-level fields of a record (a None value keeps the key with null); stamps it."""
        t = self._table(entity)
        with self._lock:
            current = t.rows.get(str(record_id))
            if current is None:
                raise RecordNotFound(f"no {entity} record {record_id!r}")
            row = copy.deepcopy(current)
            row.update(copy.deepcopy(changes))
            row[t.spec.id_field] = current[t.spec.id_field]
            epoch = self._tick()
            row[t.spec.mod_field] = iso(epoch)
            t.put(row, epoch)
            return copy.deepcopy(row)

    def add_supplier(self, name: str, **fields: Any) -> dict:
        """A new supplier with the next free C- id (or fields["companyId"])."""
        with self._lock:
            cid = fields.pop("companyId", None) or self._next_id("suppliers", "C-", 10001)
            record = {"companyId": cid, "companyName": name, "doingBusinessAs": None, "erpNumber": None,
                      "active": True, "duns": None, "taxId": None, "currency": "USD", "paymentTerms": "Net 30",
                      "primaryAddress": None, "primaryContact": None}
            record.update(fields)
            return self.upsert("suppliers", record)

    def _next_id(self, entity: str, prefix: str, first: int) -> str:
        numbers = [int(rid[len(prefix):]) for rid in self.tables[entity].rows
                   if rid.startswith(prefix) and rid[len(prefix):].isdigit()]
        return f"{prefix}{max(numbers, default=first - 1) + 1}"

    def rename_supplier(self, company_id: str, new_name: str) -> dict:
        """Rename a supplier; its existing POs and invoices keep the name they were raised under."""
        return self.patch("suppliers", company_id, {"companyName": new_name})

    def set_po_status(self, po_id: str, status: str) -> dict:
        if status not in PO_STATUSES:
            raise ValueError(f"PO status must be one of {', '.join(PO_STATUSES)}")
        return self.patch("purchase_orders", po_id, {"status": status})

    def approve_po(self, po_id: str) -> dict:
        return self.set_po_status(po_id, "Approved")

    def cancel_po(self, po_id: str) -> dict:
        return self.set_po_status(po_id, "Cancelled")

    def set_po_lines(self, po_id: str, lines: list[dict]) -> dict:
        """Replace a PO's lines; missing line numbers and amounts are filled in and the total recomputed."""
        with self._lock:
            po = self._table("purchase_orders").rows.get(str(po_id))
            if po is None:
                raise RecordNotFound(f"no purchase_orders record {po_id!r}")
            new_lines, total = [], Decimal("0.00")
            for n, line in enumerate(lines, 1):
                line = copy.deepcopy(line)
                line.setdefault("lineNumber", n)
                line.setdefault("accountingSegments", dict(po.get("accountingSegments") or {}))
                try:
                    if "amount" not in line:
                        line["amount"] = str(Decimal(str(line["quantity"])) * Decimal(str(line["unitPrice"])))
                    total += Decimal(str(line["amount"]))
                except (KeyError, InvalidOperation) as e:
                    raise ValueError(f"line {n} needs a decimal amount, or quantity and unitPrice: {e}") from None
                new_lines.append(line)
            currency = po.get("currency") or "USD"
            return self.patch("purchase_orders", po_id,
                              {"lineList": new_lines, "total": {"currency": currency, "value": str(total)}})

    def set_invoice_status(self, invoice_id: str, status: str) -> dict:
        if status not in INVOICE_STATUSES:
            raise ValueError(f"invoice workflowStatus must be one of {', '.join(INVOICE_STATUSES)}")
        return self.patch("invoices", invoice_id, {"workflowStatus": status})

    def approve_invoice(self, invoice_id: str) -> dict:
        return self.set_invoice_status(invoice_id, "Approved")

    def retire_gl_account(self, code: str) -> dict:
        return self.patch("gl_accounts", code, {"active": False})

    def retire_department(self, code: str) -> dict:
        return self.patch("departments", code, {"active": False})

    # ------------------------------------------------------------------ HTTP
    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path == TOKEN_PATH:
            if req.method != "POST":
                return Response.json(405, {"error": "invalid_request", "error_description": "use POST"},
                                     headers={"Allow": "POST"})
            return self._token(req)
        wait = self._throttled()
        if wait is not None:
            resp = self.throttle_response(wait)
            resp.headers["Retry-After"] = str(wait)
            return resp
        entity, record_id = self._route(path)
        if entity is None:
            return Response.json(404, {"returnCode": RC_NOT_FOUND, "returnMessage": f"No resource at {req.path}"})
        if req.method not in ("GET", "HEAD"):
            return Response.json(405, {"returnCode": 405, "returnMessage": f"{req.method} is not allowed here"},
                                 headers={"Allow": "GET"})
        if not self._token_valid(req.headers.get("Authorization")):
            return Response.json(401, {"error": "invalid_token", "error_description": "Token is not active"},
                                 headers={"WWW-Authenticate": 'Bearer realm="J1p-integrations", '
                                                              'error="invalid_token"'})
        if record_id is not None:
            return self._single(entity, record_id)
        try:
            return self._list(entity, req)
        except _ApiError as e:
            return Response.json(200, {"returnCode": e.code, "returnMessage": e.message})

    def _route(self, path: str) -> tuple[str | None, str | None]:
        entity = self._by_path.get(path)
        if entity is not None:
            return entity, None
        head, _, tail = path.rpartition("/")
        entity = self._by_path.get(head)
        if entity is not None and tail:
            return entity, unquote(tail)
        return None, None

    def normalise_path(self, path: str) -> str:
        """For the request log: an entity's single-record paths count as `{path}/{id}`."""
        entity, record_id = self._route(path.rstrip("/") or "/")
        if entity is not None and record_id is not None:
            return self.paths[entity] + "/{id}"
        return path

    def _token(self, req: Request) -> Response:
        try:
            form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            form = {}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = req.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":                  # client_secret_basic, as Keycloak also accepts
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
        if form.get("grant_type") != "client_credentials":
            return Response.json(400, {"error": "unsupported_grant_type",
                                       "error_description": "grant_type must be client_credentials"})
        if not (client_id and client_secret and secrets.compare_digest(client_id, self.client_id)
                and secrets.compare_digest(client_secret.encode(), self._client_secret.encode())):
            return Response.json(401, {"error": "invalid_client",
                                       "error_description": "Invalid client or Invalid client credentials"})
        return Response.json(200, {"access_token": self.issue_token(), "expires_in": self.token_lifetime,
                                   "token_type": "Bearer"}, headers={"Cache-Control": "no-store"})

    def _single(self, entity: str, record_id: str) -> Response:
        t = self.tables[entity]
        with self._lock:
            if record_id not in t.rows:
                return Response.json(404, {"returnCode": RC_NOT_FOUND,
                                           "returnMessage": f"No {entity} record with id {record_id}"})
            body = t.encoded(record_id)
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    def _int_arg(self, req: Request, name: str, default: int) -> int:
        raw = req.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _ApiError(RC_INVALID_PARAMETER, f"{name} must be a positive integer, not {raw!r}") from None
        if value < 1:
            raise _ApiError(RC_INVALID_PARAMETER, f"{name} must be a positive integer, not {raw!r}")
        return value

    def _threshold(self, flt: str) -> int:
        """The first modification epoch a `LASTMODTIME>=...` / `LASTMODTIME>...` filter lets through."""
        m = _FILTER.match(flt)
        if not m:
            raise _ApiError(RC_INVALID_FILTER, f"Invalid filter {flt!r}: expected LASTMODTIME>=<ISO-8601 UTC time>")
        field_name, op, value = m.groups()
        if field_name.upper() not in self.filter_fields:
            raise _ApiError(RC_INVALID_FILTER, f"Invalid filter field {field_name!r}: use {self.filter_fields[0]}")
        try:
            dt = parse_utc(value)
        except ValueError as e:
            raise _ApiError(RC_INVALID_FILTER, f"Invalid filter time {value!r}: {e}") from None
        seconds = int(dt.timestamp() // 1)
        fraction = dt.microsecond != 0
        return seconds + 1 if (op == ">" or fraction) else seconds

    def _list(self, entity: str, req: Request) -> Response:
        start = self._int_arg(req, self.params["start"], 1)
        size = min(self._int_arg(req, self.params["size"], self.default_page_size), self.max_page_size)
        flt = (req.arg(self.params["flt"]) or "").strip()
        threshold = self._threshold(flt) if flt else None
        t = self.tables[entity]
        with self._lock:
            lo = bisect.bisect_left(t.keys, (threshold,)) if threshold is not None else 0
            total = len(t.keys) - lo
            first = lo + start - 1
            page = t.keys[first:first + size] if start <= total else []
            items = [t.encoded(rid) for _, rid in page]
        head = _dumps({"returnCode": RC_OK, "returnMessage": "OK", "totRecords": total,
                       "returnedRecords": len(items), "startAt": start}).encode("utf-8")
        body = b"".join((head[:-1], b',"', t.spec.list_key.encode(), b'":[', b",".join(items), b"]}"))
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8"})

    def throttle_response(self, retry_after: int | None) -> Response:
        return Response.json(429, {"returnCode": 429, "returnMessage": "Rate limit exceeded: too many requests"})

    def error_response(self, status: int) -> Response:
        if status == 503:           # the load balancer answers, not the API
            return Response.text(503, "<html><body><h1>503 Service Unavailable</h1>"
                                      "No server is available to handle this request.</body></html>",
                                 content_type="text/html")
        return Response.json(status, {"returnCode": status, "returnMessage": "Internal server error"})

    # ------------------------------------------------------------------ control API (/_sandbox/...)
    def state(self) -> dict:
        with self._lock:
            return {"dataset": self.dataset_name, "clock": self.now(),
                    "counts": {name: len(t.rows) for name, t in self.tables.items()},
                    "tokens": len(self._tokens), "token_lifetime": self.token_lifetime,
                    "client_id": self.client_id, "paths": dict(self.paths), "max_page_size": self.max_page_size,
                    "params": dict(self.params), "rate_limit_per_minute": self.rate_limit_per_minute}

    def control(self, req: Request, subpath: str) -> Response:
        parts = [unquote(p) for p in subpath.strip("/").split("/") if p]
        method = req.method
        body = req.json() if req.body else {}
        if not isinstance(body, dict):
            raise ValueError("the control body must be a JSON object")
        try:
            result = self._control(method, parts, body)
        except RecordNotFound as e:
            return Response.json(404, {"error": str(e.args[0]) if e.args else "not found"})
        if result is None:
            return Response.json(404, {"error": f"no control route {method} /_sandbox/{subpath}"})
        return Response.json(200, result)

    def _control(self, method: str, parts: list[str], body: dict) -> dict | None:
        match (method, parts):
            case ("GET", ["state"]):
                return self.state()
            case ("POST", ["tokens", "expire"]):
                return {"expired": self.expire_tokens()}
            case ("POST", ["tokens", "lifetime"]):
                self.set_token_lifetime(int(body["seconds"]))
                return {"token_lifetime": self.token_lifetime}
            case ("POST", ["credentials"]):
                self.set_credentials(body.get("client_id"), body.get("client_secret"))
                return {"client_id": self.client_id}
            case ("POST", ["params"]):
                self.set_params(**body)
                return {"params": dict(self.params), "filter_fields": list(self.filter_fields)}
            case ("POST", ["rate_limit"]):
                self.set_rate_limit(body.get("per_minute"))
                return {"per_minute": self.rate_limit_per_minute}
            case ("POST", ["paths"]):
                self.set_paths(body)
                return {"paths": dict(self.paths)}
            case ("POST", ["clock", "advance"]):
                return {"clock": self.advance_clock(int(body.get("seconds", 1)))}
            case ("GET", ["records", entity, record_id]):
                return self.get(entity, record_id)
            case ("POST", ["records", entity]):
                return self.upsert(entity, body)
            case ("PATCH" | "POST", ["records", entity, record_id]):
                return self.patch(entity, record_id, body)
            case ("POST", ["suppliers"]):
                fields = dict(body)
                name = fields.pop("companyName", None) or fields.pop("name", None)
                if not name:
                    raise ValueError("companyName is required")
                return self.add_supplier(name, **fields)
            case ("POST", ["suppliers", cid, "rename"]):
                return self.rename_supplier(cid, body["name"])
            case ("POST", ["purchase_orders", po_id, "status"]):
                return self.set_po_status(po_id, body["status"])
            case ("POST", ["purchase_orders", po_id, "approve"]):
                return self.approve_po(po_id)
            case ("POST", ["purchase_orders", po_id, "cancel"]):
                return self.cancel_po(po_id)
            case ("POST", ["purchase_orders", po_id, "lines"]):
                return self.set_po_lines(po_id, body["lineList"])
            case ("POST", ["invoices", inv_id, "status"]):
                return self.set_invoice_status(inv_id, body["workflowStatus"])
            case ("POST", ["invoices", inv_id, "approve"]):
                return self.approve_invoice(inv_id)
            case ("POST", ["gl_accounts", code, "retire"]):
                return self.retire_gl_account(code)
            case ("POST", ["departments", code, "retire"]):
                return self.retire_department(code)
        return None

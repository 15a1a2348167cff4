"""JAGGAER J1P REST: the only module that reads a tenant's JAGGAER instance.

Per ../shared/contracts/jaggaer-j1p.md the paths, list keys, page parameters, page size and filter
field differ per customer: they come from the tenant's dialect (defaults below, overrides per tenant).
Lists are read as a stream of pages (start/size paging, `flt` for incremental reads), never all at once.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import requests

from connections.clients.http import RETRY_STATUSES, ErrorReading, Exchange, HelperThread, HttpClient, json_body
from connections.clients.outbound import JAGGAER_POLICY
from connections.exceptions import CredentialsRejected, JaggaerError, NotConfigured

SYSTEM = "jaggaer"
ENTITIES = ("suppliers", "purchase_orders", "invoices", "gl_accounts", "departments")
MAX_PAGE_SIZE = 1000

DEFAULT_DIALECT: dict[str, Any] = {
    "paths": {
        "suppliers": "/j1p/api/public/ja/v1/companyprofiles",
        "purchase_orders": "/j1p/api/public/jp/v1/purchaseorders",
        "invoices": "/j1p/api/public/ji/v1/invoices",
        "gl_accounts": "/j1p/api/public/ja/v1/glaccounts",
        "departments": "/j1p/api/public/ja/v1/departments",
    },
    "list_keys": {
        "suppliers": "returnCompanyData",
        "purchase_orders": "purchaseOrderList",
        "invoices": "invoiceList",
        "gl_accounts": "glAccountList",
        "departments": "departmentList",
    },
    "page_size": 200,
    "filter_field": "LASTMODTIME",
    "gl_segment": "Account",
    "department_segment": "DepartmentCode",
    # Query parameter names of the list endpoints.
    "params": {"start": "start", "size": "size", "filter": "flt"},
    "token_path": "/auth/realms/J1p-integrations/protocol/openid-connect/token",
}


def _merge(base: dict, overrides: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if key not in base:
            raise ValueError(f"unknown JAGGAER dialect setting {where}{key!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"JAGGAER dialect setting {where}{key!r} must be an object")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def effective_dialect(overrides: dict | None) -> dict:
    """The defaults with a tenant's overrides merged in; ValueError names a bad or unknown setting."""
    dialect = _merge(DEFAULT_DIALECT, overrides or {}, "")
    size = dialect["page_size"]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"JAGGAER dialect page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    for entity, path in dialect["paths"].items():
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"JAGGAER dialect path for {entity} must start with '/'")
    for group in ("list_keys", "params"):
        for name, value in dialect[group].items():
            if not isinstance(value, str) or not value:
                raise ValueError(f"JAGGAER dialect {group}.{name} must be a non-empty string")
    for name in ("filter_field", "gl_segment", "department_segment", "token_path"):
        if not isinstance(dialect[name], str) or not dialect[name]:
            raise ValueError(f"JAGGAER dialect {name} must be a non-empty string")
    return dialect


def format_since(when: dt.datetime) -> str:
    """ISO-8601 UTC with a Z, to the second (cut down, so nothing at the boundary is skipped)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("since must be a timezone-aware datetime")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ============================================================================ errors
#
# The base URL is the customer's: whatever answers there may be some other service, and its words are
# not ours to repeat. Errors say what class of failure it was in our own words, with JAGGAER's documented
# error codes (OAuth `error` values, a numeric `returnCode`) and never `returnMessage`, `error_description`
# or any other text of the body.

OAUTH_ERRORS = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                          "unsupported_grant_type", "invalid_scope", "access_denied", "invalid_token",
                          "insufficient_scope", "server_error", "temporarily_unavailable"})
_NUMERIC_CODE = re.compile(r"^-?[0-9]{1,9}$")


def oauth_error_code(value: Any) -> str | None:
    """A documented OAuth error code from an answer's `error`; 'unrecognized_error' for anything else."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) and value in OAUTH_ERRORS else "unrecognized_error"


def _return_code(body: dict) -> str | None:
    """The envelope's returnCode when it is not zero ('unrecognized' when it is not a number); None when zero."""
    rc = body.get("returnCode")
    if rc is None or isinstance(rc, bool) or str(rc).strip() in ("0", ""):
        return None
    text = str(rc).strip() if isinstance(rc, int | str) else ""
    return text if _NUMERIC_CODE.match(text) else "unrecognized"


def _status_message(status: int) -> str:
    if status == 429:
        return "JAGGAER is limiting the request rate for this client"
    if status == 404:
        return "JAGGAER has nothing at this path: check the base URL and the endpoint paths"
    if status >= 500:
        return f"JAGGAER is not available right now (HTTP {status})"
    return f"JAGGAER refused the request (HTTP {status})"


def error_from_response(response: requests.Response) -> JaggaerError | None:
    """The error a JAGGAER answer carries (HTTP status, OAuth error or non-zero returnCode); None if clean.

    The message is ours: the status, the documented OAuth error code or the numeric returnCode."""
    status = response.status_code
    transient = status in RETRY_STATUSES
    body = json_body(response)
    if isinstance(body, dict):
        code = _return_code(body)
        if code is not None:
            shown = f"returnCode {code}" if code != "unrecognized" else "a returnCode that is not a number"
            message = (f"JAGGAER answered with error {shown} (HTTP {status})" if response.ok
                       else f"{_status_message(status)} ({shown})")
            return JaggaerError(message, status=status, code=code, transient=transient)
        oauth_code = oauth_error_code(body.get("error"))
        if oauth_code in OAUTH_ERRORS and not response.ok:
            return JaggaerError(f"JAGGAER refused the request with OAuth error {oauth_code} (HTTP {status})",
                                status=status, code=oauth_code, transient=transient)
    if response.ok:
        if not isinstance(body, dict):
            return JaggaerError("JAGGAER answered with something that is not a JSON object: check the base URL",
                                status=status, code="not_json")
        return None
    return JaggaerError(_status_message(status), status=status, code=str(status), transient=transient)


def read_jaggaer_error(response: requests.Response) -> ErrorReading | None:
    error = error_from_response(response)
    if error is None:
        return None
    return ErrorReading(code=error.code, message=error.message, transient=error.transient)


# ============================================================================ the client

class _Ahead:
    """A JAGGAER request on its way (`JaggaerClient._call_ahead`); `body()` on the thread that asked for it."""

    def __init__(self, client: JaggaerClient, token: str, path: str, params: dict | None, exchange: Exchange):
        self._client, self._token, self._path, self._params, self._exchange = client, token, path, params, exchange

    def body(self) -> dict:
        """The answer's body, as `_call` gives it; its errors raised here."""
        return self._client._answer(self._token, self._path, self._params, self._exchange.response())

    def settle(self) -> None:
        self._exchange.settle()


class _Later:
    """A request not read ahead: sent when its body is asked for."""

    def __init__(self, call: Callable[[], dict]):
        self._call = call

    def body(self) -> dict:
        return self._call()

    def settle(self) -> None:
        pass


class JaggaerClient:
    """One tenant's JAGGAER instance, through one keep-alive HTTP session."""

    def __init__(self, *, api_base_url: str, tokens, dialect: dict | None = None, http: HttpClient | None = None,
                 tenant_id=None):
        if not api_base_url:
            raise NotConfigured("JAGGAER has no API base URL for this tenant", system=SYSTEM)
        self.api_base_url = api_base_url.rstrip("/")
        self.tokens = tokens
        self.dialect = effective_dialect(dialect)
        self.tenant_id = tenant_id
        if http is None:
            http = HttpClient(SYSTEM, self.api_base_url, read_error=read_jaggaer_error, tenant_id=tenant_id,
                              policy=JAGGAER_POLICY)
        else:
            http.read_error = http.read_error or read_jaggaer_error
            http.tenant_id = tenant_id if tenant_id is not None else http.tenant_id
            http.use_policy(JAGGAER_POLICY)
        self.http = http
        self._ahead = HelperThread("jaggaer-ahead")     # the pages read ahead (`iter_pages`)
        self.request_counts: Counter = Counter()
        # `totRecords` of the last list page read per entity: the size of what a run is reading (its progress).
        self.page_totals: dict[str, int] = {}

    def close(self) -> None:
        self._ahead.close()
        self.http.close()

    def _entity(self, entity: str) -> tuple[str, str]:
        if entity not in self.dialect["paths"]:
            raise ValueError(f"unknown JAGGAER entity {entity!r}: expected one of {', '.join(ENTITIES)}")
        return self.dialect["paths"][entity], self.dialect["list_keys"][entity]

    # ---- transport
    def _call(self, kind: str, path: str, params: dict | None = None) -> dict:
        self.request_counts[kind] += 1
        token = self.tokens.access_token()
        return self._answer(token, path, params, self._send(token, path, params))

    def _call_ahead(self, kind: str, path: str, params: dict | None = None) -> _Ahead:
        """`_call` with its HTTP exchange on this client's helper thread (one at a time, in the order asked):
        the caller goes on and takes the body with `_Ahead.body()`. The token is taken here, a 401 renewed (and
        the request sent again) in `body()`, and the exchange's calls are told to the listeners there, on the
        caller's thread."""
        self.request_counts[kind] += 1
        token = self.tokens.access_token()
        return _Ahead(self, token, path, params, self._ahead.start(self._send, token, path, params))

    def _answer(self, token: str, path: str, params: dict | None, response: requests.Response) -> dict:
        if response.status_code == 401:
            token = self.tokens.renew(token)
            response = self._send(token, path, params)
            if response.status_code == 401:
                raise CredentialsRejected(
                    "JAGGAER rejected a freshly issued access token: check that the API client is allowed to "
                    "read this data", system=SYSTEM)
        error = error_from_response(response)
        if error is not None:
            raise error
        return json_body(response)

    def _send(self, token: str, path: str, params: dict | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return self.http.request("GET", f"{self.api_base_url}{path}", params=params, headers=headers)

    # ---- reads
    def iter_pages(self, entity: str, *, since: dt.datetime | None = None,
                   read_ahead: int = 0) -> Iterator[list[dict]]:
        """The entity's records (changed at or after `since`), one page at a time, fetched as consumed.

        Pages advance by the rows actually returned (a server may cap `size` below ours) and stop at
        `totRecords` or at the first empty page (a `totRecords` that is not a count is not trusted: the pages
        are read on to the first empty one).

        `read_ahead` (a reader of every page, a sync: how many records it takes at a time): the pages after
        this one, up to that many records and never past `totRecords`, are asked for before this one is handed
        over, one request after another on a helper thread, so JAGGAER answers them while the caller works.
        Their starts assume pages as long as the first; a page of another length (a record gone or added while
        paging) makes the ones asked for after it be dropped and asked for again from where it ended. A caller
        that stops early waits for the answers asked for, which are dropped."""
        path, list_key = self._entity(entity)
        names = self.dialect["params"]
        params: dict[str, Any] = {names["size"]: self.dialect["page_size"]}
        if since is not None:
            params[names["filter"]] = f"{self.dialect['filter_field']}>={format_since(since)}"

        def request(at: int) -> _Ahead | _Later:
            page = {names["start"]: at, **params}
            if read_ahead:
                return self._call_ahead("list", path, page)
            return _Later(lambda: self._call("list", path, page))

        start, step = 1, 0      # the next row to read; the first page's length (the pages asked for ahead)
        asked: deque[tuple[int, _Ahead | _Later]] = deque([(1, request(1))])
        try:
            while asked:
                at, ahead = asked.popleft()
                if at != start:      # the page before was not as long as the first: asked for from the wrong start
                    for _, dropped in [(at, ahead), *asked]:
                        dropped.settle()
                    asked.clear()
                    asked.append((start, request(start)))
                    continue
                body = ahead.body()
                rows = body.get(list_key)
                if rows is None:
                    if not body.get("totRecords") and not body.get("returnedRecords"):
                        return
                    raise JaggaerError(f"JAGGAER's answer for {entity} has no {list_key!r} list: check the list "
                                       f"key in the tenant's JAGGAER settings", status=200, code="no_list")
                if not isinstance(rows, list):
                    raise JaggaerError(f"JAGGAER's {list_key!r} for {entity} is not a list", status=200,
                                       code="no_list")
                if not rows:
                    return
                total = body.get("totRecords")
                known = int(total) if isinstance(total, int) or (isinstance(total, str) and total.isdigit()) \
                    else None
                if known is not None:
                    self.page_totals[entity] = known
                step = step or len(rows)
                start += len(rows)
                if known is not None and start > known:
                    yield rows
                    return
                following = asked[-1][0] + step if asked else start
                pages = 1 + (-(-read_ahead // step) if read_ahead and known is not None else 0)
                while len(asked) < pages and (not asked or following <= known):
                    asked.append((following, request(following)))
                    following += step
                yield rows
        finally:
            for _, ahead in asked:
                ahead.settle()

    def get(self, entity: str, record_id: str) -> dict:
        """One record by id (the record itself, or the single row of an envelope)."""
        path, list_key = self._entity(entity)
        try:
            body = self._call("single", f"{path}/{quote(str(record_id), safe='')}")
        except JaggaerError as exc:
            if exc.status != 404:
                raise
            raise JaggaerError(f"JAGGAER has no {entity} record {record_id} (HTTP 404)", status=404, code=exc.code,
                               transient=False) from exc
        if "returnCode" in body and list_key in body:
            rows = body.get(list_key) or []
            if not rows:
                raise JaggaerError(f"JAGGAER has no {entity} record {record_id}", status=200, code="not_found")
            return rows[0]
        return body

    def count(self, entity: str) -> int:
        """`totRecords` of a one-row page: the lightest real call (ping)."""
        path, _ = self._entity(entity)
        names = self.dialect["params"]
        body = self._call("list", path, {names["start"]: 1, names["size"]: 1})
        return int(body.get("totRecords") or 0)


__all__ = ["DEFAULT_DIALECT", "ENTITIES", "OAUTH_ERRORS", "JaggaerClient", "effective_dialect", "error_from_response",
           "oauth_error_code", "read_jaggaer_error"]

"""Intuit's OAuth 2.0 as the contract describes it: authorize (auto-consent), token, refresh, revoke.

Each authorization is a grant for one realm. Refreshing rotates the refresh token every time; the previous
one keeps working for `refresh_grace` seconds (default 0). Revoking either token kills the grant.
"""
from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from sandbox.common.http import Request, Response

from . import faults as F

DEFAULT_CLIENT_ID = "ml-sandbox-client"
DEFAULT_CLIENT_SECRET = "ml-sandbox-secret"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
KNOWN_SCOPES = {ACCOUNTING_SCOPE, "com.intuit.quickbooks.payment", "openid", "profile", "email", "phone",
                "address"}
HARD_LIFETIME = 5 * 365 * 86400


@dataclass
class TokenSettings:
    access_lifetime: int = 3600            # expires_in
    refresh_lifetime: int = 8726400        # x_refresh_token_expires_in (rolling, about 101 days)
    hard_lifetime: int = HARD_LIFETIME     # x_refresh_token_hard_expires_in, from the authorization
    refresh_grace: float = 0.0             # seconds a superseded refresh token still works
    code_lifetime: int = 300


@dataclass
class Grant:
    id: str
    client_id: str
    realm_id: str
    authorized_at: float
    refresh_token: str = ""
    refresh_issued_at: float = 0.0
    retired: dict[str, float] = field(default_factory=dict)     # superseded refresh token -> when
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    realm_id: str
    expires_at: float
    used: bool = False


def _token_json(status: int, error: str, description: str | None = None) -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return Response.json(status, body, headers={"Cache-Control": "no-store"})


class OAuthServer:
    def __init__(self, default_realm: Callable[[], str], realm_exists: Callable[[str], bool],
                 clock: Callable[[], float] = time.time):
        self.lock = threading.Lock()
        self.settings = TokenSettings()
        self.clients: dict[str, tuple[str, set[str] | None]] = {
            DEFAULT_CLIENT_ID: (DEFAULT_CLIENT_SECRET, None)}         # id -> (secret, redirect URIs or any)
        self.codes: dict[str, Code] = {}
        self.access: dict[str, tuple[Grant, float]] = {}              # access token -> (grant, expires at)
        self.refresh: dict[str, Grant] = {}                            # any refresh token ever issued
        self.grants: dict[str, Grant] = {}
        self.default_realm = default_realm
        self.realm_exists = realm_exists
        self.clock = clock

    # ------------------------------------------------------------------ settings and helpers
    def register_client(self, client_id: str, secret: str, redirect_uris: list[str] | None = None) -> None:
        with self.lock:
            self.clients[client_id] = (secret, set(redirect_uris) if redirect_uris else None)

    def configure(self, **kwargs) -> TokenSettings:
        with self.lock:
            for k, v in kwargs.items():
                if v is None:
                    continue
                if not hasattr(self.settings, k):
                    raise ValueError(f"unknown token setting {k}")
                setattr(self.settings, k, type(getattr(self.settings, k))(v))
        return self.settings

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.access.clear()
            self.refresh.clear()
            self.grants.clear()
            self.settings = TokenSettings()

    def _client_from_basic(self, req: Request) -> str | None:
        header = req.headers.get("Authorization") or ""
        if not header.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        client_id, sep, secret = raw.partition(":")
        known = self.clients.get(client_id)
        if not sep or known is None or not secrets.compare_digest(known[0], secret):
            return None
        return client_id

    def _issue(self, grant: Grant, access_lifetime: float | None = None, rotate: bool = True) -> dict:
        """New access token (and a new refresh token when `rotate`), under self.lock."""
        now = self.clock()
        s = self.settings
        access = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48)
        lifetime = s.access_lifetime if access_lifetime is None else access_lifetime
        self.access[access] = (grant, now + lifetime)
        grant.access_tokens.add(access)
        if rotate:
            if grant.refresh_token:
                grant.retired[grant.refresh_token] = now
            grant.refresh_token = "AB11" + secrets.token_urlsafe(36)
            grant.refresh_issued_at = now
            self.refresh[grant.refresh_token] = grant
        hard_left = max(0, int(grant.authorized_at + s.hard_lifetime - now))
        rolling_left = max(0, int(grant.refresh_issued_at + s.refresh_lifetime - now))
        return {"token_type": "bearer", "access_token": access, "refresh_token": grant.refresh_token,
                "expires_in": int(lifetime), "x_refresh_token_expires_in": min(rolling_left, hard_left),
                "_hard": hard_left}

    def _new_grant(self, client_id: str, realm_id: str) -> Grant:
        grant = Grant(secrets.token_hex(8), client_id, realm_id, self.clock())
        self.grants[grant.id] = grant
        return grant

    def issue_tokens(self, realm_id: str, client_id: str = DEFAULT_CLIENT_ID,
                     access_lifetime: float | None = None) -> dict:
        """A fresh authorization for `realm_id` without the browser dance (tests, the conformance run)."""
        with self.lock:
            grant = self._new_grant(client_id, realm_id)
            out = self._issue(grant, access_lifetime)
        out.pop("_hard")
        out["realm_id"] = realm_id
        return out

    def expire_access_tokens(self, realm_id: str | None = None) -> int:
        with self.lock:
            n = 0
            for token, (grant, _) in list(self.access.items()):
                if realm_id is None or grant.realm_id == realm_id:
                    self.access[token] = (grant, 0.0)
                    n += 1
            return n

    def expire_refresh_tokens(self, realm_id: str | None = None) -> int:
        with self.lock:
            n = 0
            for grant in self.grants.values():
                if realm_id is None or grant.realm_id == realm_id:
                    grant.refresh_issued_at = -1e12
                    grant.retired.clear()
                    n += 1
            return n

    def _kill(self, grant: Grant) -> None:
        grant.revoked = True
        for token in grant.access_tokens:
            self.access.pop(token, None)
        grant.access_tokens.clear()

    # ------------------------------------------------------------------ the bearer check of every API call
    def authenticate(self, req: Request, realm_id: str) -> Response | None:
        """None when the bearer token is good for this realm, else the 401 (or 403) answer."""
        header = req.headers.get("Authorization") or ""
        if not header:
            return Response.json(401, F.auth_failed_body("Authorization header is missing"),
                                 headers={"WWW-Authenticate": 'Bearer realm="Intuit"'})
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return Response.json(401, F.auth_failed_body("Authorization header is not a Bearer token"),
                                 headers={"WWW-Authenticate": 'Bearer realm="Intuit"'})
        entry = self.access.get(token)
        if entry is None:
            return Response.json(401, F.auth_failed_body("Token invalid"),
                                 headers={"WWW-Authenticate": 'Bearer realm="Intuit"'})
        grant, expires_at = entry
        if grant.revoked:
            return Response.json(401, F.auth_failed_body("Token revoked"))
        if self.clock() >= expires_at:
            return Response.json(401, F.auth_failed_body("Token expired"),
                                 headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})
        if grant.realm_id != realm_id:
            return Response.json(403, F.forbidden_body(f"The token is not authorized for company {realm_id}"))
        return None

    # ------------------------------------------------------------------ endpoints
    def authorize(self, req: Request) -> Response:
        client_id = req.arg("client_id") or ""
        redirect_uri = req.arg("redirect_uri") or ""
        known = self.clients.get(client_id)
        if known is None:
            return Response.text(400, "invalid_client: unknown client_id", content_type="text/html")
        if not redirect_uri or not urlsplit(redirect_uri).scheme:
            return Response.text(400, "invalid_request: redirect_uri is missing or not absolute",
                                 content_type="text/html")
        if known[1] is not None and redirect_uri not in known[1]:
            return Response.text(400, "invalid_request: redirect_uri is not registered for this client",
                                 content_type="text/html")
        state = req.arg("state")
        params: dict[str, str] = {}
        scopes = set((req.arg("scope") or "").split())
        realm_id = req.arg("realmId") or req.arg("realm_id") or self.default_realm()
        if req.arg("response_type") != "code":
            params["error"] = "unsupported_response_type"
        elif not scopes or not scopes <= KNOWN_SCOPES:
            params["error"] = "invalid_scope"
        elif not self.realm_exists(realm_id):
            params["error"] = "access_denied"
        else:
            code = "AB11" + secrets.token_urlsafe(30)
            with self.lock:
                self.codes[code] = Code(client_id, redirect_uri, realm_id,
                                        self.clock() + self.settings.code_lifetime)
            params["code"] = code
            params["realmId"] = realm_id
        if state is not None:
            params["state"] = state
        sep = "&" if urlsplit(redirect_uri).query else "?"
        return Response(302, b"", {"Location": redirect_uri + sep + urlencode(params),
                                   "Cache-Control": "no-store"})

    def token(self, req: Request) -> Response:
        if req.method != "POST":
            return _token_json(405, "invalid_request", "use POST")
        client_id = self._client_from_basic(req)
        if client_id is None:
            return _token_json(401, "invalid_client")
        try:
            form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            return _token_json(400, "invalid_request")
        grant_type = form.get("grant_type")
        hard = (req.headers.get("x-include-refresh-token-hard-expires-in") or "").lower() == "true"
        with self.lock:
            if grant_type == "authorization_code":
                out = self._exchange_code(client_id, form)
            elif grant_type == "refresh_token":
                out = self._refresh(client_id, form.get("refresh_token") or "")
            else:
                return _token_json(400, "unsupported_grant_type")
        if isinstance(out, Response):
            return out
        hard_left = out.pop("_hard")
        if hard:
            out["x_refresh_token_hard_expires_in"] = hard_left
        return Response.json(200, out, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _exchange_code(self, client_id: str, form: dict) -> dict | Response:
        code = self.codes.get(form.get("code") or "")
        if code is None or code.used or code.client_id != client_id or self.clock() > code.expires_at:
            return _token_json(400, "invalid_grant")
        if form.get("redirect_uri") != code.redirect_uri:
            return _token_json(400, "invalid_grant")
        code.used = True
        return self._issue(self._new_grant(client_id, code.realm_id))

    def _refresh(self, client_id: str, token: str) -> dict | Response:
        grant = self.refresh.get(token)
        if grant is None or grant.revoked or grant.client_id != client_id:
            return _token_json(400, "invalid_grant")
        now = self.clock()
        s = self.settings
        if token != grant.refresh_token:
            retired_at = grant.retired.get(token)
            if retired_at is None or now - retired_at > s.refresh_grace:
                return _token_json(400, "invalid_grant")
        if now > grant.refresh_issued_at + s.refresh_lifetime or now > grant.authorized_at + s.hard_lifetime:
            return _token_json(400, "invalid_grant")
        return self._issue(grant)

    def revoke(self, req: Request) -> Response:
        if req.method != "POST":
            return _token_json(405, "invalid_request", "use POST")
        if self._client_from_basic(req) is None:
            return _token_json(401, "invalid_client")
        try:
            token = req.json().get("token")
        except (ValueError, AttributeError):
            form = parse_qs(req.body.decode("utf-8", "replace"))
            token = (form.get("token") or [None])[0]
        if not token:
            return _token_json(400, "invalid_request", "token is required")
        with self.lock:
            grant = self.refresh.get(token)
            if grant is None and token in self.access:
                grant = self.access[token][0]
            if grant is not None:
                self._kill(grant)
        return Response(200, b"", {"Content-Type": "application/json"})

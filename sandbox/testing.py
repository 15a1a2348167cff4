"""pytest plugin: both sandboxes for the session, reset per test.

Register with `pytest_plugins = ["sandbox.testing"]` in tests/conftest.py.
"""
from __future__ import annotations

import pytest

from sandbox.datagen import load_dataset
from sandbox.runner import Sandboxes, start_sandboxes

TEST_DATASET = "small"
TEST_SEED = 42


@pytest.fixture(scope="session")
def sandboxes():
    sb = start_sandboxes(TEST_DATASET, TEST_SEED)
    yield sb
    sb.stop()


def _reset(server) -> None:
    server.app.reset(load_dataset(TEST_DATASET, TEST_SEED))
    server.faults.clear()
    server.log.clear()


@pytest.fixture
def qbo_sandbox(sandboxes: Sandboxes):
    """The QBO server (`.url`, `.app`, `.faults`, `.log`), reset to the small dataset with seed 42."""
    _reset(sandboxes.qbo_server)
    yield sandboxes.qbo_server
    sandboxes.qbo_server.faults.clear()


@pytest.fixture
def jaggaer_sandbox(sandboxes: Sandboxes):
    """The JAGGAER server, reset to the small dataset with seed 42."""
    _reset(sandboxes.jaggaer_server)
    yield sandboxes.jaggaer_server
    sandboxes.jaggaer_server.faults.clear()


@pytest.fixture
def qbo_tokens(qbo_sandbox) -> dict:
    """A fresh OAuth grant for the default realm: access_token, refresh_token, realm_id, ..."""
    return qbo_sandbox.app.issue_tokens()


class QboApi:
    """A small caller of the QBO sandbox's Accounting API for contract tests, over real HTTP.

    Test support only: it uses `requests` (imported here, never by the sandbox servers)."""

    def __init__(self, server, tokens: dict | None = None, realm_id: str | None = None, minorversion: int = 75):
        import requests

        self.server = server
        self.app = server.app
        self.session = requests.Session()
        self.tokens = tokens or server.app.issue_tokens(realm_id)
        self.realm = self.tokens["realm_id"]
        self.minorversion = minorversion

    def url(self, path: str) -> str:
        return f"{self.server.url}/v3/company/{self.realm}/{path}"

    def _headers(self, token, extra=None) -> dict:
        h = {"Accept": "application/json"}
        token = self.tokens["access_token"] if token == "current" else token
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        h.update(extra or {})
        return h

    def _params(self, params, minorversion) -> dict:
        p = dict(params or {})
        if minorversion:
            p.setdefault("minorversion", str(self.minorversion))
        return p

    def get(self, path: str, params: dict | None = None, token="current", minorversion: bool = True):
        return self.session.get(self.url(path), params=self._params(params, minorversion),
                                headers=self._headers(token))

    def post(self, path: str, json=None, params: dict | None = None, token="current", minorversion: bool = True,
             data=None, content_type: str | None = None):
        extra = {"Content-Type": content_type} if content_type else None
        return self.session.post(self.url(path), json=json, data=data, params=self._params(params, minorversion),
                                 headers=self._headers(token, extra))

    def query(self, text: str, method: str = "GET"):
        if method == "POST":
            return self.post("query", data=text.encode("utf-8"), content_type="application/text")
        return self.get("query", params={"query": text})

    def rows(self, text: str, entity: str | None = None) -> list[dict]:
        resp = self.query(text)
        assert resp.status_code == 200, resp.text
        qr = resp.json()["QueryResponse"]
        if entity is None:
            entity = next((k for k, v in qr.items() if isinstance(v, list)), None)
        return qr.get(entity, []) if entity else []

    def create(self, entity: str, payload: dict, **params) -> dict:
        resp = self.post(entity.lower(), json=payload, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()[entity]

    def read(self, entity: str, obj_id: str) -> dict:
        resp = self.get(f"{entity.lower()}/{obj_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()[entity]


def fault_code(resp) -> str | None:
    """The first fault code of a JSON service or gateway fault answer, else None."""
    try:
        body = resp.json()
    except ValueError:
        return None
    fault = body.get("Fault") or body.get("fault") or {}
    errors = fault.get("Error") or fault.get("error") or []
    return str(errors[0].get("code")) if errors else None


@pytest.fixture
def qbo_api(qbo_sandbox) -> QboApi:
    """A QboApi on the freshly reset QBO sandbox, with a new grant for the default realm."""
    return QboApi(qbo_sandbox)

"""What the current request or task is about: a request id, the partner, the tenant, the run and its step.

One set of context variables that the API, the sync tasks, the log formatter, error bodies and
audit rows all read, so one request's or one run's traces carry the same ids everywhere.
Values are plain strings (ids, never names or secrets). `bound(...)` sets some for a block and
restores the previous ones after it, in threads and Celery tasks alike.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("request_id", "partner", "tenant", "run_id", "step")
_vars: dict[str, ContextVar[str | None]] = {name: ContextVar(f"mlc_{name}", default=None) for name in FIELDS}

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's own request id is kept when it is short and plain; anything else is replaced by ours.
_ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def get(name: str) -> str | None:
    return _vars[name].get()


def current() -> dict[str, str]:
    """The ids set now, by name (unset ones left out)."""
    return {name: value for name in FIELDS if (value := _vars[name].get()) is not None}


def request_id() -> str | None:
    return _vars["request_id"].get()


@contextmanager
def bound(**values):
    """Sets the given ids (None clears one) for the block, then puts the previous values back."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown context fields: {sorted(unknown)}")
    tokens = [(_vars[name], _vars[name].set(None if value is None else str(value))) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    """The caller's `X-Request-Id` when it is acceptable, else a new one."""
    if value and _ACCEPTED_REQUEST_ID.match(value):
        return value
    return new_request_id()


class RequestIdMiddleware:
    """Takes the caller's `X-Request-Id` (or makes one), binds it for the request and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = accepted_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = rid
        with bound(request_id=rid, partner=None, tenant=None, run_id=None, step=None):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = rid
        return response

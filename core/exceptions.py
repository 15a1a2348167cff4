"""The one domain error type. Services raise it; the API's exception handler (core/api.py) answers it."""

from __future__ import annotations


class ApplicationError(Exception):
    """A domain error a caller can fix; services raise it, the API answers it as a 4xx."""

    status_code = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None,
                 fields: dict | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.fields = fields or {}
        self.extra = extra or {}


class Conflict(ApplicationError):
    """The request is valid but the current state forbids it (a run already going, a name taken)."""

    status_code = 409
    code = "conflict"

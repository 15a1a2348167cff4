"""The errors every caller of JAGGAER and QuickBooks sees.

Two families: a `ConnectionFailure` means the connection itself is unusable (stop the run, tell the
customer what to fix); a `RemoteError` is one call that failed after retries (record it against the
record and carry on, or retry later when `transient`). Messages are written for the customer and never
contain a secret.
"""

from __future__ import annotations

SYSTEM_NAMES = {"qbo": "QuickBooks Online", "jaggaer": "JAGGAER"}


class ConnectionFailure(Exception):
    """The connection cannot be used until someone fixes it (`message` says what)."""

    default_reason = "connection_failed"

    def __init__(self, message: str, *, system: str, reason: str | None = None):
        super().__init__(message)
        self.system = system
        self.reason = reason or self.default_reason
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(system={self.system!r}, reason={self.reason!r}, message={self.message!r})"


class NeedsReauthorization(ConnectionFailure):
    """QBO refused the refresh token (invalid_grant) or the consent was revoked: the customer reconnects."""

    default_reason = "needs_reauthorization"


class CredentialsRejected(ConnectionFailure):
    """The client id/secret (or a freshly issued token) was refused: the customer fixes the credentials."""

    default_reason = "credentials_rejected"


class NotConfigured(ConnectionFailure):
    """The tenant has no usable connection for this system yet."""

    default_reason = "not_configured"


class RemoteError(Exception):
    """One call that failed after the retries the HTTP layer allows.

    `status` is the HTTP status (None when no answer came), `code` the system's own error code
    (QBO fault code, JAGGAER returnCode, or for transport errors one of `dns`, `refused`, `tls`,
    `connect_timeout`, `read_timeout`, `dropped`, `invalid_url`, `connection`), `transient` whether
    the same call may succeed later.
    """

    def __init__(self, message: str, *, system: str, status: int | None = None, code: str | None = None,
                 detail: str | None = None, intuit_tid: str | None = None, transient: bool = False):
        super().__init__(message)
        self.system = system
        self.status = status
        self.code = None if code is None else str(code)
        self.message = message
        self.detail = detail
        self.intuit_tid = intuit_tid
        self.transient = transient

    def __str__(self) -> str:
        parts = [self.message]
        if self.detail and self.detail != self.message:
            parts.append(f": {self.detail}")
        if self.code and self.code not in self.message:
            parts.append(f" (code {self.code})")
        return "".join(parts)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(system={self.system!r}, status={self.status!r}, code={self.code!r}, "
                f"message={self.message!r}, transient={self.transient!r}, intuit_tid={self.intuit_tid!r})")


class QboFault(RemoteError):
    """A QuickBooks fault: JSON `Fault`, the lower-case gateway `fault`, or the XML throttle fault.

    `errors` holds every entry of the fault (dicts with message, detail, code, element); the first one
    fills `message`, `detail` and `code`. `fault_type` is QBO's `type` (ValidationFault, SERVICE, ...).
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 detail: str | None = None, intuit_tid: str | None = None, transient: bool = False,
                 fault_type: str | None = None, element: str | None = None, errors: list[dict] | None = None):
        super().__init__(message, system="qbo", status=status, code=code, detail=detail,
                         intuit_tid=intuit_tid, transient=transient)
        self.fault_type = fault_type
        self.element = element
        self.errors = errors or []

    @property
    def is_stale_object(self) -> bool:
        """5010 means a stale SyncToken *or* a closed accounting period: only the first is worth a re-read."""
        text = f"{self.message} {self.detail or ''}".lower()
        return self.code == "5010" and "stale" in text

    @property
    def is_throttled(self) -> bool:
        return self.status == 429 or self.code == "3001"


class JaggaerError(RemoteError):
    """A JAGGAER call that failed: an HTTP error or an envelope with a non-zero `returnCode`."""

    def __init__(self, message: str, **kwargs):
        kwargs.setdefault("system", "jaggaer")
        super().__init__(message, **kwargs)


class TransportError(RemoteError):
    """No usable HTTP answer: DNS, connection refused, TLS, timeout or a dropped connection."""

    def __str__(self) -> str:
        return self.message

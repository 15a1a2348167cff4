"""Call reporting: every attempt the HTTP layer makes is told to `call_listeners` as an `ApiCallInfo`.

The audit's recorder is subscribed here (ConnectionsConfig.ready); `record_calls()` collects the calls of
a block for tests, the ping and the benchmarks. An `ApiCallInfo` never holds a secret.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiCallInfo:
    """One attempt of one outbound call, as the audit log stores it. Never holds a secret."""

    system: str
    method: str
    path: str                   # URL path plus the query string with secret values masked
    status: int | None          # None when no HTTP answer came
    code: str | None            # vendor error code (QBO fault code, JAGGAER returnCode) or transport kind
    intuit_tid: str | None
    attempt: int                # 1-based
    duration_ms: float
    tenant_id: Any
    realm_id: str | None
    error: str | None           # short customer-readable description of a failed attempt


CallListener = Callable[[ApiCallInfo], None]
call_listeners: list[CallListener] = []


def notify(info: ApiCallInfo) -> None:
    for listener in list(call_listeners):
        try:
            listener(info)
        except Exception:   # noqa: BLE001 - a broken listener must not break the call it observes
            logger.exception("call listener %r failed", listener)


class record_calls:   # noqa: N801 - used like a function: `with record_calls() as calls:`
    """Context manager collecting every ApiCallInfo reported while it is open (tests, ping, benchmarks)."""

    def __init__(self) -> None:
        self.calls: list[ApiCallInfo] = []
        self._lock = threading.Lock()

    def _add(self, info: ApiCallInfo) -> None:
        with self._lock:
            self.calls.append(info)

    def __enter__(self) -> list[ApiCallInfo]:
        call_listeners.append(self._add)
        return self.calls

    def __exit__(self, *exc: Any) -> None:
        call_listeners.remove(self._add)

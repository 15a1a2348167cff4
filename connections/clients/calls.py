"""Call reporting: every attempt the HTTP layer makes is told to `call_listeners` as an `ApiCallInfo`.

The audit's recorder is subscribed here (ConnectionsConfig.ready); `record_calls()` collects the calls of
a block for tests, the ping and the benchmarks. An `ApiCallInfo` never holds a secret.

Listeners run on the thread that owns the work: a request sent from a helper thread for a run
(`http.Exchange`: QBO batches, JAGGAER pages read ahead) reports into `holding(...)`, and the run's thread
hands those calls to the listeners with `replay(...)` (the audit's buffer and its run id are per thread).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    at: dt.datetime | None = None   # when it was made, if told later than that (a held call); else now


CallListener = Callable[[ApiCallInfo], None]
call_listeners: list[CallListener] = []
_held: ContextVar[list[ApiCallInfo] | None] = ContextVar("mlc_calls_held", default=None)


def notify(info: ApiCallInfo) -> None:
    held = _held.get()
    if held is not None:
        held.append(dataclasses.replace(info, at=info.at or dt.datetime.now(dt.UTC)))
        return
    for listener in list(call_listeners):
        try:
            listener(info)
        except Exception:   # noqa: BLE001 - a broken listener must not break the call it observes
            logger.exception("call listener %r failed", listener)


@contextmanager
def holding(calls: list[ApiCallInfo]) -> Iterator[list[ApiCallInfo]]:
    """Calls reported inside (in this context) are appended to `calls` instead of told to the listeners."""
    token = _held.set(calls)
    try:
        yield calls
    finally:
        _held.reset(token)


def replay(calls: list[ApiCallInfo]) -> None:
    """Tell held calls to the listeners, on this thread, in the order they were made."""
    for info in calls:
        notify(info)


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

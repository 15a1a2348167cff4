"""The one way anything writes audit rows: per-record events, outbound calls, people's actions."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from audit.actions import action_code_check
from audit.models import Action, ApiCall, Outcome, RecordEvent
from core import bulk, context, metrics
from core.actor import Actor, actor_from_request
from core.redaction import redact_text
from core.tenancy import unscoped

logger = logging.getLogger(__name__)

MESSAGE_MAX = 2000


@dataclass
class RecordEventData:
    tenant_id: object
    entity: str
    source_id: str
    outcome: str
    run_id: object = None
    qbo_id: str = ""
    reason: str = ""
    message: str = ""
    qbo_error_code: str = ""
    intuit_tid: str = ""
    data: dict = field(default_factory=dict)


_OUTCOMES = frozenset(Outcome.values)
_TEXT_KEYS = ("qbo_id", "reason", "message", "qbo_error_code", "intuit_tid")
_FIELDS = frozenset({"tenant_id", "run_id", "entity", "source_id", "qbo_id", "outcome", "reason", "message",
                     "qbo_error_code", "intuit_tid", "data", "created_at"})


def _values(event: RecordEventData | dict) -> dict:
    values = asdict(event) if isinstance(event, RecordEventData) else dict(event)
    if values["outcome"] not in _OUTCOMES:
        raise ValueError(f"unknown audit outcome {values['outcome']!r}")
    for key in _TEXT_KEYS:
        values[key] = str(values.get(key) or "")
    values["message"] = values["message"][:MESSAGE_MAX]
    values["source_id"] = str(values["source_id"])[:200]
    values["data"] = values.get("data") or {}
    if "tenant" in values:
        tenant = values.pop("tenant")
        values.setdefault("tenant_id", getattr(tenant, "pk", tenant))
    unknown = set(values) - _FIELDS
    if unknown:
        raise TypeError(f"unknown audit event fields: {', '.join(sorted(unknown))}")
    return values


def _row(event: RecordEventData | dict) -> RecordEvent:
    return RecordEvent(**_values(event))


def record_events(events: Iterable[RecordEventData | dict], *, batch_size: int = 1000) -> int:
    """Insert many audit rows with one INSERT per `batch_size` rows (core.bulk); returns how many."""
    rows = [_values(event) for event in events]
    if not rows:
        return 0
    metrics.records_handled(rows)
    for start in range(0, len(rows), batch_size):
        bulk.insert(RecordEvent, rows[start:start + batch_size])
    return len(rows)


def record(**fields) -> RecordEvent:
    """One audit row (for one-off events; pipelines use `record_events`)."""
    row = _row(fields)
    row.save()
    return row


# ============================================================================ the outbound call log
#
# Every attempt the shared HTTP layer makes is reported to `api_call_record` (subscribed through the
# `audit` entry point in ConnectionsConfig.ready). Calls are kept in a per-thread buffer and written
# with one INSERT at safe points: after a pipeline batch commits (once enough are buffered), at the
# end of a run, of a request and of a Celery task. Writing the log must never break the work it observes.

API_CALL_FLUSH_SIZE = 200          # a batch boundary writes the buffer once it holds this many calls
API_CALL_FLUSH_SECONDS = 30.0      # ... or once its oldest call is this old
API_CALL_BUFFER_MAX = 5000         # beyond this, write at once wherever we are (bounded memory)

_local = threading.local()


def _calls_state():
    state = _local.__dict__
    if "buffer" not in state:
        state.update(buffer=[], run_id=None, since=None)
    return state


def _clip(value, limit: int) -> str:
    return str(value or "")[:limit]


def api_call_record(info) -> None:
    """Listener for `connections.clients.calls.call_listeners`: buffer one `ApiCallInfo`."""
    state = _calls_state()
    error = _clip(redact_text(info.error) if info.error else "", 1000)
    state["buffer"].append(ApiCall(
        tenant_id=info.tenant_id, run_id=state["run_id"], system=_clip(info.system, 20),
        method=_clip(info.method, 10), path=_clip(info.path, 1000), status=info.status,
        code=_clip(info.code, 60), intuit_tid=_clip(info.intuit_tid, 100), realm_id=_clip(info.realm_id, 40),
        attempt=max(1, int(info.attempt or 1)), duration_ms=max(0, round(info.duration_ms or 0)),
        error=error, request_id=context.request_id() or "", created_at=getattr(info, "at", None) or timezone.now()))
    if state["since"] is None:
        state["since"] = time.monotonic()
    if len(state["buffer"]) >= API_CALL_BUFFER_MAX:
        api_calls_flush()


def api_calls_pending() -> int:
    """Calls buffered in this thread and not written yet."""
    return len(_calls_state()["buffer"])


def api_calls_discard() -> int:
    """Forget this thread's buffered calls (tests start clean with it)."""
    state = _calls_state()
    dropped = len(state["buffer"])
    state.update(buffer=[], since=None)
    return dropped


def api_calls_flush(*, force: bool = True) -> int:
    """Write this thread's buffered calls in one INSERT; with force=False only once enough have gathered.

    Returns how many rows were written. A database error is logged and swallowed; inside a
    transaction the INSERT runs in a savepoint so it cannot poison the caller's work.
    """
    state = _calls_state()
    rows = state["buffer"]
    if not rows:
        return 0
    if not force and len(rows) < API_CALL_FLUSH_SIZE and \
            time.monotonic() - (state["since"] or 0) < API_CALL_FLUSH_SECONDS:
        return 0
    connection = transaction.get_connection()
    if connection.needs_rollback:
        return 0    # the caller's transaction is broken: keep the calls for the next safe point
    state.update(buffer=[], since=None)
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                ApiCall.objects.bulk_create(rows, batch_size=1000)
        else:
            ApiCall.objects.bulk_create(rows, batch_size=1000)
    except DatabaseError:
        logger.exception("could not write %d outbound call log rows; they are dropped", len(rows))
        return 0
    return len(rows)


@contextmanager
def api_call_scope(*, run_id=None) -> Iterator[None]:
    """Calls made inside carry `run_id`; the buffer is written when the scope ends."""
    state = _calls_state()
    previous = state["run_id"]
    state["run_id"] = run_id
    try:
        yield
    finally:
        state["run_id"] = previous
        api_calls_flush()


def api_call_retention_days() -> int:
    return int(getattr(settings, "API_CALL_RETENTION_DAYS", 30))


@unscoped("the call log of every tenant is pruned")
def api_calls_prune(*, now: dt.datetime | None = None, days: int | None = None, chunk: int = 10_000) -> int:
    """Delete outbound call rows older than the retention period, in chunks; returns how many."""
    days = api_call_retention_days() if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted = 0
    while True:
        ids = list(ApiCall.objects.filter(created_at__lt=cutoff).order_by().values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        deleted += ApiCall.objects.filter(pk__in=ids).delete()[0]


def audit_retention_days() -> int:
    return int(getattr(settings, "AUDIT_RETENTION_DAYS", 400))


def _prune_older(model, cutoff: dt.datetime, batch: int) -> int:
    """Delete `model` rows created before `cutoff`, oldest first, `batch` rows a statement (each a short
    transaction walking the created_at index, so the table stays writable while it runs)."""
    deleted = 0
    while True:
        oldest = model.objects.filter(created_at__lt=cutoff).order_by("created_at").values("pk")[:batch]
        count, _ = model.objects.filter(pk__in=oldest).delete()
        deleted += count
        if count < batch:
            return deleted


@unscoped("retention applies to every tenant's audit rows")
def audit_prune(*, now: dt.datetime | None = None, days: int | None = None, api_call_days: int | None = None,
                batch: int | None = None) -> dict[str, int]:
    """Delete record events and people's actions older than AUDIT_RETENTION_DAYS and outbound calls older than
    API_CALL_RETENTION_DAYS; returns how many of each."""
    now = now or timezone.now()
    batch = batch or int(getattr(settings, "PRUNE_BATCH_SIZE", 10_000))
    cutoff = now - dt.timedelta(days=audit_retention_days() if days is None else days)
    calls_cutoff = now - dt.timedelta(days=api_call_retention_days() if api_call_days is None else api_call_days)
    return {"record_events": _prune_older(RecordEvent, cutoff, batch),
            "actions": _prune_older(Action, cutoff, batch),
            "api_calls": _prune_older(ApiCall, calls_cutoff, batch)}


# ============================================================================ people's actions

_SECRET_NAME = re.compile(r"secret|token|password|passwd|private|credential", re.IGNORECASE)


def _scrub(value):
    """Mask values under secret-looking keys (a flag such as `client_secret_set: true` stays)."""
    if isinstance(value, dict):
        return {k: ("***" if _SECRET_NAME.search(str(k)) and not isinstance(v, bool | None) else _scrub(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def action(code: str, *, actor, tenant=None, tenant_id=None, target_type: str = "", target_id: object = "",
           before: dict | None = None, after: dict | None = None, data: dict | None = None) -> Action:
    """Record one action of a person (or the system). `actor` is an `Actor` or the request; `code` must be
    registered in `audit.actions.ACTIONS` (ValueError otherwise). Services call it inside the transaction
    of the change it records."""
    action_code_check(code)
    if not isinstance(actor, Actor):
        actor = actor_from_request(actor)
    return Action.objects.create(
        tenant_id=tenant.pk if tenant is not None else tenant_id, actor_kind=actor.kind,
        actor_label=actor.label[:300], actor_id=actor.id[:100],
        action=code, target_type=target_type[:60], target_id=str(target_id)[:300],
        before=_scrub(before) if before is not None else None, after=_scrub(after) if after is not None else None,
        data=_scrub(data or {}), request_id=context.request_id() or "")

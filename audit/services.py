"""The one way anything writes per-record audit rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from audit.models import Outcome, RecordEvent

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


def _row(event: RecordEventData | dict) -> RecordEvent:
    values = asdict(event) if isinstance(event, RecordEventData) else dict(event)
    if values["outcome"] not in Outcome.values:
        raise ValueError(f"unknown audit outcome {values['outcome']!r}")
    for key in ("qbo_id", "reason", "message", "qbo_error_code", "intuit_tid"):
        values[key] = str(values.get(key) or "")
    values["message"] = values["message"][:MESSAGE_MAX]
    values["source_id"] = str(values["source_id"])[:200]
    values["data"] = values.get("data") or {}
    return RecordEvent(**values)


def record_events(events: Iterable[RecordEventData | dict], *, batch_size: int = 1000) -> int:
    """Insert many audit rows with one INSERT per `batch_size` rows; returns how many."""
    rows = [_row(event) for event in events]
    if rows:
        RecordEvent.objects.bulk_create(rows, batch_size=batch_size)
    return len(rows)


def record(**fields) -> RecordEvent:
    """One audit row (for one-off events; pipelines use `record_events`)."""
    row = _row(fields)
    row.save()
    return row

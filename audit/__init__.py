"""Audit trail. Everyone writes through `audit.record_events(...)` (bulk) or `audit.record(...)`."""


def record_events(events, **kwargs) -> int:
    from audit.services import record_events as _record_events

    return _record_events(events, **kwargs)


def record(**fields):
    from audit.services import record as _record

    return _record(**fields)

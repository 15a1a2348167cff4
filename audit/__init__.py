"""Audit trail, written by everyone through this one entry point (imports are lazy: no app cycles).

- `record_events(...)` / `record(...)`: what happened to each record in a run.
- `action(code, actor=..., tenant=..., before=..., after=...)`: what a person did (its `actor` from `core.actor`).
- `api_call_record(info)`: the listener the HTTP layer reports each outbound attempt to (buffered);
  `api_call_scope(run_id=...)`, `api_calls_flush(force=...)`, `api_calls_prune(...)`: that buffered log.
- `audit_prune(...)`: retention of all three (record events, actions, outbound calls).

Other apps import this package to write, and read through `audit.models`, `audit.selectors` and
`audit.serializers`; the rest of `audit` is its own (tests/test_architecture.py holds everyone to it).
The audit imports `core` and `tenants` only (a row's tenant), never `connections` or `sync`.
"""


def record_events(events, **kwargs) -> int:
    from audit.services import record_events as _record_events

    return _record_events(events, **kwargs)


def record(**fields):
    from audit.services import record as _record

    return _record(**fields)


def action(code: str, **kwargs):
    from audit.services import action as _action

    return _action(code, **kwargs)


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    from audit.services import changes as _changes

    return _changes(before, after)


def api_call_scope(**kwargs):
    from audit.services import api_call_scope as _scope

    return _scope(**kwargs)


def api_calls_flush(*, force: bool = True) -> int:
    from audit.services import api_calls_flush as _flush

    return _flush(force=force)


def api_call_record(info) -> None:
    from audit.services import api_call_record as _record

    _record(info)


def audit_prune(**kwargs) -> dict[str, int]:
    from audit.services import audit_prune as _prune

    return _prune(**kwargs)


def api_calls_prune(**kwargs) -> int:
    from audit.services import api_calls_prune as _prune

    return _prune(**kwargs)

"""Webhooks to partners. Other apps call one entry point: `webhooks.emit(event_type=..., data=..., tenant=...)`,
inside the transaction of the change the event reports (the event types are in `webhooks.events`)."""

from __future__ import annotations

from webhooks.events import rfc3339

__all__ = ["emit", "rfc3339"]


def emit(**kwargs):
    from webhooks.services import emit as _emit

    return _emit(**kwargs)

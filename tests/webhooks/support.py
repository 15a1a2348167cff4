"""Runs that finish the way the lifecycle finishes them (`run_steps`), with the holds or the failure a test
asks for, and a clock a test moves instead of sleeping."""

from __future__ import annotations

import datetime as dt
import socket

from django.utils import timezone

from connections.exceptions import NotConfigured
from core.outcomes import Outcome
from sync.models import Hold, SyncRun
from sync.runs.lifecycle import run_steps, sync_run_create


def finish_run(tenant, *, holds: tuple[tuple[str, str, str], ...] = (), fail: bool = False) -> SyncRun:
    """A run of `tenant` that holds `(entity, source_id, reason)` records, then succeeds (or fails)."""
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND)

    def body(ctx) -> None:
        for entity, source_id, reason in holds:
            ctx.count(entity, Outcome.HELD)
            Hold.objects.create(tenant=tenant, entity=entity, source_id=source_id, reason=reason, record={},
                                source_digest="d", last_run=run)
        if fail:
            raise NotConfigured("QuickBooks is not connected for this tenant: connect it first", system="qbo")

    return run_steps(run=run, qbo=None, jaggaer=None, body=body)


def later(**delta) -> dt.datetime:
    return timezone.now() + dt.timedelta(**delta)


def closed_port_url() -> str:
    """A URL on this machine where nothing listens: an endpoint that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"

"""Heartbeats of the background processes, kept in the shared cache (Redis) for /healthz/ready."""

from __future__ import annotations

import time

from django.core.cache import cache

WORKER_HEARTBEAT_KEY = "ops:heartbeat:worker"
BEAT_HEARTBEAT_KEY = "ops:heartbeat:beat"


def worker_heartbeat(now: float | None = None) -> None:
    """A worker is alive: config/celery.py calls it when a worker starts and after each task."""
    cache.set(WORKER_HEARTBEAT_KEY, now if now is not None else time.time(), timeout=None)


def beat_heartbeat(now: float | None = None) -> None:
    """Beat is alive: a worker took the `ops.heartbeat` task that only beat sends."""
    cache.set(BEAT_HEARTBEAT_KEY, now if now is not None else time.time(), timeout=None)

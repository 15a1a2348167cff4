"""This process was asked to stop (a worker's SIGTERM): long jobs stop at their next safe point.

config/celery.py sets it when a worker begins its warm shutdown; a sync checks it between batches, stops
there and leaves the rest to the next run. Prefork pool children never see the worker's SIGTERM (and
billiard resets their handlers), so the flag also lives in one byte of shared memory made before the pool
forks (`share_with_children`): the children read the worker's flag.
"""

from __future__ import annotations

import threading

_requested = threading.Event()
_shared = None   # multiprocessing RawValue("b"), inherited by forked children


def share_with_children() -> None:
    global _shared
    if _shared is None:
        from multiprocessing.sharedctypes import RawValue

        _shared = RawValue("b", 0)


def request() -> None:
    _requested.set()
    if _shared is not None:
        _shared.value = 1


def requested() -> bool:
    return _requested.is_set() or (_shared is not None and _shared.value == 1)


def clear() -> None:
    _requested.clear()
    if _shared is not None:
        _shared.value = 0

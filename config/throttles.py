"""Moved to `core.throttles`; these names stay only for the sync modules that still import them from here
(tests/test_architecture.py lists them in KNOWN_SYNC_EDGES_TO_FIX). Import from `core.throttles`."""

from core.throttles import PartnerKeyThrottle, SyncRequestThrottle

__all__ = ["PartnerKeyThrottle", "SyncRequestThrottle"]

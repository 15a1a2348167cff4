"""Moved to `core.api`; this name stays only for the sync modules that still import it from here
(tests/test_architecture.py lists them in KNOWN_SYNC_EDGES_TO_FIX). Import from `core.api`."""

from core.api import error_body

__all__ = ["error_body"]

"""Moved to `core.parsers`; these names stay only for the sync modules that still import them from here
(tests/test_architecture.py lists them in KNOWN_SYNC_EDGES_TO_FIX). Import from `core.parsers`."""

from core.parsers import depth_message, json_depth

__all__ = ["depth_message", "json_depth"]

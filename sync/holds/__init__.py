"""Holds: records waiting on a reason; released when the reason is fixed."""

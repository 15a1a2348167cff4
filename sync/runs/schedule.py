"""When each tenant's daily sync is due: its local hour, in its time zone, plus a fixed jitter.

The jitter is derived from the tenant id, so a tenant keeps the same minute every day while a
thousand tenants set to 02:00 spread over the jitter window instead of starting in one second.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def jitter_seconds(tenant_id, window_seconds: int) -> int:
    if window_seconds <= 0:
        return 0
    digest = hashlib.sha256(str(tenant_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % window_seconds


def next_run_at(*, tenant_id, time_zone: str, hour: int, after: datetime, jitter_window_seconds: int) -> datetime:
    """The first daily run strictly after `after` (UTC), at `hour` local time plus the tenant's jitter."""
    zone = ZoneInfo(time_zone)
    jitter = timedelta(seconds=jitter_seconds(tenant_id, jitter_window_seconds))
    local_day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(4):
        # A local time that does not exist (spring forward) resolves to the instant after the gap.
        local = datetime.combine(local_day, time(hour), tzinfo=zone)
        candidate = local.astimezone(UTC) + jitter
        if candidate > after:
            return candidate
        local_day += timedelta(days=1)
    raise AssertionError("unreachable: a day always has the hour")

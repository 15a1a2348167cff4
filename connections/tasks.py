"""Entry points for periodic work on connections: plain functions the scheduler's Celery tasks call."""

from __future__ import annotations

from connections import services


def qbo_connections_keep_alive() -> dict[str, int]:
    """Refresh each connected QBO connection idle for 20 hours, so no refresh token lapses unused."""
    return services.qbo_connections_keep_alive()

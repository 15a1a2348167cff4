"""What the demo runs on: a fresh SQLite file, both sandboxes in this process, settings pointed at them.

Nothing here reads or changes anything outside this process but the demo's own database file. Settings
are changed in memory, for this process only, after Django has read the environment: the sandboxes
listen on free ports that are only known once they run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sandbox.qbo.app import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
from sandbox.qbo.oauth import DEFAULT_CLIENT_ID as QBO_CLIENT_ID
from sandbox.qbo.oauth import DEFAULT_CLIENT_SECRET as QBO_CLIENT_SECRET
from sandbox.runner import Sandboxes, start_sandboxes

# Per-realm limits: what the QBO sandbox enforces, and the budget our realm limiter keeps to, a little under
# it (the same headroom as the settings' defaults: 9 in flight, 9/s, 480/min, 38 batches/min under Intuit's
# 10, 10, 500, 40). By default the demo raises both sides tenfold so its two syncs take seconds, not the
# minute Intuit's 40 batches/minute would impose; `--intuit-limits` keeps Intuit's.
INTUIT = {"requests_per_minute": 500, "requests_per_second": 10, "batches_per_minute": 40, "concurrent": 10}
RAISED = {"requests_per_minute": 5000, "requests_per_second": 100, "batches_per_minute": 400, "concurrent": 10}
OUR_SHARE = 0.95

# A 429 from QuickBooks carries no Retry-After; production waits HTTP_THROTTLE_DEFAULT_WAIT (60 s) before
# trying again. The demo waits this long instead, so its 429 storm costs seconds, not minutes.
DEMO_THROTTLE_WAIT = 1.0


@dataclass
class Limits:
    sandbox: dict[str, int]           # set_limits() of the QBO sandbox, every realm
    ours: dict[str, int]              # our realm limiter's budget (same keys)

    @classmethod
    def choose(cls, intuit: bool) -> Limits:
        sandbox = INTUIT if intuit else RAISED
        ours = {key: max(1, int(value * OUR_SHARE)) for key, value in sandbox.items()}
        ours["concurrent"] = sandbox["concurrent"] - 1
        return cls(dict(sandbox), ours)

    @property
    def raised(self) -> bool:
        return self.sandbox["requests_per_minute"] > INTUIT["requests_per_minute"]

    @staticmethod
    def describe(limits: dict[str, int]) -> str:
        return (f"{limits['requests_per_minute']}/min, {limits['requests_per_second']}/s, "
                f"{limits['batches_per_minute']} batches/min, {limits['concurrent']} in flight")


def use_fresh_sqlite(path: Path) -> Path:
    """Point the default database at a new, empty SQLite file (any old file at `path` is removed).

    Called before anything touches the database. The demo never uses DATABASE_URL: whatever it names
    (a developer's database, PostgreSQL) stays untouched."""
    from django.db import connections

    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    connections.close_all()
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    config = settings.DATABASES["default"]
    config.clear()
    # WAL lets the API's request threads read while a sync writes; IMMEDIATE write transactions and a
    # generous timeout make writers queue instead of failing with "database is locked".
    config.update({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path),
                   "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                               "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}})
    connections.configure_settings({"default": config})
    try:
        del connections["default"]
    except AttributeError:
        pass
    return path


def start(dataset: str, limits: Limits) -> Sandboxes:
    """Both sandboxes on free ports of 127.0.0.1, loaded with `dataset`, QBO at `limits.sandbox` on every realm."""
    return start_sandboxes(dataset, qbo_limits=dict(limits.sandbox))


def configure(*, sandboxes: Sandboxes, public_url: str, limits: Limits) -> None:
    """Settings of this process pointed at the sandboxes and at our own server's address."""
    from config.celery import app

    values = {
        # Intuit's endpoints -> the QBO sandbox; our redirect URI -> the demo's server.
        "PUBLIC_BASE_URL": public_url,
        "QBO_CLIENT_ID": QBO_CLIENT_ID,
        "QBO_CLIENT_SECRET": QBO_CLIENT_SECRET,
        "QBO_REDIRECT_URI": f"{public_url}/oauth/qbo/callback",
        "QBO_AUTHORIZE_URL": sandboxes.qbo_url + AUTHORIZE_PATH,
        "QBO_TOKEN_URL": sandboxes.qbo_url + TOKEN_PATH,
        "QBO_REVOKE_URL": sandboxes.qbo_url + REVOKE_PATH,
        "QBO_API_BASE": sandboxes.qbo_url,
        # The realm limiter keeps to exactly what the sandbox enforces, in this process (no Redis).
        "REDIS_URL": "",
        "QBO_REQUESTS_PER_MINUTE": limits.ours["requests_per_minute"],
        "QBO_REQUESTS_PER_SECOND": limits.ours["requests_per_second"],
        "QBO_BATCHES_PER_MINUTE": limits.ours["batches_per_minute"],
        "QBO_MAX_IN_FLIGHT": limits.ours["concurrent"],
        "QBO_LIMIT_WINDOW_SECONDS": 60,
        "HTTP_THROTTLE_DEFAULT_WAIT": DEMO_THROTTLE_WAIT,
        # The JAGGAER sandbox is a customer-given host on 127.0.0.1: the outbound policy must let it through.
        "OUTBOUND_ALLOW_PRIVATE_HOSTS": True,
        # Tasks run in this process, at once (no broker, no worker).
        "CELERY_BROKER_URL": "memory://localhost/",
        "TASKS_IN_PROCESS": True,
        "CELERY_TASK_ALWAYS_EAGER": True,
    }
    for name, value in values.items():
        setattr(settings, name, value)
    app.conf.broker_url = "memory://localhost/"
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


def quiet_logging() -> None:
    """The demo prints its own story; routine INFO lines from the app would drown it."""
    logging.getLogger().setLevel(logging.WARNING)
    # Retries show in the demo's own lines (the call log read through the API), not as log lines.
    logging.getLogger("connections.clients.http").setLevel(logging.ERROR)

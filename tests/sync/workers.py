"""Real Celery worker processes for integration tests, on the real Redis broker and the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from django.db import connection

from config.celery import app
from tests.connections.support import qbo_settings_for

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = "redis://127.0.0.1:6379/13"
# Other test sessions may share this Redis database: this session's queues live under its own prefix.
KEY_PREFIX = f"mlc-test-{uuid.uuid4().hex[:12]}:"


def use_broker(url: str | None) -> None:
    """Point this process's Celery app at a broker (None: back to in-process eager tasks)."""
    app.conf.broker_url = url or "memory://"
    app.conf.broker_transport_options = {"global_keyprefix": KEY_PREFIX} if url else {}
    app.conf.task_always_eager = url is None
    app._pool = None
    app.amqp._producer_pool = None


def worker_env(qbo_url: str, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_BROKER_KEY_PREFIX": KEY_PREFIX,
        "HTTP_BACKOFF_BASE": "0.01", "HTTP_BACKOFF_CAP": "0.05", "HTTP_THROTTLE_DEFAULT_WAIT": "0.05",
        "HTTP_READ_TIMEOUT": "10",
        **qbo_settings_for(qbo_url),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Worker:
    def __init__(self, env: dict, name: str, log_dir: Path, *, concurrency: int = 1, pool: str | None = None,
                 queues: str | None = None):
        """A worker of `concurrency` slots (solo for 1, else prefork, unless `pool` says which); without `queues`
        it consumes every queue config/celery.py declares."""
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115
        pool = pool or ("solo" if concurrency == 1 else "prefork")
        pool_args = ["-P", pool] + ([] if pool == "solo" else ["-c", str(concurrency)])
        queue_args = ["-Q", queues] if queues else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", *queue_args, *pool_args,
             "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT, env={**env, "DJANGO_ALLOW_ASYNC_UNSAFE": "true"}, stdout=self._log,
            stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> Worker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log_path.read_text():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def flush_broker() -> None:
    """Drop this session's queues (and only them)."""
    client = redis.Redis.from_url(BROKER_URL)
    keys = list(client.scan_iter(f"{KEY_PREFIX}*"))
    if keys:
        client.delete(*keys)


def wait_for(predicate, *, timeout: float = 90, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def max_overlap(entries: list[dict]) -> int:
    """Most requests the sandbox had in flight at once, from its log (end time and duration)."""
    events = []
    for e in entries:
        end = e["at"]
        events += [(end - e["duration_ms"] / 1000, 1), (end, -1)]
    current = best = 0
    for _, delta in sorted(events, key=lambda x: (x[0], x[1])):
        current += delta
        best = max(best, current)
    return best

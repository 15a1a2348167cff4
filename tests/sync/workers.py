"""Real Celery worker processes for integration tests, on a real broker (Redis or RabbitMQ) and the test database."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
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
REDIS_URL = "redis://127.0.0.1:6379/0"   # shared state (realm budget, cache) when the broker is RabbitMQ
RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672
# Other test sessions may share this Redis database: this session's queues live under its own prefix.
KEY_PREFIX = f"mlc-test-{uuid.uuid4().hex[:12]}:"
# ... and on RabbitMQ, under a virtual host of their own (made with rabbitmqctl, removed afterwards).
VHOST = f"mlc-test-{uuid.uuid4().hex[:12]}"
BROKERS = ("redis", "rabbitmq")


def rabbitmq_running() -> bool:
    try:
        socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=2).close()
    except OSError:
        return False
    return True


class Broker:
    """One broker for a test: its URL, what workers need in their environment, and how to empty it."""

    def __init__(self, kind: str):
        if kind not in BROKERS:
            raise ValueError(kind)
        if kind == "rabbitmq" and not rabbitmq_running():
            raise AssertionError(f"RabbitMQ is not running on {RABBITMQ_HOST}:{RABBITMQ_PORT}; `make test` and "
                                 f".ci/run start it (Debian: apt-get install rabbitmq-server)")
        self.kind = kind
        if kind == "redis":
            self.url = BROKER_URL
            self.options = {"global_keyprefix": KEY_PREFIX}
            self.env = {"CELERY_BROKER_URL": self.url, "CELERY_BROKER_KEY_PREFIX": KEY_PREFIX}
        else:
            self.vhost = _rabbitmq_vhost()
            self.url = f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{self.vhost}"
            self.options = {}
            self.env = {"CELERY_BROKER_URL": self.url, "CELERY_BROKER_KEY_PREFIX": "", "REDIS_URL": REDIS_URL}

    def flush(self) -> None:
        if self.kind == "redis":
            flush_broker()
            return
        app.control.purge()   # declares this app's queues in the session's virtual host and empties them


_vhost_made: list[str] = []


def _rabbitmq_vhost() -> str:
    """This session's virtual host (the default one, "/", shared, when rabbitmqctl is not at hand)."""
    if _vhost_made:
        return _vhost_made[0]
    ctl = shutil.which("rabbitmqctl")
    vhost = "%2F"
    if ctl:
        made = subprocess.run([ctl, "add_vhost", VHOST], capture_output=True, text=True, timeout=60)
        if made.returncode == 0:
            subprocess.run([ctl, "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"], capture_output=True,
                           timeout=60, check=True)
            vhost = VHOST
            atexit.register(remove_rabbitmq_vhost)
    _vhost_made.append(vhost)
    return vhost


def remove_rabbitmq_vhost() -> None:
    """At the end of the session: drop the virtual host and every queue in it."""
    ctl = shutil.which("rabbitmqctl")
    if _vhost_made and _vhost_made[0] == VHOST and ctl:
        subprocess.run([ctl, "delete_vhost", VHOST], capture_output=True, timeout=60)
    _vhost_made.clear()


def use_broker(url: str | None, options: dict | None = None) -> None:
    """Point this process's Celery app at a broker (None: back to in-process eager tasks)."""
    app.conf.broker_url = url or "memory://"
    app.conf.broker_transport_options = (options if options is not None else {"global_keyprefix": KEY_PREFIX}) \
        if url else {}
    app.conf.task_always_eager = url is None
    app._pool = None
    app.amqp._producer_pool = None


def worker_env(qbo_url: str, *, broker: Broker | None = None, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_BROKER_KEY_PREFIX": KEY_PREFIX,
        **(broker.env if broker else {}),
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

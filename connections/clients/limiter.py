"""Per-realm QuickBooks request budget, shared by every worker on every host.

Intuit allows each realm at most 10 requests in flight, 10 a second, 500 a minute and 40 batch
requests a minute. Workers wait here for a slot instead of collecting 429s. With Redis configured the
budget lives there (a fenced semaphore: a slot is a lease that expires, so a killed worker
cannot keep one forever; the minute windows are `limits` moving windows). Without Redis (the
demo on a laptop) the same rules hold inside one process.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from connections.exceptions import RemoteError
from core import metrics

_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""


class LimiterTimeout(RemoteError):
    """No slot within the wait limit: the realm is saturated for longer than we agreed to wait.

    A passing condition, like a 429: the records of that call are kept for the next run to retry."""

    def __init__(self, message: str):
        super().__init__(message, system="qbo", code="limiter_timeout", transient=True)


@dataclass(frozen=True)
class Budget:
    max_in_flight: int = 10
    per_minute: int = 500
    per_second: int = 10
    batches_per_minute: int = 40
    lease_seconds: float = 150.0  # longer than QBO's 120 s request timeout
    max_wait_seconds: float = 120.0  # well inside a run's lease (SYNC_LEASE_SECONDS), renewed between batches
    window_seconds: int = 60      # the "minute" of the minute budgets (shorter only in tests)


class _RedisSemaphore:
    def __init__(self, client, key: str, size: int, lease_seconds: float):
        self._client, self._key, self._size = client, key, size
        self._lease_ms = int(lease_seconds * 1000)
        self._script = client.register_script(_ACQUIRE)

    def try_acquire(self) -> str | None:
        token = uuid.uuid4().hex
        if self._script(keys=[self._key], args=[self._size, self._lease_ms, token]):
            return token
        return None

    def release(self, token: str) -> None:
        self._client.zrem(self._key, token)

    def in_flight(self) -> int:
        now_ms = int(time.time() * 1000)
        return self._client.zcount(self._key, now_ms, "+inf")


class _LocalSemaphore:
    def __init__(self, size: int):
        self._sem = threading.BoundedSemaphore(size)
        self._size = size
        self._taken = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> str | None:
        if self._sem.acquire(blocking=False):
            with self._lock:
                self._taken += 1
            return "local"
        return None

    def release(self, token: str) -> None:
        with self._lock:
            self._taken -= 1
        self._sem.release()

    def in_flight(self) -> int:
        return self._taken


class RealmLimiter:
    def __init__(self, *, realm_id: str, budget: Budget, redis_url: str | None = None, key_prefix: str = "mlc",
                 sleep: Callable[[float], None] = time.sleep, poll_seconds: float = 0.02):
        self.realm_id = realm_id
        self.key_prefix = key_prefix
        self.budget = budget
        self._sleep = sleep
        self._poll = poll_seconds
        if redis_url:
            storage = RedisStorage(redis_url)
            self._semaphore = _RedisSemaphore(
                storage.get_connection(), f"{key_prefix}:qbo:inflight:{realm_id}", budget.max_in_flight,
                budget.lease_seconds,
            )
        else:
            storage = MemoryStorage()
            self._semaphore = _LocalSemaphore(budget.max_in_flight)
        self._windows = MovingWindowRateLimiter(storage)
        self._per_minute = RateLimitItemPerSecond(budget.per_minute, budget.window_seconds)
        self._per_second = RateLimitItemPerSecond(budget.per_second, 1)
        self._batches = RateLimitItemPerSecond(budget.batches_per_minute, budget.window_seconds)
        self.waited_seconds = 0.0

    def in_flight(self) -> int:
        return self._semaphore.in_flight()

    def batch_budget_left(self, ahead: int = 0) -> bool:
        """Whether a batch request could go now without waiting for the batch window, after the `ahead` batch
        requests on their way before it (a hint, not a hold)."""
        return self._windows.test(self._batches, self.key_prefix, "qbo-batch", self.realm_id, cost=1 + ahead)

    def request_budget_left(self, n: int = 1) -> bool:
        """Whether `n` more requests fit in the realm's minute window now (a hint, not a hold)."""
        return self._windows.test(self._per_minute, self.key_prefix, "qbo", self.realm_id, cost=n)

    @contextmanager
    def slot(self, kind: str = "request") -> Iterator[None]:
        """Hold one of the realm's in-flight slots, inside its minute budgets, for one request."""
        started = time.monotonic()
        token = self._wait(self._semaphore.try_acquire, started)
        try:
            self._wait(self._window_taker(kind), started)
            metrics.limiter_waited(time.monotonic() - started)
            yield
        finally:
            self._semaphore.release(token)

    def _window_taker(self, kind: str) -> Callable[[], bool]:
        # Each window is hit at most once per slot: a failed attempt never double-spends the budget.
        needs = [(self._per_minute, "qbo"), (self._per_second, "qbo-second")]
        if kind == "batch":
            needs.insert(0, (self._batches, "qbo-batch"))

        def take() -> bool:
            while needs:
                item, scope = needs[0]
                if not self._windows.hit(item, self.key_prefix, scope, self.realm_id):
                    return False
                needs.pop(0)
            return True

        return take

    def _wait(self, attempt, started: float):
        delay = self._poll
        while True:
            result = attempt()
            if result:
                return result
            waited = time.monotonic() - started
            if waited > self.budget.max_wait_seconds:
                raise LimiterTimeout(
                    f"QuickBooks realm {self.realm_id} stayed at its request limit for {waited:.0f} s."
                )
            self._sleep(delay)
            self.waited_seconds += delay
            delay = min(delay * 2, 0.5)


_cache: dict[tuple, RealmLimiter] = {}
_cache_lock = threading.Lock()


def realm_limiter(realm_id: str) -> RealmLimiter:
    """The process-wide limiter of a realm, configured from settings."""
    from django.conf import settings

    budget = Budget(
        max_in_flight=settings.QBO_MAX_IN_FLIGHT,
        per_minute=settings.QBO_REQUESTS_PER_MINUTE,
        per_second=settings.QBO_REQUESTS_PER_SECOND,
        batches_per_minute=settings.QBO_BATCHES_PER_MINUTE,
        window_seconds=settings.QBO_LIMIT_WINDOW_SECONDS,
    )
    key = (realm_id, budget, settings.REDIS_URL, settings.QBO_LIMITER_KEY_PREFIX)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = RealmLimiter(realm_id=realm_id, budget=budget, redis_url=settings.REDIS_URL or None,
                                       key_prefix=settings.QBO_LIMITER_KEY_PREFIX)
        return _cache[key]

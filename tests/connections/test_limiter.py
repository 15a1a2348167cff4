"""The per-realm QBO budget, on the real Redis (and in-process for the embedded mode)."""

import multiprocessing
import threading
import time
import uuid

import pytest

from connections.clients.limiter import Budget, LimiterTimeout, RealmLimiter

REDIS_URL = "redis://127.0.0.1:6379/15"


def _realm() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def _max_overlap(intervals) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def _hold_slots(realm: str, count: int, hold: float, budget: Budget, out) -> None:
    limiter = RealmLimiter(realm_id=realm, budget=budget, redis_url=REDIS_URL)
    intervals = []
    lock = threading.Lock()

    def one():
        with limiter.slot():
            started = time.time()
            time.sleep(hold)
            with lock:
                intervals.append((started, time.time()))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.extend(intervals) if isinstance(out, list) else out.put(intervals)


@pytest.mark.parametrize("redis_url", [REDIS_URL, None], ids=["redis", "in-process"])
def test_it_never_lets_more_than_the_cap_in_flight(redis_url):
    budget = Budget(max_in_flight=3, per_minute=1000)
    limiter = RealmLimiter(realm_id=_realm(), budget=budget, redis_url=redis_url)
    intervals, lock = [], threading.Lock()

    def one():
        with limiter.slot():
            started = time.time()
            time.sleep(0.05)
            with lock:
                intervals.append((started, time.time()))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(intervals) == 12
    assert _max_overlap(intervals) == 3


def test_the_cap_holds_across_processes():
    realm, budget = _realm(), Budget(max_in_flight=4, per_minute=1000)
    queue = multiprocessing.get_context("spawn").Queue()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold_slots, args=(realm, 6, 0.1, budget, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    intervals = queue.get(timeout=60) + queue.get(timeout=60)
    for proc in procs:
        proc.join(timeout=30)
    assert len(intervals) == 12
    assert _max_overlap(intervals) == 4


def test_it_waits_for_the_minute_budget_and_gives_up_after_the_wait_limit():
    budget = Budget(max_in_flight=10, per_minute=5, max_wait_seconds=0.3)
    limiter = RealmLimiter(realm_id=_realm(), budget=budget, redis_url=REDIS_URL)
    for _ in range(5):
        with limiter.slot():
            pass
    started = time.monotonic()
    with pytest.raises(LimiterTimeout, match="request limit"):
        with limiter.slot():
            pass
    assert time.monotonic() - started >= 0.3
    assert limiter.in_flight() == 0


def test_batches_have_their_own_minute_budget():
    budget = Budget(max_in_flight=10, per_minute=100, batches_per_minute=2, max_wait_seconds=0.2)
    limiter = RealmLimiter(realm_id=_realm(), budget=budget, redis_url=REDIS_URL)
    for _ in range(2):
        with limiter.slot("batch"):
            pass
    with pytest.raises(LimiterTimeout):
        with limiter.slot("batch"):
            pass
    with limiter.slot():
        pass


def test_a_slot_left_by_a_killed_worker_expires():
    realm = _realm()
    budget = Budget(max_in_flight=1, per_minute=100, lease_seconds=0.3, max_wait_seconds=5)
    crashed = RealmLimiter(realm_id=realm, budget=budget, redis_url=REDIS_URL)
    assert crashed._semaphore.try_acquire() is not None  # taken and never released
    survivor = RealmLimiter(realm_id=realm, budget=budget, redis_url=REDIS_URL)
    started = time.monotonic()
    with survivor.slot():
        pass
    assert 0.2 <= time.monotonic() - started < 3


def test_it_keeps_to_the_per_second_budget():
    budget = Budget(max_in_flight=10, per_minute=1000, per_second=5, max_wait_seconds=10)
    limiter = RealmLimiter(realm_id=_realm(), budget=budget, redis_url=REDIS_URL)
    stamps = []
    for _ in range(12):
        with limiter.slot():
            stamps.append(time.time())
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.95


def test_two_realms_do_not_share_a_budget():
    budget = Budget(max_in_flight=1, per_minute=100, max_wait_seconds=0.2)
    first = RealmLimiter(realm_id=_realm(), budget=budget, redis_url=REDIS_URL)
    second = RealmLimiter(realm_id=_realm(), budget=budget, redis_url=REDIS_URL)
    with first.slot():
        with second.slot():
            assert first.in_flight() == 1 and second.in_flight() == 1


def _spend(realm: str, count: int, budget: Budget, out) -> None:
    limiter = RealmLimiter(realm_id=realm, budget=budget, redis_url=REDIS_URL)
    stamps = []
    for _ in range(count):
        with limiter.slot():
            stamps.append(time.time())
    out.put(stamps)


def test_the_window_budget_holds_across_processes():
    realm, budget = _realm(), Budget(max_in_flight=10, per_minute=6, window_seconds=2, max_wait_seconds=30)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_spend, args=(realm, 6, budget, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    stamps = sorted(queue.get(timeout=60) + queue.get(timeout=60))
    for proc in procs:
        proc.join(timeout=30)
    assert len(stamps) == 12
    # never more than 6 requests inside any 2-second window, so the 12 need more than one window
    for i in range(len(stamps) - 6):
        assert stamps[i + 6] - stamps[i] >= 1.9

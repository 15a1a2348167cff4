"""Bulk runs give way to the daily runs of their worker process between batches (sync/runs/queues.py)."""

import threading

import pytest

from sync.runs.queues import bulk_slot, daily_slot, give_way
from tests.connections.support import (  # noqa: F401  (fixtures)
    configured_jaggaer,
    connected_qbo,
    fast_http,
    jaggaer_app,
    qbo_app,
)


class FakeTime:
    """A clock that moves only when `sleep` is called; `on_sleep(n)` runs at the n-th sleep."""

    def __init__(self, on_sleep=None):
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(self.sleeps)


@pytest.fixture
def daily_run():
    """A daily run in this process, in a thread of its own, until `end()`."""
    started, release = threading.Event(), threading.Event()
    events = []

    def run():
        with daily_slot():
            started.set()
            release.wait(10)
        events.append("daily run done")

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(10)

    class Daily:
        log = events

        @staticmethod
        def end():
            release.set()
            thread.join(10)

    yield Daily
    release.set()
    thread.join(10)


def test_a_bulk_run_waits_while_a_daily_run_is_running_and_goes_on_when_it_ends(daily_run, settings):
    settings.SYNC_BULK_YIELD_SECONDS = 10
    fake = FakeTime(on_sleep=lambda n: daily_run.end() if n == 3 else None)
    with bulk_slot() as free:
        assert free
        waited = give_way(sleep=fake.sleep, clock=fake.clock)
    daily_run.log.append("bulk run goes on")
    assert fake.sleeps == 3 and waited == pytest.approx(0.3)
    assert daily_run.log == ["daily run done", "bulk run goes on"]


def test_a_bulk_run_waits_at_most_its_limit_per_batch_under_a_steady_daily_load(daily_run, settings):
    settings.SYNC_BULK_YIELD_SECONDS = 1.5
    fake = FakeTime()
    with bulk_slot():
        waited = give_way(sleep=fake.sleep, clock=fake.clock)
    assert waited == pytest.approx(1.5) and fake.sleeps == 15
    assert daily_run.log == []                     # the daily run was still going: the bulk run moved on anyway


def test_a_stopping_worker_and_a_zero_limit_end_the_wait(daily_run, settings):
    settings.SYNC_BULK_YIELD_SECONDS = 10
    fake = FakeTime()
    with bulk_slot():
        assert give_way(stop=lambda: True, sleep=fake.sleep, clock=fake.clock) == 0
        settings.SYNC_BULK_YIELD_SECONDS = 0
        assert give_way(sleep=fake.sleep, clock=fake.clock) == 0
    assert fake.sleeps == 0


def test_daily_runs_and_bulk_runs_without_a_slot_never_wait(daily_run, settings):
    settings.SYNC_BULK_YIELD_SECONDS = 10
    settings.SYNC_BULK_SLOTS = 1
    fake = FakeTime()
    assert give_way(sleep=fake.sleep, clock=fake.clock) == 0          # not a bulk run
    with daily_slot():
        assert give_way(sleep=fake.sleep, clock=fake.clock) == 0
    with bulk_slot() as first, bulk_slot() as second:
        assert first and not second                                   # the second goes back to the broker
    assert fake.sleeps == 0


@pytest.mark.django_db
def test_a_first_load_gives_way_between_its_batches_while_a_daily_run_is_running(
        daily_run, tenant, qbo_app, jaggaer_app, settings):  # noqa: F811 (fixtures)
    from core.metrics import BULK_GAVE_WAY
    from sync.runs.lifecycle import sync_request, sync_run_perform

    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app)
    settings.SYNC_BULK_YIELD_SECONDS = 0.02
    before = BULK_GAVE_WAY._value.get()
    with bulk_slot():
        run = sync_run_perform(run_id=sync_request(tenant=tenant, enqueue=False).pk)
    assert run.status == "succeeded"
    batches = sum(run.counts["suppliers"].values()) // settings.QBO_BATCH_SIZE
    assert BULK_GAVE_WAY._value.get() - before >= 0.02 * batches     # it waited at every batch, at most its limit
    assert daily_run.log == []                                       # the daily run was going all along

"""A run's batch transactions on a database connection of their own (SYNC_WRITER_THREAD).

What a batch leaves in our tables (links, holds, audit rows, counts, record identifiers) is gathered on the
run's thread: it reads and empties the step's in-memory state, so nothing else may do it. The statements that
write it are handed to the run's writer, which runs them, in the order given, one transaction per batch, on its
own thread and its own PostgreSQL connection. Meanwhile the run's thread plans and sends the next batches: the
time PostgreSQL spends on our writes overlaps the run's own work and its waits on QuickBooks.

Rules that keep it exact:
- Order: one thread, first in first out; a batch's transaction commits before the next one's begins.
- One message: on the writer thread a batch's BEGIN, writes and COMMIT reach PostgreSQL as one message
  (`batch_transaction`): the thread waits on the network, and then for the interpreter's lock, once a batch.
- Reads see every write: before the run reads our tables again (a new page's links and holds, a step's start
  and end, the cursor), it `drain`s the writer. Between two drains the run's thread only plans, talks to
  QuickBooks and reports progress (columns the writer does not write).
- Bounded: at most `depth` batches wait; the run's thread waits for the oldest beyond that.
- Two lanes: the batches' transactions on one thread, in order; the record identifiers (the support search's
  index, which no batch and no read of the run needs before the next drain) on a second thread, so the largest
  single write of a first load does not queue the batches behind it.
- Nothing lost: a failed transaction does not stop the ones after it (their batches are in QuickBooks already,
  their links must be kept); the first failure is raised on the run's thread at its next hand-over or drain,
  and the run fails as it did when the transaction ran on its thread.
- Where it stays on the run's thread (`inline`): SQLite (one writer at a time), a run started inside a
  transaction (a second connection would not see its uncommitted rows: tests), the setting off, a process whose
  connections come from a bounded pool (DB_POOL_MAX_SIZE: a threads-pool worker's runs share it, and a writer
  taking a pooled connection for each batch made first loads beside 200 daily runs slower, docs/BENCHMARKS.md),
  and any run until one of its pages has more than one batch: a daily run with a few changes starts no thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from django.conf import settings
from django.db import connection, connections, transaction

from core import metrics

logger = logging.getLogger(__name__)

Statements = list[Callable[[], object]]

_thread = threading.local()      # `.writer`: this thread is a run's writer

BATCHES = "batches"     # the batches' transactions, in order
SIDE = "side"           # what no batch and no read of the run depends on until the next drain (record identifiers)


def _mark_writer() -> None:
    _thread.writer = True


_WRITES = ("INSERT", "UPDATE", "DELETE")


class _Script:
    """An `execute_wrapper` that keeps a transaction's writes as text (the driver binds parameters client-side,
    `mogrify`, as it would to send them) and sends them as one message: one wait on the network instead of one
    per statement. Anything else (a read, a savepoint) first sends what was kept, then runs as usual, so it sees
    every write before it. What a kept write returns (a row count) is not known when it is kept: only writes
    nobody reads the answer of belong here."""

    def __init__(self) -> None:
        self.parts: list[str] = ["BEGIN"]
        self.sending = False

    def __call__(self, execute, sql, params, many, context):
        if self.sending:
            return execute(sql, params, many, context)
        if not many and sql.lstrip()[:6].upper() in _WRITES:
            self.parts.append(context["cursor"].cursor.mogrify(sql, params))
            return None
        self.send()
        return execute(sql, params, many, context)

    def send(self, *, end: str = "") -> None:
        parts, self.parts = self.parts + ([end] if end else []), []
        if not parts:
            return
        self.sending = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(";\n".join(parts))
        finally:
            self.sending = False


@contextlib.contextmanager
def batch_transaction() -> Iterator[None]:
    """One batch's transaction. On a writer thread (PostgreSQL, parameters bound client-side, as Django does by
    default) its BEGIN, its writes and its COMMIT go to the server as one message (`_Script`): one wait on the
    network per batch, and so one wait for the interpreter's lock after it, which the run's thread, busy
    planning, makes each wait last (up to its 5 ms switch interval: a batch of seven statements waited for it
    seven times, in psycopg's pipeline mode too). A refused statement makes the server skip the rest; the
    error is raised here and the transaction rolled back. Elsewhere, a plain `atomic` block."""
    if not getattr(_thread, "writer", False) or connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        raw = connection.connection
        if not hasattr(raw.cursor_factory, "mogrify"):    # server-side binding: statements one by one
            yield
            return
        # The driver would send its own BEGIN and wait for it; ours goes with the statements instead.
        raw.autocommit = True
        script = _Script()
        try:
            with connection.execute_wrapper(script):
                yield
            script.send(end="COMMIT")
        finally:
            # Committed: the block's own commit finds nothing left to do. Failed: the block rolls back.
            if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                raw.autocommit = False


class _Lane:
    """One writer thread, its connection, and the jobs handed to it not yet waited for."""

    def __init__(self, name: str, depth: int):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sync-writer-{name}",
                                           initializer=_mark_writer)
        self.depth = depth
        self.pending: deque[Future] = deque()


class BatchWriter:
    """One run's batch transactions, on the run's thread (inline) or on writer threads once `engage`d: one for
    the batches (in order), one for the side writes (record identifiers), each with its own connection."""

    def __init__(self, *, allowed: bool = False, depth: int = 3):
        self.allowed = allowed
        self.depth = max(1, depth)
        self._lanes: dict[str, _Lane] = {}
        self._failure: BaseException | None = None

    @classmethod
    def for_run(cls) -> BatchWriter:
        """The writer of a run starting now on this thread (see the module's rules for when it may use a thread)."""
        allowed = (bool(getattr(settings, "SYNC_WRITER_THREAD", False)) and connection.vendor == "postgresql"
                   and not connection.in_atomic_block and not getattr(settings, "DB_POOL_MAX_SIZE", 0))
        return cls(allowed=allowed, depth=int(getattr(settings, "SYNC_WRITER_DEPTH", 3)))

    def engage(self) -> None:
        """From now on, hand the transactions to the writer threads (when allowed)."""
        if self.allowed and not self._lanes:
            self._lanes = {BATCHES: _Lane(BATCHES, self.depth), SIDE: _Lane(SIDE, 1)}

    def submit(self, job: Callable[[], object], *, lane: str = BATCHES) -> None:
        """Run `job` (one transaction) now, or hand it to a writer thread; then raise an earlier job's failure
        (the job is handed over all the same: what QBO answered is recorded whatever failed before it)."""
        if not self._lanes:
            job()
            return
        queue = self._lanes[lane]
        while len(queue.pending) >= queue.depth:
            self._wait(queue.pending.popleft())
        queue.pending.append(queue.executor.submit(contextvars.copy_context().run, self._perform, job))
        self._raise_failure()

    def drain(self, *lanes: str) -> None:
        """Wait until every transaction handed to `lanes` (all when none named) has ended; raise the first
        failure. The run's reads of links and holds wait for the batches only: the side writes are never read
        by a run, and are waited for before its cursor moves."""
        self._wait_all(*lanes)
        self._raise_failure()

    def close(self, *, quiet: bool = False) -> None:
        """Drain and stop the threads (their connections closed). `quiet`: another error is on its way already;
        a failure here is logged, not raised."""
        if not self._lanes:
            return
        try:
            self._wait_all()
        finally:
            lanes, self._lanes = self._lanes, {}
            for lane in lanes.values():
                lane.executor.submit(connections.close_all).result()
                lane.executor.shutdown(wait=True)
        failure, self._failure = self._failure, None
        if failure is not None:
            if quiet:
                logger.error("a batch's database writes failed while the run was stopping", exc_info=failure)
            else:
                raise failure

    # ---- on a writer thread
    @staticmethod
    def _perform(job: Callable[[], object]) -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            job()
        finally:
            metrics.writer_seconds("busy", time.perf_counter() - start)
            metrics.writer_seconds("cpu", time.thread_time() - cpu)

    # ---- on the run's thread
    def _wait_all(self, *lanes: str) -> None:
        for name, lane in self._lanes.items():
            while lane.pending and (not lanes or name in lanes):
                self._wait(lane.pending.popleft())

    def _wait(self, future: Future) -> None:
        if not future.done():
            start = time.perf_counter()
            future.exception()
            metrics.writer_seconds("waited", time.perf_counter() - start)
        error = future.exception()
        if error is not None and self._failure is None:
            self._failure = error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

"""A run's batch transactions on database connections of their own, driven from the run's thread (SYNC_WRITE_BEHIND).

What a batch leaves in our tables (links, holds, audit rows, counts, record identifiers) is gathered on the
run's thread: it reads and empties the step's in-memory state, so nothing else may do it. Once a run is
`engage`d, each batch's transaction is written down as SQL text on the run's thread (its statements bound
client-side, as Django binds them, nothing sent: `_Capture`) and the script, BEGIN to COMMIT, is sent as one
message on a connection of the run's own without waiting for its answer (libpq's non-blocking mode). PostgreSQL
runs it while the run's thread plans and sends the next batches; the answer is read when the run's thread next
looks (`pump`: at every hand-over, between records read, checked and planned, while it waits for QuickBooks) and
the next script sent. No thread of ours waits on PostgreSQL, so none then waits for the interpreter's lock behind
the run's thread: a writer thread did, once per batch, up to the 5 ms switch interval (docs/BENCHMARKS.md).

Rules that keep it exact:
- Order: one connection per lane, first in first out; a script is sent once the one before it has ended.
- Reads see every write: before the run reads our tables again (a new page's links and holds, a step's start
  and end, the cursor), it `drain`s the lanes. Between two drains the run's thread only plans, talks to
  QuickBooks and reports progress (columns the scripts do not write).
- Bounded: at most `depth` batches wait in a lane; the run's thread waits for the oldest beyond that.
- Two lanes: the batches' transactions on one connection, in order; the record identifiers (the support
  search's index, which no batch and no read of the run needs before the next drain) on a second, so the
  largest single write of a first load does not queue the batches behind it.
- Nothing lost: a refused script does not stop the ones after it (their batches are in QuickBooks already,
  their links must be kept); the server rolls it back whole, and the first failure is raised on the run's
  thread at its next hand-over or drain, as Django would have raised it: the run fails as it did when the
  transaction ran on its thread.
- A job that reads (none of the pipeline's does) cannot be written down ahead: the lane is drained and the job
  runs on the run's own connection, as inline.
- Where it stays on the run's thread (`inline`): SQLite (one writer at a time), a run started inside a
  transaction (another connection would not see its uncommitted rows: tests), the setting off, a process whose
  connections come from a bounded pool (DB_POOL_MAX_SIZE: a threads-pool worker's runs share it, and writes on a
  second pooled connection made first loads beside 200 daily runs slower, docs/BENCHMARKS.md), server-side
  parameter binding (statements cannot be written down as text), and any run until one of its pages has more
  than one batch: a daily run with a few changes opens no connection of its own.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from core import metrics

logger = logging.getLogger(__name__)

Statements = list[Callable[[], object]]

_thread = threading.local()      # `.capture`: this thread is writing a job down (`_Capture`)

BATCHES = "batches"     # the batches' transactions, in order
SIDE = "side"           # what no batch and no read of the run depends on until the next drain (record identifiers)

_WRITES = ("INSERT", "UPDATE", "DELETE")
_POLL_SECONDS = 1.0      # a blocked wait looks at its lanes at least this often
_PUMP_SECONDS = 0.002    # between records, the lanes are looked at no more often than this


class _ReadsTables(Exception):
    """A job asked for an answer while it was written down: it runs on the run's connection instead."""


class _Capture:
    """An `execute_wrapper` that writes a job's statements down as text (bound client-side, `mogrify`, as the
    driver would send them), and sends nothing. What a written-down statement returns (a row count) is not known:
    only writes nobody reads the answer of belong in a job; anything else raises `_ReadsTables`."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        if many or sql.lstrip()[:6].upper() not in _WRITES:
            raise _ReadsTables(sql[:80])
        self.parts.append(context["cursor"].cursor.mogrify(sql, params))
        return None


@contextlib.contextmanager
def batch_transaction() -> Iterator[None]:
    """One batch's transaction: a plain `atomic` block on the run's connection, or, while the job is written
    down for a lane, nothing more (the script carries its own BEGIN and COMMIT)."""
    if getattr(_thread, "capture", None) is not None:
        yield
        return
    with transaction.atomic():
        yield


def _binds_on_client() -> bool:
    """Whether the run's connection binds parameters client-side (Django's default; not with `server_side_binding`),
    so statements can be written down as text."""
    connection.ensure_connection()
    return hasattr(connection.connection.cursor_factory, "mogrify")


def _script_of(job: Callable[[], object]) -> bytes:
    """`job`'s statements as one transaction's script (BEGIN, ..., COMMIT), nothing sent; `_ReadsTables` if the
    job reads."""
    capture = _Capture()
    _thread.capture = capture
    try:
        with connection.execute_wrapper(capture):
            job()
    finally:
        _thread.capture = None
    return ";\n".join(["BEGIN", *capture.parts, "COMMIT"]).encode()


class _Lane:
    """One connection of the run's own, in libpq's non-blocking mode, and the scripts handed to it: at most one at
    the server, the rest waiting here in order. Only the run's thread touches it."""

    def __init__(self, name: str, depth: int):
        self.name = name
        self.depth = depth
        self.waiting: deque[bytes] = deque()
        self.sent_at: float | None = None        # a script is at the server since then
        self.flushing = False                    # ... and not all of it has left yet
        self.error: psycopg.Error | None = None     # the refusal in the answers of the script at the server
        self.failures: list[BaseException] = []
        self._db = None

    @property
    def pending(self) -> int:
        return len(self.waiting) + (self.sent_at is not None)

    def _pgconn(self):
        if self._db is None:
            db = connections.create_connection(DEFAULT_DB_ALIAS)
            db.ensure_connection()
            db.set_autocommit(True)
            db.connection.pgconn.nonblocking = 1
            self._db = db
        return self._db.connection.pgconn

    def hand(self, script: bytes) -> None:
        self.waiting.append(script)
        self.pump()

    def pump(self) -> None:
        """Move on without blocking: read the answer of the script at the server if it is in, send the next."""
        while True:
            if self.sent_at is not None:
                pgconn = self._pgconn()
                if self.flushing:
                    self.flushing = pgconn.flush() == 1
                    if self.flushing:
                        return
                pgconn.consume_input()
                while True:         # a script's statements answer one by one: take those already in
                    if pgconn.is_busy():
                        return
                    result = pgconn.get_result()
                    if result is None:
                        break
                    if self.error is None and result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
                        self.error = psycopg.errors.error_from_result(result,
                                                                      encoding=self._db.connection.info.encoding)
                self._finish(pgconn)
            if not self.waiting:
                return
            pgconn = self._pgconn()
            pgconn.send_query(self.waiting.popleft())
            self.sent_at = time.perf_counter()
            self.flushing = pgconn.flush() == 1

    def settle(self, *, below: int = 1) -> None:
        """Block until fewer than `below` scripts are pending."""
        self.pump()
        while self.pending >= below:
            select.select(*self.sockets(), [], _POLL_SECONDS)
            self.pump()

    def sockets(self) -> tuple[list[int], list[int]]:
        """The sockets to wait on for this lane to move on: (to read, to write); none when nothing is at the server."""
        if self.sent_at is None:
            return [], []
        sock = self._pgconn().socket
        return [sock], [sock] if self.flushing else []

    def _finish(self, pgconn) -> None:
        """The script at the server has answered whole: a refused one is rolled back and its error kept."""
        error, self.error = self.error, None
        metrics.writer_seconds("busy", time.perf_counter() - self.sent_at)
        self.sent_at = None
        if pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:   # refused: the rest was skipped
            pgconn.exec_(b"ROLLBACK")          # libpq's exec blocks in non-blocking mode too; rare
        if error is not None:
            try:
                with self._db.wrap_database_errors:     # raised as Django raises a refused statement
                    raise error
            except Exception as wrapped:  # noqa: BLE001 - kept, raised on the run's thread at its next hand-over
                self.failures.append(wrapped)

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(Exception):
                db.connection.pgconn.nonblocking = 0
            db.close()


class BatchWriter:
    """One run's batch transactions, on the run's connection (inline) or, once `engage`d, written down on the run's
    thread and sent to connections of its own: one lane for the batches (in order), one for the side writes
    (record identifiers)."""

    def __init__(self, *, allowed: bool = False, depth: int = 3):
        self.allowed = allowed
        self.depth = max(1, depth)
        self._lanes: dict[str, _Lane] = {}
        self._failure: BaseException | None = None
        self._pumped = 0.0

    @classmethod
    def for_run(cls) -> BatchWriter:
        """The writer of a run starting now on this thread (see the module's rules for when it may use lanes)."""
        allowed = (bool(getattr(settings, "SYNC_WRITE_BEHIND", False)) and connection.vendor == "postgresql"
                   and not connection.in_atomic_block and not getattr(settings, "DB_POOL_MAX_SIZE", 0)
                   and _binds_on_client())
        return cls(allowed=allowed, depth=int(getattr(settings, "SYNC_WRITE_BEHIND_DEPTH", 3)))

    def engage(self) -> None:
        """From now on, write the transactions down and send them to the lanes (when allowed)."""
        if self.allowed and not self._lanes:
            self._lanes = {BATCHES: _Lane(BATCHES, self.depth), SIDE: _Lane(SIDE, 1)}

    def submit(self, job: Callable[[], object], *, lane: str = BATCHES) -> None:
        """Run `job` (one transaction) now, or write it down and hand it to its lane; then raise an earlier job's
        failure (the job is handed over all the same: what QBO answered is recorded whatever failed before it)."""
        if not self._lanes:
            job()
            return
        queue = self._lanes[lane]
        start = time.thread_time()
        try:
            script = _script_of(job)
        except _ReadsTables as reads:
            logger.info("a batch job reads our tables (%s): run on the run's connection", reads)
            metrics.writer_seconds("cpu", time.thread_time() - start)
            self._waiting(self._settle_all)     # it reads: everything handed over before is in first
            job()
        else:
            metrics.writer_seconds("cpu", time.thread_time() - start)
            self._waiting(lambda: queue.settle(below=queue.depth))
            queue.hand(script)
        self._collect()
        self._raise_failure()

    def pump(self) -> None:
        """Move every lane on without blocking, at most once every `_PUMP_SECONDS` (each look is a system call,
        after which the run's thread may wait for the interpreter's lock): called between records as a page is read,
        checked and planned."""
        if not self._lanes:
            return
        now = time.perf_counter()
        if now - self._pumped < _PUMP_SECONDS:
            return
        self._pumped = now
        for queue in self._lanes.values():
            if queue.pending:
                queue.pump()

    def wait_for(self, future: Future) -> None:
        """Block until `future` is done, moving the lanes on meanwhile: the scripts keep going to PostgreSQL while
        the run's thread waits for QuickBooks."""
        if not self._lanes or future.done():
            return
        woken = _Waker()
        future.add_done_callback(woken.wake)
        try:
            while not future.done():
                self.pump()
                reading, writing = [woken], []
                for queue in self._lanes.values():
                    to_read, to_write = queue.sockets()
                    reading += to_read
                    writing += to_write
                select.select(reading, writing, [], _POLL_SECONDS)
            self.pump()
        finally:
            woken.close()

    def drain(self, *lanes: str) -> None:
        """Wait until every transaction handed to `lanes` (all when none named) has ended; raise the first
        failure. The run's reads of links and holds wait for the batches only: the side writes are never read
        by a run, and are waited for before its cursor moves."""
        self._waiting(lambda: self._settle_all(*lanes))
        self._collect()
        self._raise_failure()

    def close(self, *, quiet: bool = False) -> None:
        """Drain and close the lanes' connections. `quiet`: another error is on its way already; a failure here
        is logged, not raised."""
        if not self._lanes:
            return
        try:
            self._waiting(self._settle_all)
        finally:
            lanes, self._lanes = self._lanes, {}
            for queue in lanes.values():
                self._collect_from(queue)
                queue.close()
        failure, self._failure = self._failure, None
        if failure is not None:
            if quiet:
                logger.error("a batch's database writes failed while the run was stopping", exc_info=failure)
            else:
                raise failure

    def _settle_all(self, *lanes: str) -> None:
        for name, queue in self._lanes.items():
            if not lanes or name in lanes:
                queue.settle()

    @staticmethod
    def _waiting(block: Callable[[], None]) -> None:
        start = time.perf_counter()
        try:
            block()
        finally:
            metrics.writer_seconds("waited", time.perf_counter() - start)

    def _collect(self) -> None:
        for queue in self._lanes.values():
            self._collect_from(queue)

    def _collect_from(self, queue: _Lane) -> None:
        failures, queue.failures = queue.failures, []
        for failure in failures:
            if self._failure is None:
                self._failure = failure
            else:
                logger.error("a batch's database writes failed after an earlier one", exc_info=failure)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure


class _Waker:
    """A socket pair whose read end becomes readable when `wake` is called (from any thread): lets a `select` on
    the lanes' connections also end when a future is done."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)

    def fileno(self) -> int:
        return self._r.fileno()

    def wake(self, _future=None) -> None:
        with contextlib.suppress(OSError):
            self._w.send(b"x")

    def close(self) -> None:
        self._r.close()
        self._w.close()

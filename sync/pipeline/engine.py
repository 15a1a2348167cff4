"""fetch page -> check -> transform -> validate -> write (QBO /batch) -> links, holds, audit: one transaction per batch.

`check` (sync/transforms/validation.py) comes first, before any look-up: a record that is not as the JAGGAER
contract types it, or whose document contradicts itself, is held with the field, the value and what is expected.

A `RecordStep` subclass names its JAGGAER entity and implements `plan` (transform + validate: a
`Write` or a finished `Result`), `written` (what a successful QBO answer means) and `save_links`
(bulk upsert of its link rows). A step instance serves one run: what lives for the whole run is
declared in its `__init__` and loaded in `prepare`; what one page needs lives in its `PageState`, built
by `begin_page` and handed to each phase of that page (plan, write, links, flush), never kept on the step.

The engine does the rest the same way for every entity: due holds retried first, cursor with overlap,
digests to skip unchanged records, deterministic requestids, per-item faults, one retry on a stale
SyncToken, audit rows and counts per batch.

Database queries grow with pages and batches, never with records: every read a step needs for a
page happens in `begin_page` in bulk, every write in `flush` in bulk.

Held records: a run plans again only the holds that are *due*, those whose cause may have changed since they
were held (a mapping or the settings changed, the PO or supplier they wait on was written, their link was
forgotten, multicurrency was turned on, the step's `version` changed, or a week passed; the rule is in
sync/holds/due.py and is decided in SQL). The others stay as they are: no plan, no audit row, no hold rewrite;
the step counts them `still_held` (one COUNT). A full run plans every hold again; a corrected record that the
JAGGAER stream brings is planned like any other record, held or not.
"""

from __future__ import annotations

import abc
import collections
import datetime as dt
import functools
import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

import audit
from connections.clients.qbo import BatchItem
from connections.exceptions import ConnectionFailure, RemoteError
from core import bulk
from core.outcomes import Outcome
from sync.holds.due import HoldSignals, hold_signals, holds_due
from sync.models import Cursor, Hold, SyncRun
from sync.pipeline.writer import BATCHES, SIDE, BatchWriter, Statements, batch_transaction
from sync.records.identifiers import identifiers_save, record_identifiers
from sync.transforms.common import InvalidRecord, digest, parse_timestamp
from sync.transforms.validation import Finding, validate

logger = logging.getLogger(__name__)

HOLD_PAGE_SIZE = 200
CANCEL_CHECK_SECONDS = 1.0


class RunCancelled(Exception):
    """A person asked the run to stop; it stops between batches."""


@dataclass
class Record:
    raw: dict
    source_id: str
    digest: str
    modified_at: dt.datetime | None


@dataclass
class HoldSpec:
    reason: str
    detail: str
    waits_on: list[str] = field(default_factory=list)


@dataclass
class Result:
    """What happened to one record: becomes its audit row (and a hold row when held)."""

    record: Record
    outcome: Outcome
    reason: str = ""
    message: str = ""
    qbo_id: str = ""
    qbo_error_code: str = ""
    intuit_tid: str = ""
    hold: HoldSpec | None = None
    data: dict = field(default_factory=dict)
    retry: bool = False            # failed for a passing reason: keep a hold so the next run retries it


@dataclass
class Write:
    """One QBO create or update a step asks for."""

    record: Record
    operation: str                 # "create" | "update"
    entity: str                    # QBO entity name
    payload: dict
    reason: str = ""               # audit reason on success (e.g. "linked_existing")
    notes: list[str] = field(default_factory=list)
    attempt: int = 0
    context: dict = field(default_factory=dict)   # whatever the step needs back in `written`


@dataclass
class PageState:
    """One page of records from `begin_page` to its last flush; a step extends it with what it reads per page."""

    holds: set[str] = field(default_factory=set)       # source ids of the page that had a hold before
    results: list[Result] = field(default_factory=list)   # every result flushed for the page, in order


@dataclass
class RunContext:
    run: SyncRun
    qbo: object
    jaggaer: object
    batch_size: int = 30
    progress: Callable[[str, dict], None] | None = None
    identifiers: dict = field(default_factory=dict)   # entity -> [(source id, {(kind, value)})] not yet saved
    cancel_checked_at: float = float("-inf")
    failures: dict[tuple[str, str], str] = field(default_factory=dict)   # (step, source id) -> why, this run
    shared: dict = field(default_factory=dict)   # what the steps of one run read once (QBO snapshot, preferences)
    writes: BatchWriter = field(default_factory=BatchWriter)   # the batches' transactions (inline unless allowed)

    def failed(self, step: str, source_id: str, message: str) -> None:
        """Remember that a record failed in this run (a document waiting on it says why, without re-trying it)."""
        self.failures[(step, source_id)] = message

    @property
    def tenant(self):
        return self.run.tenant

    def count(self, step: str, outcome: Outcome, n: int = 1) -> None:
        bucket = self.run.counts.setdefault(step, {})
        bucket[outcome] = bucket.get(outcome, 0) + n

    def report(self, step: str) -> None:
        if self.progress:
            self.progress(step, dict(self.run.counts.get(step, {})))


def request_key(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """`items` in lists of `size` (the last may be shorter), taken as they come (a generator is not run ahead)."""
    taken = iter(items)
    while chunk := list(itertools.islice(taken, size)):
        yield chunk


class RecordStep(abc.ABC):
    name: str = ""                 # entity name in counts, cursors, holds and audit rows
    jaggaer_entity: str = ""
    id_field: str = ""
    modified_field: str = ""
    version: str = "1"             # part of every digest: a transform change re-syncs records (and its holds)
    link_model = None              # the step's link rows (what was written for a record), keyed by `link_key`
    link_key: str = ""

    def __init__(self) -> None:
        self._seen_this_run: dict[str, str] = {}      # source id -> digest of every record with a result
        # Held again on retry: audited at the end unless the stream brings a newer version (one row per record).
        self._deferred: dict[str, Result] = {}
        self.whole_stream = False      # the run reads JAGGAER's whole history (a first load or a full run)

    # ---- hooks for subclasses
    def prepare(self, ctx: RunContext) -> None:  # noqa: B027 (optional hook)
        """Bulk reads the whole step needs (QBO indexes, link maps)."""

    def transform_page(self, records: list[Record]) -> dict:
        """What the page's records become (source id -> draft), made before the pages before are in our tables:
        no database reads here (the writes behind the run may still be on their way), only the records themselves."""
        return {}

    def begin_page(self, ctx: RunContext, records: list[Record], drafts: dict) -> PageState:
        """Bulk reads one page needs (its links), into the page's state."""
        return PageState()

    @abc.abstractmethod
    def is_unchanged(self, page: PageState, record: Record) -> bool:
        """Whether the record is what we last wrote (its digest matches the link)."""

    @abc.abstractmethod
    def plan(self, ctx: RunContext, page: PageState, record: Record) -> Write | Result:
        """Transform and validate: the QBO write to make, or the finished result (held, skipped...)."""

    @abc.abstractmethod
    def written(self, ctx: RunContext, page: PageState, write: Write, entity: dict) -> Result:
        """What a successful QBO answer means for the record (its audit result)."""

    @abc.abstractmethod
    def save_links(self, ctx: RunContext, page: PageState, done: list[tuple[Write, dict]]) -> Statements | None:
        """The statements (bulk upserts) of the link rows of a batch's successful writes: the rows are gathered
        here, on the run's thread; the statements run in the batch's transaction (see `save_rows`)."""

    def save_rows(self, ctx: RunContext, page: PageState, results: list[Result], done: list[tuple[Write, dict]]
                  ) -> Statements:
        """The step's rows of one batch (its links) as statements of the batch's transaction: they commit with
        its holds, audit rows and counts, or not at all. Called on the run's thread, where the step's in-memory
        state is read and emptied; the statements are run (or written down for the writes behind the run:
        sync/pipeline/writer.py) when the batch is handed over, so each holds what it writes, gathered now, and
        reads nothing."""
        return list(self.save_links(ctx, page, done) or []) if done else []

    def hold_signals(self, ctx: RunContext) -> HoldSignals:
        """What may have released the step's holds since they were held (steps add what they know of QBO)."""
        return hold_signals(tenant=ctx.tenant)

    def refresh_stale(self, ctx: RunContext, page: PageState, writes: list[Write]) -> list[Write | Result]:
        """5010 stale object: re-read the QBO objects and rebuild the writes (attempt + 1)."""
        return [Result(w.record, Outcome.FAILED, reason="stale_object",
                       message="QuickBooks reported the object changed meanwhile (5010).") for w in writes]

    # ---- the engine
    def begin(self, ctx: RunContext) -> None:
        """Load the run's state (an instance serves one run); enough to `process` records another step hands over."""
        ctx.writes.drain()      # what the steps before wrote
        self.prepare(ctx)

    def run(self, ctx: RunContext) -> None:
        self.begin(ctx)
        cursor, _ = Cursor.objects.get_or_create(tenant=ctx.tenant, entity=self.name)
        since = None
        if cursor.high_water_mark and not ctx.run.full:
            since = cursor.high_water_mark - dt.timedelta(seconds=settings.SYNC_CURSOR_OVERLAP_SECONDS)
        high = cursor.high_water_mark
        self.whole_stream = since is None
        # Held records first. The last page of them goes with the stream's first page as one page (one plan, one
        # set of look-ups, its batches): a run that releases a few holds and brings a few changes pays QBO once
        # for both, not a look-up and a batch for each. Within that page the held records come first.
        held_pages = self._held_pages(ctx)
        last_held: list[Hold] = []
        for holds in held_pages:
            if last_held:
                self.process(ctx, [h.record for h in last_held], from_holds=True)
            last_held = holds
        # The pages of the next processing page are asked for while this one is worked on.
        pages = iter(self.processing_pages(ctx.jaggaer.iter_pages(self.jaggaer_entity, since=since,
                                                                  read_ahead=_page_records())))
        first = next(pages, None) if last_held else None
        if last_held:
            newest, _ = self.process_page(ctx, first or [], held=[h.record for h in last_held])
            if newest and (high is None or newest > high):
                high = newest
        for page in pages:
            newest = self.process(ctx, page)
            if newest and (high is None or newest > high):
                high = newest
        deferred = list(self._deferred.values())
        for chunk in chunked(deferred, HOLD_PAGE_SIZE):
            self.flush(ctx, PageState(holds={r.record.source_id for r in chunk}), chunk, [])
        self.save_identifiers(ctx)
        ctx.writes.drain()      # the cursor moves once everything before it is in our tables
        if high != cursor.high_water_mark:
            cursor.high_water_mark = high
            cursor.save(update_fields=["high_water_mark", "updated_at"])
        self._count_still_held(ctx)

    def processing_pages(self, pages: Iterable[list[dict]]) -> Iterator[list[dict]]:
        """JAGGAER's pages grouped into pages of at least `SYNC_PAGE_RECORDS` records (the last may be shorter).

        A page's writes go in batches of 30 and its last batch is part-filled: grouping 200-record JAGGAER pages
        into 1,000-record processing pages leaves one part-filled batch per 1,000 records instead of one per 200,
        and one set of bulk reads (links, holds, QBO look-ups) per 1,000 records. Memory stays flat: one group at
        a time. A record JAGGAER brings twice in one group (changed while paged) is taken once, as last seen, in
        the place it was first seen: one page must not plan two creates of one record."""
        limit = _page_records()
        group: dict[object, dict] = {}
        for page in pages:
            for raw in page:
                source_id = raw.get(self.id_field) if isinstance(raw, dict) else None
                key = str(source_id) if isinstance(source_id, str | int) and source_id != "" else id(raw)
                group[key] = raw
            if len(group) >= limit:
                yield list(group.values())
                group = {}
        if group:
            yield list(group.values())

    def _held_pages(self, ctx: RunContext) -> Iterator[list[Hold]]:
        """The step's due holds (all of them in a full run), in pages."""
        holds = Hold.objects.for_tenant(ctx.tenant).filter(entity=self.name)
        if not ctx.run.full and self.link_model is not None:
            holds = holds_due(holds, version=self.version, link_model=self.link_model, link_key=self.link_key,
                              signals=self.hold_signals(ctx), now=timezone.now(),
                              recheck_days=settings.SYNC_HOLD_RECHECK_DAYS)
        last = 0
        while True:
            ctx.writes.drain(BATCHES)
            page = list(holds.filter(pk__gt=last).order_by("pk")[:HOLD_PAGE_SIZE])
            if not page:
                return
            yield page
            last = page[-1].pk

    def _count_still_held(self, ctx: RunContext) -> None:
        """Holds this run left untouched (not due): counted `still_held`, so the run tells every record on hold."""
        still = Hold.objects.for_tenant(ctx.tenant).filter(entity=self.name).exclude(last_run=ctx.run).count()
        if still:
            ctx.run.counts.setdefault(self.name, {})["still_held"] = still
            SyncRun.objects.filter(pk=ctx.run.pk).update(counts=ctx.run.counts)
            ctx.report(self.name)

    def _record(self, raw: dict) -> Record | Result:
        source_id = raw.get(self.id_field) if isinstance(raw, dict) else None
        record = Record(raw=raw if isinstance(raw, dict) else {"value": raw},
                        source_id=str(source_id) if source_id not in (None, "") else "",
                        digest=digest(raw, version=f"{self.name}:{self.version}"), modified_at=None)
        if not record.source_id:
            record.source_id = f"(no {self.id_field}) {record.digest[:12]}"
            return Result(record, Outcome.FAILED, reason="invalid_record",
                          message=f"Required field '{self.id_field}' is missing; the record cannot be identified.",
                          data={"record": _excerpt(raw)})
        if self.modified_field in record.raw:
            try:
                record.modified_at = parse_timestamp(record.raw[self.modified_field], field=self.modified_field)
            except InvalidRecord:
                pass    # the validation names it; the record does not move the cursor
        return record

    def check(self, ctx: RunContext, record: Record) -> Result | None:
        """The contract's field types and the document's own consistency, before any look-up: a finding holds
        the record (released when JAGGAER corrects it), naming each field, its value and what is expected."""
        finding = validate(self.jaggaer_entity, record.raw)
        if finding is None:
            return None
        self.invalid(ctx, record, finding)
        return Result(record, Outcome.HELD, hold=HoldSpec(finding.reason, finding.message, finding.waits_on),
                      data=finding.data)

    def invalid(self, ctx: RunContext, record: Record, finding: Finding) -> None:  # noqa: B027 (optional hook)
        """What a step keeps of a record held by `check` (the PO step remembers the PO was seen)."""

    def process(self, ctx: RunContext, raws: Iterable[dict], *, from_holds: bool = False) -> dt.datetime | None:
        """One page through transform, validate and write; returns the newest modification time seen."""
        return self.process_page(ctx, raws, from_holds=from_holds)[0]

    def process_page(self, ctx: RunContext, raws: Iterable[dict], *, from_holds: bool = False,
                     held: Iterable[dict] = ()) -> tuple[dt.datetime | None, PageState]:
        """`process`, also returning the page's state (its results, in order). `held`: records retried from
        their holds, taken into the same page before `raws` (as `from_holds`); a record the page also brings
        from JAGGAER is taken as JAGGAER has it now. The newest modification time is of `raws` alone."""
        _check_cancel(ctx)      # between pages too: a page whose records are all held sends no batch
        records: list[Record] = []
        pending: list[Result] = []
        newest = None
        items = []
        for raw in raws:
            ctx.writes.pump()       # the pages before are still being written: their next scripts go on meanwhile
            items.append((self._record(raw), from_holds))
        if held:
            fresh = {item.source_id for item, _ in items if isinstance(item, Record)}
            retried = [(item, True) for item in map(self._record, held)
                       if not (isinstance(item, Record) and item.source_id in fresh)]
            items = retried + items
        from_holds_ids: set[str] = set()
        for item, item_from_holds in items:
            if isinstance(item, Result):
                pending.append(item)
                continue
            if item_from_holds:
                from_holds_ids.add(item.source_id)
            elif item.modified_at and (newest is None or item.modified_at > newest):
                newest = item.modified_at
            if self._seen_this_run.get(item.source_id) == item.digest:
                continue  # already handled in this run with this very content (e.g. released from its hold)
            if not item_from_holds and item.source_id in self._deferred:
                if self._deferred[item.source_id].record.digest == item.digest:
                    continue
                del self._deferred[item.source_id]
            ctx.writes.pump()
            invalid = self.check(ctx, item)
            if invalid is None:
                records.append(item)
            elif item_from_holds:
                self._deferred[item.source_id] = invalid
            else:
                pending.append(invalid)
        if not records:
            page = PageState()
            if pending:
                self.flush(ctx, page, pending, [])
            return newest, page
        drafts = self.transform_page(records)      # while the writer finishes the pages before
        ctx.writes.drain(BATCHES)      # the page reads links and holds the pages before wrote
        page = self.begin_page(ctx, records, drafts)
        page.holds = set(Hold.objects.for_tenant(ctx.tenant).filter(
            entity=self.name, source_id__in=[r.source_id for r in records]).values_list("source_id", flat=True))
        planned = self._plan_page(ctx, page, records, pending, from_holds_ids)
        # Asked of the client's class: a wrapper that forwards unknown names (the fit report's) must say it itself.
        if settings.SYNC_OVERLAP_WRITES and hasattr(type(ctx.qbo), "batch_send"):
            pending = self._write_overlapped(ctx, page, planned, pending)
        else:
            writes = list(planned)
            if len(writes) > ctx.batch_size:
                ctx.writes.engage()     # several batches: their transactions are written behind the run (if allowed)
            for chunk in chunked(writes, ctx.batch_size):
                _check_cancel(ctx)
                results, done = self._write_batch(ctx, page, chunk)
                self.flush(ctx, page, pending + results, done)
                pending = []
        if pending:
            self.flush(ctx, page, pending, [])
        return newest, page

    def _plan_page(self, ctx: RunContext, page: PageState, records: list[Record], pending: list[Result],
                   from_holds_ids: set[str]) -> Iterator[Write]:
        """The page's writes, planned one record at a time as they are taken; every other outcome is appended
        to `pending` (complete once the writes are all taken)."""
        for record in records:
            ctx.writes.pump()       # the batches' database writes move on between records
            if record.source_id not in page.holds and self.is_unchanged(page, record):
                pending.append(Result(record, Outcome.UNCHANGED, message="No change since the last sync."))
                continue
            try:
                planned = self.plan(ctx, page, record)
            except InvalidRecord as e:
                planned = Result(record, Outcome.HELD, hold=HoldSpec("invalid_record", e.message, []),
                                 data={"problems": [{"field": e.field}]} if e.field else {})
            except Exception as e:  # a surprise in one record must not stop the run: record it, go on
                logger.exception("sync %s: planning %s failed", self.name, record.source_id)
                planned = Result(record, Outcome.FAILED, reason="internal_error",
                                 message=f"Unexpected error while preparing the record: {type(e).__name__}")
            if record.source_id in from_holds_ids and isinstance(planned, Result) and planned.outcome == Outcome.HELD:
                self._deferred[record.source_id] = planned
                continue
            if isinstance(planned, Write):
                yield planned
            else:
                pending.append(planned)

    def _write_overlapped(self, ctx: RunContext, page: PageState, writes: Iterable[Write],
                          pending: list[Result]) -> list[Result]:
        """The page's batches, each sent as soon as its writes are planned (`writes` plans them as they are
        taken: QBO answers while the rest of the page is planned), their answers read once every write is
        planned, in order, each batch's database writes handed over (`flush`) while the ones after it are on
        their way; what is left to flush is returned. A plan never sees an answer of its own page, as when the
        page was planned whole first. Every flush of the page is done when this returns, so the next page reads
        what this one wrote. Whatever stops it early (a cancellation, a failure), the answers of the batches
        sent are read and flushed first, so nothing QBO wrote is left unlinked; then it is raised."""
        in_flight: collections.deque = collections.deque()     # (writes, by bId, SentBatch), oldest first

        def send(chunk: list[Write]) -> None:
            _check_cancel(ctx)
            items, by_bid, requestid = self._batch_items(ctx, chunk)
            in_flight.append((chunk, by_bid, ctx.qbo.batch_send(items, requestid=requestid)))

        def answer_oldest() -> None:
            nonlocal pending
            sent_writes, by_bid, sent = in_flight.popleft()
            if sent.future is not None:
                ctx.writes.wait_for(sent.future)     # the database writes go on meanwhile
            results, done = self._batch_answers(ctx, page, sent_writes, by_bid, sent.result)
            batch, pending = pending + results, []          # handed over once, even if the report below stops
            self.flush(ctx, page, batch, done)             # its step report may stop the run (RunCancelled)

        try:
            for chunk in chunked(writes, ctx.batch_size):
                send(chunk)
            if len(in_flight) > 1:
                ctx.writes.engage()     # several batches: their transactions are written behind the run (if allowed)
            while in_flight:
                answer_oldest()
        except BaseException:
            while in_flight:
                try:
                    answer_oldest()
                except RunCancelled:    # the same stop, asked again by the step reports
                    pass
                except Exception:       # noqa: BLE001 - the first error is the one raised
                    logger.exception("sync %s: recording a batch QBO answered failed while the page stopped",
                                     self.name)
            raise
        finally:
            for _, _, sent in in_flight:     # the exchanges end, their calls are logged
                sent.settle()
        return pending

    def save_identifiers(self, ctx: RunContext, *, at_least: int = 0) -> None:
        """The numbers the run's records are known by (the support search), written once `at_least` are
        buffered and at each step's end: a few INSERTs per step, none per batch. A crash loses only what the
        next run reads again (the cursor moves after this)."""
        if sum(len(rows) for rows in ctx.identifiers.values()) < max(at_least, 1):
            return
        gathered, ctx.identifiers = ctx.identifiers, {}
        ctx.writes.submit(functools.partial(_save_identifiers, ctx.tenant.pk, gathered), lane=SIDE)

    def _write_batch(self, ctx: RunContext, page: PageState, writes: list[Write]
                     ) -> tuple[list[Result], list[tuple[Write, dict]]]:
        items, by_bid, requestid = self._batch_items(ctx, writes)
        return self._batch_answers(ctx, page, writes, by_bid, lambda: ctx.qbo.batch(items, requestid=requestid))

    def _batch_items(self, ctx: RunContext, writes: list[Write]) -> tuple[list[BatchItem], dict[str, Write], str]:
        """The batch items of `writes`, each write by its bId, and the batch's deterministic requestid."""
        keys, items, by_bid = [], [], {}
        for write in writes:
            key = request_key(ctx.tenant.pk, self.name, write.record.source_id, write.record.digest,
                              write.operation, write.attempt, write.payload.get("SyncToken", ""))
            bid = key[:10]
            while bid in by_bid:  # practically never: keep bIds unique within the batch
                bid = request_key(bid)[:10]
            keys.append(key)
            by_bid[bid] = write
            items.append(BatchItem(bid=bid, operation=write.operation, entity=write.entity, payload=write.payload))
        return items, by_bid, request_key(*keys)[:36]

    def _batch_answers(self, ctx: RunContext, page: PageState, writes: list[Write], by_bid: dict[str, Write],
                       receive: Callable[[], list]) -> tuple[list[Result], list[tuple[Write, dict]]]:
        """What QBO's answers to a batch (`receive()`) mean for its writes; a stale update is refreshed and sent
        once more (synchronously)."""
        results: list[Result] = []
        done: list[tuple[Write, dict]] = []
        try:
            answers = receive()
        except ConnectionFailure:
            raise
        except RemoteError as e:
            message = f"QuickBooks did not accept the batch: {e}"
            return [Result(w.record, Outcome.FAILED, reason="qbo_error", message=message, qbo_error_code=e.code or "",
                           intuit_tid=e.intuit_tid or "", retry=e.transient) for w in writes], []
        stale: list[Write] = []
        for answer in answers:
            write = by_bid[answer.bid]
            fault = answer.fault
            if fault is None and answer.entity:
                done.append((write, answer.entity))
            elif fault is not None and fault.is_stale_object and write.operation == "update" and write.attempt == 0:
                stale.append(write)
            else:
                results.append(self.rejected(write, fault))
        for write, entity in done:
            results.append(self.written(ctx, page, write, entity))
        if stale:
            ctx.writes.drain(BATCHES)
            retried = self.refresh_stale(ctx, page, stale)
            results += [r for r in retried if isinstance(r, Result)]
            again = [w for w in retried if isinstance(w, Write)]
            if again:
                more_results, more_done = self._write_batch(ctx, page, again)
                results += more_results
                done += more_done
        return results, done

    def rejected(self, write: Write, fault) -> Result:
        if fault is None:
            return Result(write.record, Outcome.FAILED, reason="qbo_error", message="QuickBooks gave no answer for it.")
        return Result(write.record, Outcome.FAILED, reason="qbo_rejected", message=f"QuickBooks rejected it: {fault}",
                      qbo_error_code=fault.code or "", intuit_tid=fault.intuit_tid or "",
                      qbo_id=str(write.payload.get("Id") or ""), retry=fault.transient)

    def flush(self, ctx: RunContext, page: PageState, results: list[Result], done: list[tuple[Write, dict]]) -> None:
        """Links, holds, audit rows and counts of one batch, in one transaction: gathered here, written by the
        run's writer (at once on this thread, or behind it while this thread goes on: sync/pipeline/writer.py)."""
        run = ctx.run
        held = [r for r in results if r.outcome == Outcome.HELD or r.retry]
        resolved = [r.record.source_id for r in results
                    if r.record.source_id in page.holds and not (r.outcome == Outcome.HELD or r.retry)]
        for r in results:
            self._seen_this_run[r.record.source_id] = r.record.digest
            ctx.count(self.name, r.outcome)
            if r.outcome == Outcome.FAILED:
                ctx.failed(self.name, r.record.source_id, r.message)
        page.results.extend(results)
        ctx.identifiers.setdefault(self.name, []).extend(record_identifiers(self.name, results, done))
        ctx.writes.submit(functools.partial(
            _write_batch_rows, tenant=ctx.tenant, run_id=run.pk, entity=self.name,
            statements=self.save_rows(ctx, page, results, done), resolved=resolved,
            holds=[{"tenant_id": ctx.tenant.pk, "entity": self.name, "source_id": r.record.source_id,
                    "reason": r.hold.reason if r.hold else "retry",
                    "detail": r.hold.detail if r.hold else r.message,
                    "waits_on": r.hold.waits_on if r.hold else [], "record": r.record.raw,
                    "source_digest": r.record.digest, "step_version": self.version,
                    "last_run_id": run.pk} for r in held],
            events=[{"tenant_id": ctx.tenant.pk, "run_id": run.pk, "entity": self.name,
                     "source_id": r.record.source_id, "outcome": r.outcome, "qbo_id": r.qbo_id,
                     "reason": r.reason or (r.hold.reason if r.hold else ""),
                     "message": r.message or (r.hold.detail if r.hold else ""), "qbo_error_code": r.qbo_error_code,
                     "intuit_tid": r.intuit_tid, "data": r.data} for r in results],
            counts={step: dict(counts) for step, counts in run.counts.items()}))
        audit.api_calls_flush(force=False)   # the outbound call log, in bulk, outside the batch transaction
        self.save_identifiers(ctx, at_least=IDENTIFIERS_BUFFERED)
        ctx.report(self.name)


def _write_batch_rows(*, tenant, run_id, entity: str, statements: Statements, resolved: list[str], holds: list[dict],
                      events: list[dict], counts: dict) -> None:
    """One batch's transaction: the step's statements (its links), holds released and kept, audit rows, the run's
    counts as they were when the batch was gathered. It carries all it writes and reads nothing (it may be written
    down and sent behind the run)."""
    with batch_transaction():
        for statement in statements:
            statement()
        if resolved:
            Hold.objects.for_tenant(tenant).filter(entity=entity, source_id__in=resolved).delete()
        if holds:
            bulk.upsert(Hold, holds, unique_fields=["tenant", "entity", "source_id"],
                        update_fields=["reason", "detail", "waits_on", "record", "source_digest", "step_version",
                                       "last_run"])
        audit.record_events(events)
        SyncRun.objects.filter(pk=run_id).update(counts=counts)


def _save_identifiers(tenant_id, gathered: dict) -> None:
    for entity, rows in gathered.items():
        identifiers_save(tenant_id=tenant_id, entity=entity, records=rows, normalized=True)


IDENTIFIERS_BUFFERED = 2000      # records whose numbers a step keeps before writing them


def _page_records() -> int:
    return max(1, int(getattr(settings, "SYNC_PAGE_RECORDS", 1)))


def _check_cancel(ctx: RunContext) -> None:
    """Between batches and pages, at most once a second (a query per batch cost 3% of a bulk load)."""
    now = time.monotonic()
    if now - ctx.cancel_checked_at < CANCEL_CHECK_SECONDS:
        return
    ctx.cancel_checked_at = now
    if SyncRun.objects.filter(pk=ctx.run.pk, cancel_requested=True).exists():
        raise RunCancelled()


def _excerpt(raw) -> str:
    return str(raw)[:500]


"""What the purchase order and invoice steps share: settings, references (vendor, AP account, accounts,
department, classes), bulk QBO reads per page into the page's `DocumentPage`, and link rows saved with the
batch they belong to. A document's vendor comes from `VendorResolver` (sync/pipeline/vendors.py).

Queries per page, never per record: links, vendor links and holds of a page are read in `begin_page`,
QBO objects are read with one `Id IN (...)` / `DocNumber IN (...)` query per page.

A first load or a full run asks QBO which DocNumbers it holds once, up front (`DocNumberIndex`), when QBO counts
few documents: a page's DocNumber look-up is then sent only for the numbers QBO holds (most pages: none).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from connections.clients.qbo import MAX_PAGE_SIZE, BatchItem, changed_after, escape_query_value
from connections.exceptions import RemoteError
from core import bulk
from core.outcomes import Outcome
from sync.holds.due import HoldSignals
from sync.mappings.resolver import MappingResolver
from sync.mappings.selectors import sync_settings_get
from sync.models import Hold, JaggaerCatalogItem, Kind, QboCatalogItem, SyncSettings
from sync.pipeline.company import CompanyCurrency
from sync.pipeline.engine import HoldSpec, PageState, Record, RecordStep, Result, RunContext, Write
from sync.pipeline.qbo_snapshot import QboView, qbo_view
from sync.pipeline.vendors import VendorResolver
from sync.pipeline.writer import Statements
from sync.transforms.common import InvalidRecord, normalize_name
from sync.transforms.documents import Departments, LineDraft

logger = logging.getLogger(__name__)

IN_CHUNK = 200            # values per `IN (...)` query


def quoted(values: Iterable[str]) -> str:
    return ",".join(f"'{escape_query_value(v)}'" for v in values)


def qbo_objects(qbo, entity: str, field: str, values: Iterable[str]) -> list[dict]:
    """Every `entity` whose `field` is one of `values`: one paged query per 200 values."""
    values = sorted(set(values))
    out: list[dict] = []
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start:start + IN_CHUNK]
        for page in qbo.query_pages(entity, f"{field} IN ({quoted(chunk)})"):
            out.extend(page)
    return out


def qbo_reads(qbo, reads: list[tuple[str, str, Iterable[str]]], *, batched: bool = True) -> list[list[dict]]:
    """Each read (entity, field, values): every `entity` whose `field` is one of `values`, as `qbo_objects`.
    With `batched`, two or more queries go as query items of one `/batch` (one request, not one each); an answer
    that may be cut short (a full page) or a query item QBO refuses is read again on its own, paged."""
    chunks = [(n, entity, field, chunk) for n, (entity, field, values) in enumerate(reads)
              for chunk in _chunks(sorted(set(values)))]
    out: list[list[dict]] = [[] for _ in reads]
    if not batched or len(chunks) < 2:
        for n, entity, field, chunk in chunks:
            out[n].extend(qbo_objects(qbo, entity, field, chunk))
        return out
    limit = int(getattr(settings, "QBO_BATCH_SIZE", 30))
    for start in range(0, len(chunks), limit):
        part = chunks[start:start + limit]
        items = [BatchItem(bid=f"q{i}", operation="query", query=f"select * from {entity} where {field} IN "
                           f"({quoted(chunk)}) maxresults {MAX_PAGE_SIZE}")
                 for i, (_, entity, field, chunk) in enumerate(part)]
        for (n, entity, field, chunk), answer in zip(part, qbo.batch(items), strict=True):
            found = {key.lower(): value for key, value in (answer.query_response or {}).items()}
            rows = found.get(entity.lower()) or []          # no row matched: QBO leaves the entity key out
            if answer.fault is not None or not isinstance(rows, list) or len(rows) >= MAX_PAGE_SIZE:
                rows = qbo_objects(qbo, entity, field, chunk)
            out[n].extend(rows)
    return out


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start:start + IN_CHUNK]


class DocNumberIndex:
    """The DocNumbers QBO holds of some entities (casefolded, as QBO compares them), read whole once in a run.

    Why: a first load writes every document, and before writing one with no link it must ask QBO whether a
    document with its DocNumber is already there (written before our commit was lost, or typed by a person), so
    it is linked instead of written twice. Asked per page, that is a `DocNumber IN (...)` query per 200 records
    and entity: 254 of the bench's 1,074 requests. Read up front, it is `select count(*)` per entity plus one
    query per 1,000 documents QBO holds: a new company holds few, so a first load pays a handful of requests,
    and a page asks QBO (as before, for the whole objects) only about the numbers the index holds.

    When QBO counts more than `limit` documents (a company with years of bills), the index is not read: the
    per-page look-ups cost less. A count QBO refuses, or does not answer with a number, leaves it unread too.
    While the run goes on, documents appear in QBO that the index has not seen (a person typing a bill): once the
    index is older than `max_age` seconds, what QBO changed since it was read (less `QBO_CDC_OVERLAP_SECONDS`
    for clock skew) is added with a `Metadata.LastUpdatedTime` query per entity, so a number typed meanwhile is
    looked up as it was before the index existed. A daily run never builds one: its page or two of changes cost
    fewer look-ups than the counts would."""

    def __init__(self, qbo, entities: Iterable[str], *, limit: int, max_age: float) -> None:
        self.qbo = qbo
        self.docs: dict[str, set[str]] = {entity: set() for entity in entities}
        self.limit, self.max_age = limit, max_age
        self.read_at: dt.datetime | None = None

    @classmethod
    def read(cls, qbo, entities: Iterable[str], *, limit: int, max_age: float) -> DocNumberIndex | None:
        """The index, or None when QBO holds more than `limit` documents of them (or does not say how many)."""
        index = cls(qbo, entities, limit=limit, max_age=max_age)
        started = timezone.now()
        try:
            counts = {entity: qbo.count(entity) for entity in index.docs}
        except RemoteError as e:
            if e.transient:
                raise
            logger.info("DocNumber index not read: QBO refused the count (%s)", e.code or e.status)
            return None
        if any(n is None for n in counts.values()) or sum(counts.values()) > limit:
            logger.info("DocNumber index not read: QBO counts %s (limit %s)", counts, limit)
            return None
        for entity, n in counts.items():
            if n and not index._add(entity, qbo.query_pages(entity)):
                return None
        index.read_at = started
        return index

    def _add(self, entity: str, pages: Iterable[list[dict]]) -> bool:
        """Add the DocNumbers of `pages`; False once the index holds more than it is worth keeping."""
        for page in pages:
            self.docs[entity].update(str(obj.get("DocNumber") or "").casefold() for obj in page)
            if sum(len(docs) for docs in self.docs.values()) > 4 * max(self.limit, 1):
                return False
        return True

    def holding(self, wanted: dict[str, Iterable[str]]) -> dict[str, set[str]] | None:
        """Of the DocNumbers a page looks up (entity -> numbers), those QBO holds; None when the index is given up
        (it grew past what is worth keeping): the page looks all of them up."""
        if timezone.now() - self.read_at > dt.timedelta(seconds=self.max_age) and not self._refresh():
            return None
        return {entity: {doc for doc in docs if doc.casefold() in self.docs.get(entity, ())}
                for entity, docs in wanted.items()}

    def _refresh(self) -> bool:
        started = timezone.now()
        since = self.read_at - dt.timedelta(seconds=settings.QBO_CDC_OVERLAP_SECONDS)
        for entity in self.docs:
            if not self._add(entity, self.qbo.query_pages(entity, changed_after(since))):
                return False
        self.read_at = started
        return True


def line_ids_by_position(entity: dict, lines: list[LineDraft]) -> dict[str, str]:
    """JAGGAER line number -> QBO line Id, pairing the lines in order (QBO keeps the order it was sent)."""
    answered = [ln for ln in entity.get("Line") or [] if ln.get("DetailType") != "SubTotalLineDetail"]
    answered.sort(key=lambda ln: int(ln.get("LineNum") or 0))
    if len(answered) != len(lines):
        return {}
    return {line.number: str(ln["Id"]) for line, ln in zip(lines, answered, strict=True) if ln.get("Id")}


def is_paid(entity: dict) -> bool:
    """A bill paid (or a vendor credit applied), in part or in full: its Balance is below its total."""
    try:
        total = Decimal(str(entity.get("TotalAmt", 0)))
        return Decimal(str(entity.get("Balance", total))) < total
    except ArithmeticError:
        return False


@dataclass
class DocumentPage(PageState):
    """What a page of documents reads in bulk in `begin_page`, used by its plan, write and link phases."""

    links: dict[str, Any] = field(default_factory=dict)          # source id -> the record's link row
    drafts: dict[str, Any] = field(default_factory=dict)         # source id -> draft, or the InvalidRecord
    current: dict[tuple[str, str], dict] = field(default_factory=dict)   # (entity, Id) -> the QBO object now
    existing: dict | None = None       # DocNumber -> QBO objects, looked up once a record gets that far
    linked_elsewhere: dict = field(default_factory=dict)         # those objects' owners in our links


class DocumentStep(RecordStep):
    """Base of the purchase order and invoice steps."""

    link_model = None
    link_key = ""
    link_fields: list[str] = []
    doc_entities: tuple[str, ...] = ()       # the QBO entities whose DocNumbers a page looks up

    def __init__(self) -> None:
        super().__init__()
        # the whole run's settings and references, loaded by `prepare`
        self.gl_segment = "Account"
        self.department_segment = "DepartmentCode"
        self.settings: SyncSettings | None = None
        self.ap_ref: dict | None = None
        self.ap_problem = ""
        self.resolver: MappingResolver | None = None
        self.currency: CompanyCurrency | None = None
        self.view: QboView | None = None
        self.suppliers: VendorResolver | None = None
        self._classes: dict[str, dict] | None = None           # QBO classes by name, read on first need
        self._department_names: dict[str, str] | None = None
        self._rows: dict[str, object] = {}        # link rows to save with the record's result (no QBO write)
        self._doc_index: DocNumberIndex | None = None
        self._doc_index_tried = False
        self._written: dict[str, object] = {}     # link rows to save with the batch that wrote them

    # ---- run and page set-up
    def prepare(self, ctx: RunContext) -> None:
        self.view = qbo_view(ctx)       # first: brings the stored QBO accounts up to date for this run
        dialect = getattr(ctx.jaggaer, "dialect", None) or {}
        self.gl_segment = dialect.get("gl_segment") or "Account"
        self.department_segment = dialect.get("department_segment") or "DepartmentCode"
        self.settings = sync_settings_get(tenant=ctx.tenant)
        self.ap_ref, self.ap_problem = self._ap_account(ctx)
        self.resolver = MappingResolver(ctx.tenant)
        self.currency = self.view.currency()
        self.suppliers = VendorResolver(ctx)

    def _ap_account(self, ctx: RunContext) -> tuple[dict | None, str]:
        item = self.settings.ap_account if self.settings.ap_account_id else None
        if item is not None and item.is_ap_account:
            return {"value": item.qbo_id, "name": item.name}, ""
        if item is not None:
            return None, f"The AP account set for this tenant ({item.name}) is inactive or gone in QuickBooks."
        candidates = list(QboCatalogItem.objects.for_tenant(ctx.tenant).ap_accounts()[:2])
        if len(candidates) == 1:
            return {"value": candidates[0].qbo_id, "name": candidates[0].name}, ""
        return None, ("No AP account is set for this tenant and QuickBooks has "
                      f"{'several' if candidates else 'no'} Accounts Payable accounts: set one in the sync settings.")

    def build_drafts(self, records: list[Record], make: Callable) -> dict:
        """source id -> the transform's draft of each record, or the InvalidRecord that says what is wrong."""
        drafts = {}
        for record in records:
            try:
                drafts[record.source_id] = make(record.raw, gl_segment=self.gl_segment,
                                                department_segment=self.department_segment)
            except InvalidRecord as e:
                drafts[record.source_id] = e
        return drafts

    def load_links(self, ctx: RunContext, records: list[Record]) -> dict[str, Any]:
        ids = [r.source_id for r in records]
        return {getattr(link, self.link_key): link for link in self.link_model.objects.for_tenant(ctx.tenant)
                .filter(**{f"{self.link_key}__in": ids})}

    def batched(self) -> bool:
        """A page's QBO reads in one request (a /batch of queries) in a daily run; a first load or a full run
        leaves QBO's batch budget (40 a minute) to its writes and sends the queries as they are."""
        return self.view is not None and self.view.mode == "cdc"

    def is_unchanged(self, page: DocumentPage, record: Record) -> bool:
        link = page.links.get(record.source_id)
        return link is not None and bool(link.source_digest) and link.source_digest == record.digest

    def hold_signals(self, ctx: RunContext) -> HoldSignals:
        """Documents held for their currency are due once multicurrency is on. Preferences are read again here
        as a refusal would (`currency_hold`: at once in a run a person started, at most daily in scheduled ones)
        when such documents exist, since they are no longer planned to ask."""
        signals = super().hold_signals(ctx)
        if not self.currency.multicurrency and self.view is not None and Hold.objects.for_tenant(ctx.tenant).filter(
                entity=self.name, reason="currency_unsupported").exists() and self.view.refresh_preferences():
            self.currency = self.view.currency()
        signals.currency_accepted = self.currency.multicurrency
        return signals

    # ---- references
    def vendor(self, company_id: str) -> str | HoldSpec:
        return self.suppliers.get(company_id)

    def currency_hold(self, currency: str | None, what: str) -> HoldSpec | None:
        """The hold of a document QBO would refuse for its currency. Before holding one on kept preferences, they
        are read again once in the run: multicurrency may be on now (a held document is released by the run after
        a person turns it on)."""
        if self.currency.refuses(currency) and self.view is not None and self.view.refresh_preferences():
            self.currency = self.view.currency()    # kept preferences: make sure multicurrency is still off
        if not self.currency.refuses(currency):
            return None
        return HoldSpec("currency_unsupported",
                        f"The {what} is in {currency}, but multicurrency is off in QuickBooks (home currency "
                        f"{self.currency.home}). Turn multicurrency on in QuickBooks to release it.", [currency])

    def references(self, ctx: RunContext, lines: list[LineDraft], found: Departments, what: str
                   ) -> tuple[dict[str, dict], dict | None, dict[str, dict] | None] | HoldSpec:
        """(GL code -> AccountRef, DepartmentRef, department -> ClassRef) or the hold naming what is missing."""
        needs = {Kind.GL_ACCOUNT: {line.gl_code for line in lines}}
        if found.header:
            needs[Kind.DEPARTMENT] = {found.header}
        refs = self.resolver.resolve(needs)
        if isinstance(refs, HoldSpec):
            return refs
        accounts = {code: refs[(Kind.GL_ACCOUNT, code)].as_ref() for code in needs[Kind.GL_ACCOUNT]}
        department = refs[(Kind.DEPARTMENT, found.header)].as_ref() if found.header else None
        classes = None
        if found.mixed:
            if self.settings.department_policy != "class_per_line":
                return HoldSpec("multiple_departments",
                                f"The {what}'s lines are on several departments ({', '.join(found.codes)}); a "
                                "QuickBooks transaction has one. Choose the 'class per line' department policy "
                                "(each line gets the QuickBooks class named as its department) to release it.",
                                found.codes)
            classes = self.class_refs(ctx, found.codes)
            if isinstance(classes, HoldSpec):
                return classes
        return accounts, department, classes

    def class_refs(self, ctx: RunContext, codes: list[str]) -> dict[str, dict] | HoldSpec:
        if self._classes is None:
            self._classes = {}
            for page in ctx.qbo.query_pages("Class"):
                for row in page:
                    ref = {"value": str(row["Id"]), "name": row.get("FullyQualifiedName") or row.get("Name")}
                    for name in (row.get("Name"), row.get("FullyQualifiedName")):
                        if name:
                            self._classes.setdefault(normalize_name(name), ref)
            self._department_names = dict(JaggaerCatalogItem.objects.for_tenant(ctx.tenant).filter(
                kind=Kind.DEPARTMENT).values_list("code", "name"))
        out, missing = {}, []
        for code in codes:
            mapped = self.resolver.refs.get((Kind.DEPARTMENT, code))
            names = [mapped.name if mapped else None, self._department_names.get(code), code]
            ref = next((self._classes[normalize_name(n)] for n in names if n and normalize_name(n) in self._classes),
                       None)
            if ref is None:
                missing.append(code)
            else:
                out[code] = ref
        if missing:
            return HoldSpec("class_missing",
                            f"No QuickBooks class is named as department {', '.join(missing)}; create it in "
                            "QuickBooks (class per line is this tenant's department policy).", missing)
        return out

    # ---- QBO reads per page
    def to_look_up(self, ctx: RunContext, wanted: dict[str, set[str]]) -> dict[str, set[str]]:
        """Of a page's DocNumber look-ups (entity -> numbers), those to ask QBO about: all of them, unless the run
        reads JAGGAER's whole history (a first load or a full run) and QBO holds few documents: then only those
        the run's `DocNumberIndex` holds (read on the first look-up)."""
        if not self._doc_index_tried and self.whole_stream and settings.SYNC_DOCNUMBER_INDEX_MAX > 0:
            self._doc_index_tried = True
            self._doc_index = DocNumberIndex.read(ctx.qbo, self.doc_entities, limit=settings.SYNC_DOCNUMBER_INDEX_MAX,
                                                  max_age=settings.SYNC_DOCNUMBER_INDEX_MAX_AGE_SECONDS)
        found = self._doc_index.holding(wanted) if self._doc_index is not None else None
        if found is None:
            self._doc_index = None
            return wanted
        return found

    @staticmethod
    def read_current(ctx: RunContext, page: DocumentPage, entity: str, ids: Iterable[str]) -> None:
        """The QBO objects as they are now (SyncToken, line ids, Balance), into `page.current[(entity, id)]`."""
        wanted = [i for i in set(ids) if i and (entity, i) not in page.current]
        for obj in qbo_objects(ctx.qbo, entity, "Id", wanted) if wanted else []:
            page.current[(entity, str(obj["Id"]))] = obj

    def current_of(self, ctx: RunContext, page: DocumentPage, entity: str, obj_id: str) -> dict | None:
        if (entity, obj_id) not in page.current:
            self.read_current(ctx, page, entity, [obj_id])
        return page.current.get((entity, obj_id))

    def refresh_stale(self, ctx: RunContext, page: DocumentPage, writes: list[Write]) -> list[Write | Result]:
        by_entity: dict[str, list[str]] = {}
        for write in writes:
            by_entity.setdefault(write.entity, []).append(str(write.payload["Id"]))
        fresh: dict[tuple[str, str], dict] = {}
        for entity, ids in by_entity.items():
            for obj in qbo_objects(ctx.qbo, entity, "Id", ids):
                fresh[(entity, str(obj["Id"]))] = obj
        out: list[Write | Result] = []
        for write in writes:
            obj = fresh.get((write.entity, str(write.payload["Id"])))
            if obj is None:
                out.append(Result(write.record, Outcome.FAILED, reason="qbo_rejected", qbo_error_code="5010",
                                  message=f"QuickBooks {write.entity} {write.payload['Id']} disappeared while "
                                          "updating it."))
                continue
            page.current[(write.entity, str(obj["Id"]))] = obj
            stale = self.stale_hold(write, obj)
            if stale is not None:
                out.append(stale)
                continue
            payload = dict(write.payload, SyncToken=str(obj["SyncToken"]))
            out.append(Write(write.record, write.operation, write.entity, payload, reason=write.reason,
                             notes=write.notes, attempt=write.attempt + 1, context=write.context))
        return out

    def stale_hold(self, write: Write, current: dict) -> Result | None:
        """Whether what changed meanwhile in QBO forbids the update (a bill paid meanwhile)."""
        return None

    # ---- links saved with their batch
    def stash(self, source_id: str, row) -> None:
        self._rows[source_id] = row

    def save_links(self, ctx: RunContext, page: PageState, done: list[tuple[Write, dict]]) -> Statements:
        rows = [self._written.pop(write.record.source_id) for write, _ in done
                if write.record.source_id in self._written]
        return [functools.partial(self._upsert, rows)] if rows else []

    def _upsert(self, rows: list) -> None:
        bulk.upsert(self.link_model, rows, unique_fields=["tenant", self.link_key], update_fields=self.link_fields)

    def save_rows(self, ctx: RunContext, page: PageState, results: list[Result], done: list[tuple[Write, dict]]
                  ) -> Statements:
        written = {write.record.source_id for write, _ in done}
        rows = [self._rows.pop(r.record.source_id) for r in results
                if r.record.source_id in self._rows and r.record.source_id not in written]
        for sid in written:
            self._rows.pop(sid, None)
        unwritten = [functools.partial(self._upsert, rows)] if rows else []
        return [*unwritten, *super().save_rows(ctx, page, results, done)]

    # ---- results
    @staticmethod
    def held(record: Record, hold: HoldSpec) -> Result:
        return Result(record, Outcome.HELD, hold=hold)

    def clone(self, link, **changes):
        """A fresh row (no pk) with the link's values: safe to upsert on the tenant + source id key."""
        values = {f: getattr(link, f) for f in self.link_fields}
        values.update(changes)
        return self.link_model(tenant_id=link.tenant_id, **{self.link_key: getattr(link, self.link_key)}, **values)

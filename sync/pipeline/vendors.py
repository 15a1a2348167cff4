"""Suppliers -> vendors: link by companyId, else by normalised name (inactive vendors too), else create.

`VendorResolver` answers the documents' question "which QBO vendor is JAGGAER supplier X" from our vendor
links, and sends a supplier a document reached first through `VendorStep.sync_suppliers`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from connections.clients.qbo import escape_query_value
from connections.exceptions import ConnectionFailure, RemoteError
from core import bulk
from core.outcomes import Outcome
from sync.holds.due import HoldSignals
from sync.models import Hold, VendorLink
from sync.pipeline.engine import HoldSpec, PageState, Record, RecordStep, Result, RunContext, Write
from sync.pipeline.qbo_snapshot import QboView, qbo_view, slim_vendor
from sync.pipeline.writer import Statements
from sync.transforms.common import normalize_name
from sync.transforms.vendors import VERSION, content_digest, supplier_to_vendor, with_suffix

ALL_ROWS = "Active IN (true,false)"


class VendorStep(RecordStep):
    name = "suppliers"
    jaggaer_entity = "suppliers"
    id_field = "companyId"
    modified_field = "lastModTime"
    version = VERSION
    link_model = VendorLink
    link_key = "jaggaer_company_id"

    def __init__(self) -> None:
        super().__init__()
        # the whole run's view of both sides, loaded by `prepare` and kept current by every write
        self.links: dict[str, VendorLink] = {}          # companyId -> link
        self.company_of_vendor: dict[str, str] = {}     # vendor Id -> companyId
        self.vendors: dict[str, dict] = {}              # vendor Id -> the vendor's few fields we use
        self.vendor_names: dict[str, str] = {}          # normalised DisplayName -> vendor Id
        self.other_names: set[str] = set()              # Customer and Employee names share the namespace (6240)
        self.terms: dict[str, dict] = {}                # normalised term name -> TermRef
        self.multicurrency = False
        self.home_currency = ""
        self.claimed: dict[str, str] = {}               # names this run is about to write -> companyId
        self.claimed_names: dict[str, str] = {}         # companyId -> the name it claimed
        self.refreshed: dict[str, VendorLink] = {}      # links whose digests move with no QBO write
        self.view: QboView | None = None

    def prepare(self, ctx: RunContext) -> None:
        for link in VendorLink.objects.for_tenant(ctx.tenant):
            self.links[link.jaggaer_company_id] = link
            self.company_of_vendor[link.qbo_vendor_id] = link.jaggaer_company_id
        self.view = qbo_view(ctx)
        self.vendors = self.view.vendors    # the run's vendors: every vendor step of the run keeps them current
        for vendor_id, vendor in self.vendors.items():
            self.vendor_names[normalize_name(vendor.get("DisplayName") or "")] = vendor_id
        self.other_names = self.view.other_name_keys()
        self.terms = self.view.term_refs()
        self._currency(self.view.currency())

    def hold_signals(self, ctx: RunContext) -> HoldSignals:
        signals = super().hold_signals(ctx)
        # a vendor renamed, deleted or merged in QBO may release a vendor held for its name or its link
        signals.vendors_changed = self.view is not None and (self.view.mode == "full" or
                                                             bool(self.view.changed.get("Vendor")))
        return signals

    def _currency(self, currency) -> None:
        self.multicurrency = currency.multicurrency
        self.home_currency = currency.home

    # ---- public: suppliers a document reached first
    def sync_suppliers(self, ctx: RunContext, raws: list[dict]) -> dict[str, Result]:
        """Suppliers fetched by id, through this step as one page (audit rows, holds, links as usual):
        each one's result by companyId. Call `begin` once first."""
        _, page = self.process_page(ctx, raws)
        return {r.record.source_id: r for r in page.results}

    def link_of(self, company_id: str) -> VendorLink | None:
        return self.links.get(company_id)

    def _remember(self, vendor: dict) -> None:
        vendor_id = str(vendor["Id"])
        old = self.vendors.get(vendor_id)
        if old and self.vendor_names.get(normalize_name(old["DisplayName"] or "")) == vendor_id:
            del self.vendor_names[normalize_name(old["DisplayName"] or "")]
        self.vendors[vendor_id] = slim_vendor(vendor)
        self.vendor_names[normalize_name(vendor.get("DisplayName") or "")] = vendor_id

    def is_unchanged(self, page: PageState, record: Record) -> bool:
        """The very record we last wrote (a link from before content digests goes through `plan` once)."""
        link = self.links.get(record.source_id)
        return (link is not None and bool(link.content_digest) and link.source_digest == record.digest
                and link.qbo_vendor_id in self.vendors)

    def _duplicate(self, record: Record, name: str, other_company: str) -> Result:
        other = self.links.get(other_company)
        other_name = other.display_name if other else self.claimed_names.get(other_company, name)
        detail = (f"Supplier {record.source_id} ({name!r}) has the same name as supplier {other_company} "
                  f"({other_name!r}); QuickBooks allows one vendor per name. Rename one of them in JAGGAER.")
        return Result(record, Outcome.HELD, hold=HoldSpec("duplicate_supplier_name", detail, [other_company]))

    def plan(self, ctx: RunContext, page: PageState, record: Record) -> Write | Result:
        draft = supplier_to_vendor(record.raw)
        cid = record.source_id
        notes = list(draft.notes)
        link = self.links.get(cid)
        target = None
        if link is not None:
            target = self.vendors.get(link.qbo_vendor_id)
            if target is None:
                return Result(record, Outcome.HELD, hold=HoldSpec(
                    "vendor_missing", f"QuickBooks vendor {link.qbo_vendor_id}, linked to this supplier, no longer "
                    f"exists (deleted or merged in QuickBooks). To match or create it again, forget its link: admin "
                    f"'Vendor links', or DELETE .../links/suppliers/{record.source_id}.", [link.qbo_vendor_id]))
        name = draft.display_name
        if normalize_name(name) in self.other_names:
            name = with_suffix(name)
            notes.append(f"A QuickBooks customer or employee is already named {draft.display_name!r}: "
                         f"the vendor is named {name!r}.")
        key = normalize_name(name)
        claimant = self.claimed.get(key)
        if claimant and claimant != cid:
            return self._duplicate(record, name, claimant)
        owner_id = self.vendor_names.get(key)
        reason = ""
        if owner_id and (target is None or owner_id != str(target["Id"])):
            owner_company = self.company_of_vendor.get(owner_id)
            if owner_company and owner_company != cid:
                return self._duplicate(record, name, owner_company)
            if target is not None:
                return Result(record, Outcome.HELD, hold=HoldSpec(
                    "vendor_name_taken", f"Another QuickBooks vendor ({owner_id}) is already named {name!r}; "
                    f"rename it in QuickBooks or the supplier in JAGGAER.", [owner_id]))
            target = self.vendors[owner_id]
            reason = "linked_existing"
            notes.append(f"Linked the existing QuickBooks vendor {target['DisplayName']!r} (same name).")
        self.claimed[key] = cid
        self.claimed_names[cid] = name
        payload = dict(draft.payload, DisplayName=name)
        if draft.terms:
            term = self.terms.get(normalize_name(draft.terms))
            if term:
                payload["TermRef"] = term
            else:
                notes.append(f"Payment terms {draft.terms!r} have no QuickBooks term; terms left as they are.")
        content = content_digest(payload)
        if target is not None and not reason and (
                link.content_digest == content or (not link.content_digest and link.source_digest == record.digest)):
            # only what QuickBooks does not hold changed (lastModTime, a field we do not map): nothing to send
            self.refreshed[cid] = VendorLink(tenant=ctx.tenant, jaggaer_company_id=cid,
                                              qbo_vendor_id=link.qbo_vendor_id, display_name=link.display_name,
                                              source_digest=record.digest, content_digest=content)
            return Result(record, Outcome.UNCHANGED, qbo_id=link.qbo_vendor_id,
                          message="Nothing QuickBooks holds changed; the vendor is left as it is.")
        if target is None:
            if draft.currency and draft.currency != self.home_currency and not self.multicurrency and (
                    self.view is not None and self.view.refresh_preferences()):
                self._currency(self.view.currency())   # kept preferences: make sure multicurrency is still off
            if draft.currency and draft.currency != self.home_currency:
                if self.multicurrency:
                    payload["CurrencyRef"] = {"value": draft.currency}
                else:
                    notes.append(f"Currency {draft.currency} not set: multicurrency is off in QuickBooks.")
            return Write(record, "create", "Vendor", payload, notes=notes, context={"name": name, "content": content})
        payload.update(Id=str(target["Id"]), SyncToken=str(target["SyncToken"]))
        return Write(record, "update", "Vendor", payload, reason=reason, notes=notes,
                     context={"name": name, "content": content})

    def written(self, ctx: RunContext, page: PageState, write: Write, entity: dict) -> Result:
        self._remember(entity)
        vendor_id = str(entity["Id"])
        cid = write.record.source_id
        self.company_of_vendor[vendor_id] = cid
        self.links[cid] = VendorLink(tenant=ctx.tenant, jaggaer_company_id=cid, qbo_vendor_id=vendor_id,
                                     display_name=entity.get("DisplayName") or write.context["name"],
                                     source_digest=write.record.digest, content_digest=write.context["content"])
        outcome = Outcome.CREATED if write.operation == "create" else Outcome.UPDATED
        verb = {"create": "Created", "update": "Linked and updated" if write.reason else "Updated"}[write.operation]
        message = " ".join([f"{verb} QuickBooks vendor {entity.get('DisplayName')!r} ({vendor_id}).", *write.notes])
        return Result(write.record, outcome, reason=write.reason, message=message, qbo_id=vendor_id)

    def save_links(self, ctx: RunContext, page: PageState, done: list[tuple[Write, dict]]) -> Statements:
        return [functools.partial(self._upsert, [self.links[write.record.source_id] for write, _ in done])]

    @staticmethod
    def _upsert(rows: list[VendorLink]) -> None:
        bulk.upsert(VendorLink, rows, unique_fields=["tenant", "jaggaer_company_id"],
                    update_fields=["qbo_vendor_id", "display_name", "source_digest", "content_digest"])

    def save_rows(self, ctx: RunContext, page: PageState, results: list[Result], done: list[tuple[Write, dict]]
                  ) -> Statements:
        refreshed = [self.refreshed.pop(r.record.source_id) for r in results if r.record.source_id in self.refreshed]
        for row in refreshed:
            self.links[row.jaggaer_company_id] = row
        upsert = [functools.partial(self._upsert, refreshed)] if refreshed else []
        return [*upsert, *super().save_rows(ctx, page, results, done)]

    def refresh_stale(self, ctx: RunContext, page: PageState, writes: list[Write]) -> list[Write | Result]:
        ids = ",".join(f"'{escape_query_value(w.payload['Id'])}'" for w in writes)
        current = {}
        for page in ctx.qbo.query_pages("Vendor", f"Id IN ({ids}) AND {ALL_ROWS}"):
            for vendor in page:
                current[str(vendor["Id"])] = vendor
        out: list[Write | Result] = []
        for write in writes:
            vendor = current.get(write.payload["Id"])
            if vendor is None:
                out.append(Result(write.record, Outcome.FAILED, reason="qbo_rejected", qbo_error_code="5010",
                                  message=f"QuickBooks vendor {write.payload['Id']} disappeared while updating it."))
                continue
            self._remember(vendor)
            payload = dict(write.payload, SyncToken=str(vendor["SyncToken"]))
            out.append(Write(write.record, write.operation, write.entity, payload, reason=write.reason,
                             notes=write.notes, attempt=write.attempt + 1, context=write.context))
        return out


class VendorResolver:
    """companyId -> QBO vendor id, or the hold that explains why there is none, for the document steps.

    Read from our state: the vendor links, the supplier holds, and the suppliers that failed in this run. A
    supplier with none of them (a document reached it first) is fetched from JAGGAER and sent once through the
    vendor step's public `sync_suppliers`; its result answers. Bulk: one call per page of documents."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.known: dict[str, str | HoldSpec] = {}
        self.vendor_step: VendorStep | None = None      # begun on the first supplier to fetch, once per run

    def get(self, company_id: str) -> str | HoldSpec:
        return self.known.get(company_id) or HoldSpec(
            "supplier_not_synced", f"Supplier {company_id} is not synced to QuickBooks yet.", [company_id])

    def resolve(self, company_ids: Iterable[str]) -> None:
        unknown = sorted({c for c in company_ids if c and c not in self.known})
        if not unknown:
            return
        for link in VendorLink.objects.for_tenant(self.ctx.tenant).filter(jaggaer_company_id__in=unknown):
            self.known[link.jaggaer_company_id] = self._from_link(link)
        missing = [c for c in unknown if c not in self.known]
        if missing:
            self._waiting(missing)
        fetch = [c for c in missing if c not in self.known]
        if fetch:
            self._sync_on_demand(fetch)

    @staticmethod
    def _from_link(link: VendorLink) -> str | HoldSpec:
        if link.attention:
            return HoldSpec("vendor_needs_attention",
                            f"QuickBooks vendor {link.qbo_vendor_id} of supplier {link.jaggaer_company_id} needs a "
                            f"person's attention ({link.attention}): {link.attention_detail}".strip(),
                            [link.jaggaer_company_id])
        return link.qbo_vendor_id

    def _waiting(self, company_ids: list[str]) -> None:
        """Suppliers held, or failed earlier in this run: the document waits on them, they are not fetched."""
        for hold in Hold.objects.for_tenant(self.ctx.tenant).filter(entity=VendorStep.name,
                                                                    source_id__in=company_ids):
            self.known[hold.source_id] = self._held(hold.source_id, hold.reason, hold.detail)
        for cid in company_ids:
            message = self.ctx.failures.get((VendorStep.name, cid))
            if cid not in self.known and message is not None:
                self.known[cid] = self._invalid(cid, message)

    @staticmethod
    def _held(company_id: str, reason: str, detail: str) -> HoldSpec:
        return HoldSpec("supplier_held", f"Supplier {company_id} is held ({reason}): {detail}", [company_id])

    @staticmethod
    def _invalid(company_id: str, message: str) -> HoldSpec:
        return HoldSpec("supplier_invalid", f"Supplier {company_id} could not be synced: {message}", [company_id])

    def _sync_on_demand(self, company_ids: list[str]) -> None:
        ctx = self.ctx
        raws = []
        for cid in company_ids:
            try:
                raws.append(ctx.jaggaer.get("suppliers", cid))
            except ConnectionFailure:
                raise
            except RemoteError as e:
                reason = "supplier_not_found" if e.status == 404 else "supplier_not_synced"
                self.known[cid] = HoldSpec(reason, f"Supplier {cid} could not be read from JAGGAER: {e}", [cid])
        if not raws:
            return
        if self.vendor_step is None:
            self.vendor_step = VendorStep()
            self.vendor_step.begin(ctx)
        results = self.vendor_step.sync_suppliers(ctx, raws)
        for cid in company_ids:
            if cid in self.known:
                continue
            link = self.vendor_step.link_of(cid)
            result = results.get(cid)
            if link is not None and link.qbo_vendor_id:
                self.known[cid] = self._from_link(link)
            elif result is not None and (result.outcome == Outcome.HELD or result.retry):
                hold = result.hold
                self.known[cid] = self._held(cid, hold.reason if hold else "retry", hold.detail if hold else
                                             result.message)
            elif result is not None and result.outcome == Outcome.FAILED:
                self.known[cid] = self._invalid(cid, result.message)
            else:
                self.known[cid] = HoldSpec("supplier_invalid", f"Supplier {cid} could not be synced to QuickBooks; "
                                           "see its audit row.", [cid])

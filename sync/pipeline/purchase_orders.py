"""JAGGAER purchase orders -> QBO PurchaseOrders.

Approved, Issued and Closed POs are written (Open / Closed); Draft ones wait; a cancelled PO is closed in
QBO when it was written, else skipped. Every PO seen leaves a link row, so an invoice can tell a PO never
seen (`po_not_found`) from one not written yet (`po_not_synced`) or cancelled (`po_cancelled`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from core import bulk
from core.outcomes import Outcome
from sync.models import PurchaseOrderLink
from sync.pipeline.documents import DocumentPage, DocumentStep, line_ids_by_position, qbo_objects, qbo_reads
from sync.pipeline.engine import HoldSpec, PageState, Record, Result, RunContext, Write
from sync.pipeline.writer import Statements
from sync.transforms.common import InvalidRecord
from sync.transforms.documents import money_text, short_doc_number, total_mismatch
from sync.transforms.purchase_orders import (
    CANCELLED,
    POSTED,
    VERSION,
    WAITING,
    PurchaseOrderDraft,
    content_digest,
    mapped_digest,
    purchase_order_draft,
    purchase_order_payload,
)

MAX_SALT = 3                 # short forms tried per number (a second is needed once in 4 billion)


@dataclass
class PurchaseOrderPage(DocumentPage):
    doc_owners: dict[str, tuple[str, str]] = field(default_factory=dict)   # DocNumber -> (poId, poNumber) in links
    unlinked: set[str] = field(default_factory=set)     # DocNumbers of the page's POs not written yet


class PurchaseOrderStep(DocumentStep):
    name = "purchase_orders"
    jaggaer_entity = "purchase_orders"
    id_field = "poId"
    modified_field = "lastUpdate"
    version = VERSION
    link_model = PurchaseOrderLink
    link_key = "jaggaer_po_id"
    doc_entities = ("PurchaseOrder",)
    link_fields = ["po_number", "doc_number", "qbo_po_id", "qbo_vendor_id", "jaggaer_status", "qbo_status",
                   "lines", "line_totals", "source_digest", "content_digest"]

    def __init__(self) -> None:
        super().__init__()
        self.claimed: dict[str, tuple[str, str]] = {}    # DocNumbers this run is writing -> (poId, poNumber)
        self._seen_invalid: dict[str, PurchaseOrderLink] = {}

    # ---- a PO held by the validation still leaves a link row, so its invoices wait on it (po_not_synced)
    def invalid(self, ctx: RunContext, record: Record, finding) -> None:
        number = record.raw.get("poNumber")
        if isinstance(number, str | int) and not isinstance(number, bool) and str(number).strip():
            status = record.raw.get("status")
            self._seen_invalid[record.source_id] = PurchaseOrderLink(
                tenant=ctx.tenant, jaggaer_po_id=record.source_id, po_number=str(number).strip()[:100],
                jaggaer_status=status.strip()[:20] if isinstance(status, str) else "")

    def save_rows(self, ctx: RunContext, page: PageState, results: list[Result], done: list[tuple[Write, dict]]
                  ) -> Statements:
        seen = [self._seen_invalid.pop(r.record.source_id) for r in results
                if r.record.source_id in self._seen_invalid]
        # only POs never seen before: what we know of a written PO stays as it is
        insert = [functools.partial(bulk.insert, PurchaseOrderLink, seen, ignore_conflicts=True)] if seen else []
        return [*insert, *super().save_rows(ctx, page, results, done)]

    # ---- per page: links, drafts, vendors, current QBO POs, DocNumber look-ups, all in bulk
    def transform_page(self, records: list[Record]) -> dict:
        return self.build_drafts(records, purchase_order_draft)

    def begin_page(self, ctx: RunContext, records: list[Record], drafts: dict) -> PurchaseOrderPage:
        links = self.load_links(ctx, records)
        page = PurchaseOrderPage(links=links, drafts=drafts)
        drafts = [d for d in page.drafts.values() if isinstance(d, PurchaseOrderDraft)]
        self.suppliers.resolve([d.company_id for d in drafts if d.status in POSTED or d.status == CANCELLED])
        changed = [links[r.source_id].qbo_po_id for r in records
                   if r.source_id in links and links[r.source_id].written
                   and links[r.source_id].source_digest != r.digest]
        # DocNumbers of POs not written yet: taken by another JAGGAER PO (our links) or already in QBO?
        new = [d for d in drafts if d.status in POSTED and not (d.po_id in links and links[d.po_id].written)]
        wanted = {short_doc_number(d.po_number, salt=s) for d in new
                  for s in range(0, MAX_SALT if len(d.po_number) > 21 else 1)}
        page.doc_owners = {doc: (po_id, number) for doc, po_id, number in PurchaseOrderLink.objects.for_tenant(
            ctx.tenant).filter(doc_number__in=wanted).values_list("doc_number", "jaggaer_po_id", "po_number")
        } if wanted else {}
        # QBO DocNumber look-ups for the whole page, made once a record of it gets that far (see invoices); in a
        # daily run they go with the read of the linked POs being updated when there is one (one /batch).
        page.unlinked = {short_doc_number(d.po_number) for d in new}
        changed = {i for i in changed if i}
        if changed and page.unlinked and self.batched():
            current, existing = qbo_reads(ctx.qbo, [("PurchaseOrder", "Id", changed),
                                                    ("PurchaseOrder", "DocNumber", page.unlinked)])
            page.current.update({("PurchaseOrder", str(po["Id"])): po for po in current})
            self._existing_found(ctx, page, existing)
        else:
            self.read_current(ctx, page, "PurchaseOrder", changed)
        return page

    def _look_up_existing(self, ctx: RunContext, page: PurchaseOrderPage) -> None:
        docs = self.to_look_up(ctx, {"PurchaseOrder": page.unlinked})["PurchaseOrder"] if page.unlinked else set()
        found = qbo_objects(ctx.qbo, "PurchaseOrder", "DocNumber", docs) if docs else []
        self._existing_found(ctx, page, found)

    @staticmethod
    def _existing_found(ctx: RunContext, page: PurchaseOrderPage, found_pos: list[dict]) -> None:
        """The page's DocNumber look-ups answered: the POs found, and who owns them here."""
        page.existing = {}
        for po in found_pos:
            page.existing.setdefault(str(po.get("DocNumber") or "").casefold(), []).append(po)
        found = [str(po["Id"]) for pos in page.existing.values() for po in pos]
        page.linked_elsewhere = dict(PurchaseOrderLink.objects.for_tenant(ctx.tenant).filter(qbo_po_id__in=found)
                                     .values_list("qbo_po_id", "jaggaer_po_id")) if found else {}

    def _doc_number(self, page: PurchaseOrderPage, draft: PurchaseOrderDraft) -> str | HoldSpec:
        link = page.links.get(draft.po_id)
        if link is not None and link.written and link.doc_number:
            return link.doc_number
        for salt in range(MAX_SALT):
            doc = short_doc_number(draft.po_number, salt=salt)
            owner, number = page.doc_owners.get(doc) or self.claimed.get(doc.casefold()) or (None, "")
            if owner in (None, draft.po_id):
                return doc
            # the same number on another PO is a duplicate; another number is a collision of short forms
            if doc == draft.po_number or number == draft.po_number:
                return HoldSpec("po_number_duplicate",
                                f"PO number {draft.po_number} is also used by JAGGAER PO {owner}; QuickBooks "
                                "allows a number once.", [owner])
        raise InvalidRecord(f"No free short form for PO number {draft.po_number!r}.", field="poNumber")

    # ---- plan
    def plan(self, ctx: RunContext, page: PurchaseOrderPage, record: Record) -> Write | Result:
        draft = page.drafts.get(record.source_id)
        if draft is None:   # a page handed over without begin_page: cannot happen in the engine
            raise InvalidRecord("The purchase order was not prepared.")
        link = page.links.get(record.source_id)
        row = self.clone(link) if link else PurchaseOrderLink(tenant=ctx.tenant, jaggaer_po_id=record.source_id)
        number = record.raw.get("poNumber")
        if isinstance(number, str | int) and str(number).strip():
            row.po_number = str(number).strip()[:100]
            row.jaggaer_status = str(record.raw.get("status") or "")[:20]
            self.stash(record.source_id, row)
        if isinstance(draft, InvalidRecord):
            raise draft
        written = link is not None and link.written
        if draft.status in WAITING:
            row.source_digest = record.digest
            return Result(record, Outcome.SKIPPED, reason="po_not_approved", qbo_id=link.qbo_po_id if written else "",
                          message=f"PO {draft.po_number} is {draft.status} in JAGGAER: it waits for approval."
                          + (" The QuickBooks purchase order is left as it is." if written else ""))
        if draft.status == CANCELLED and not written:
            row.source_digest = record.digest
            return Result(record, Outcome.SKIPPED, reason="po_cancelled",
                          message=f"PO {draft.po_number} was cancelled in JAGGAER before it reached QuickBooks.")
        content = mapped_digest(draft)
        if written and link.content_digest in (content, content_digest(record.raw)):
            row.source_digest, row.content_digest = record.digest, content
            return Result(record, Outcome.UNCHANGED, qbo_id=link.qbo_po_id,
                          message="Nothing QuickBooks holds changed (status Approved and Issued are both Open).")
        return self._write(ctx, page, record, draft, link, content)

    def _write(self, ctx: RunContext, page: PurchaseOrderPage, record: Record, draft: PurchaseOrderDraft, link,
               content: str) -> Write | Result:
        vendor_id = self.vendor(draft.company_id)
        if isinstance(vendor_id, HoldSpec):
            return self.held(record, vendor_id)
        hold = self.currency_hold(draft.currency, "purchase order")
        if hold:
            return self.held(record, hold)
        mismatch = total_mismatch(draft.lines, draft.total)
        if mismatch:
            return self.held(record, HoldSpec(
                "total_mismatch", f"The lines add up to {money_text(mismatch[0])} but the PO total is "
                f"{mismatch[1]}; fix the PO in JAGGAER.", [draft.po_number]))
        if self.ap_ref is None:
            return self.held(record, HoldSpec("ap_account_missing", self.ap_problem, []))
        refs = self.references(ctx, draft.lines, draft.departments, "purchase order")
        if isinstance(refs, HoldSpec):
            return self.held(record, refs)
        accounts, department, classes = refs
        doc = self._doc_number(page, draft)
        if isinstance(doc, HoldSpec):
            return self.held(record, doc)
        written = link is not None and link.written
        target, reason = None, ""
        if written:
            target = self.current_of(ctx, page, "PurchaseOrder", link.qbo_po_id)
            if target is None:
                return self.held(record, HoldSpec(
                    "po_missing_in_qbo", f"QuickBooks purchase order {link.qbo_po_id}, written for this PO, no "
                    "longer exists (deleted in QuickBooks). To write it again, forget its link: admin 'Purchase "
                    f"order links', or DELETE .../links/purchase_orders/{record.source_id}.", [link.qbo_po_id]))
            line_ids = dict(link.lines)
        else:
            target = self._existing(ctx, page, draft, doc, vendor_id)
            if isinstance(target, HoldSpec):
                return self.held(record, target)
            line_ids = line_ids_by_position(target, draft.lines) if target else {}
            reason = "linked_existing" if target else ""
        status = self._status(draft, link, target)
        payload = purchase_order_payload(
            draft, vendor_id=vendor_id, ap_ref=self.ap_ref, doc_number=doc, accounts=accounts,
            department_ref=department, classes=classes, line_ids=line_ids,
            currency=self.currency.ref_for(draft.currency), status=status)
        if draft.status == CANCELLED:
            reason = "po_cancelled"
        self.claimed[doc.casefold()] = (draft.po_id, draft.po_number)
        context = {"draft": draft, "doc": doc, "vendor_id": vendor_id, "content": content,
                   "status": status or (link.qbo_status if link else "")}
        if target is None:
            return Write(record, "create", "PurchaseOrder", payload, reason=reason, context=context)
        payload.update(Id=str(target["Id"]), SyncToken=str(target["SyncToken"]))
        return Write(record, "update", "PurchaseOrder", payload, reason=reason, context=context)

    def _existing(self, ctx: RunContext, page: PurchaseOrderPage, draft: PurchaseOrderDraft, doc: str,
                  vendor_id: str) -> dict | HoldSpec | None:
        """A QBO PO with our DocNumber written before our database committed (or by a person): link it."""
        if page.existing is None:
            self._look_up_existing(ctx, page)
        for po in page.existing.get(doc.casefold(), []):
            owner = page.linked_elsewhere.get(str(po["Id"]))
            if owner and owner != draft.po_id:     # the number in another case: QBO would refuse it (6140)
                return HoldSpec("po_number_duplicate",
                                f"PO number {draft.po_number} is also used by JAGGAER PO {owner} (QuickBooks "
                                f"purchase order {po['Id']}, number {po.get('DocNumber')}); QuickBooks allows a "
                                "number once.", [owner])
            if str((po.get("VendorRef") or {}).get("value")) != vendor_id:
                return HoldSpec("po_number_taken",
                                f"QuickBooks purchase order {po['Id']} already has number {doc} for another vendor "
                                f"({(po.get('VendorRef') or {}).get('name')}).", [str(po["Id"])])
            return po
        return None

    @staticmethod
    def _status(draft: PurchaseOrderDraft, link, target: dict | None) -> str | None:
        """POStatus to send: always on create; on update only when ours changed, so a PO that QBO closed
        because it is fully billed is not reopened by a JAGGAER change that is not about its status."""
        wanted = draft.qbo_status
        if target is None:
            return wanted
        if link is None or not link.written:     # found by DocNumber: we do not know what we wrote
            return None if wanted == "Open" and target.get("POStatus") == "Closed" else wanted
        if wanted == "Closed" or wanted != link.qbo_status:
            return wanted
        return None if target.get("POStatus") == "Closed" else wanted

    # ---- after QBO answered
    def written(self, ctx: RunContext, page: PageState, write: Write, entity: dict) -> Result:
        draft: PurchaseOrderDraft = write.context["draft"]
        po_id = str(entity["Id"])
        lines = line_ids_by_position(entity, draft.lines)
        self._written[write.record.source_id] = PurchaseOrderLink(
            tenant=ctx.tenant, jaggaer_po_id=draft.po_id, po_number=draft.po_number[:100],
            doc_number=str(entity.get("DocNumber") or write.context["doc"]), qbo_po_id=po_id,
            qbo_vendor_id=write.context["vendor_id"], jaggaer_status=draft.status,
            qbo_status=str(entity.get("POStatus") or write.context["status"] or ""), lines=lines,
            line_totals={line.number: {"quantity": str(line.qty) if line.qty is not None else None,
                                       "amount": str(line.exact_amount)} for line in draft.lines},
            source_digest=write.record.digest, content_digest=write.context["content"])
        outcome = Outcome.CREATED if write.operation == "create" else Outcome.UPDATED
        verb = {"create": "Created", "update": "Updated"}[write.operation]
        if write.reason == "linked_existing":
            verb = "Linked and updated the existing"
        doc = write.context["doc"]
        message = f"{verb} QuickBooks purchase order {doc} ({po_id}), {entity.get('POStatus', '')}."
        if doc != draft.po_number:
            message += f" JAGGAER number {draft.po_number} is longer than 21 characters: {doc} is its short form."
        if write.reason == "po_cancelled":
            message = f"Cancelled in JAGGAER: closed QuickBooks purchase order {doc} ({po_id})."
        return Result(write.record, outcome, reason=write.reason, message=message, qbo_id=po_id,
                      data={"doc_number": doc, "po_number": draft.po_number})

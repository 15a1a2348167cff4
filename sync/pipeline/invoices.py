"""JAGGAER invoices -> QBO Bills (credit memos -> VendorCredits), each PO line linked to its QBO PO line.

Only Approved and Paid invoices are posted; InProcess ones wait, Rejected ones are skipped. Never a
duplicate: the link table first, then (for an invoice with no link) one `DocNumber IN (...)` query per page
finds a bill written before our database committed, matched on DocNumber *and* vendor (in a first load, only
for the numbers the run's `DocNumberIndex` says QBO holds); the batch requestid is deterministic as well. Runs
after purchase orders, so a PO written in this run releases its invoices in this run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q

from core import bulk
from core.outcomes import Outcome
from sync.models import BillLink, PoLineBilling, PurchaseOrderLink
from sync.pipeline.documents import (
    DocumentPage,
    DocumentStep,
    is_paid,
    line_ids_by_position,
    qbo_reads,
)
from sync.pipeline.engine import HoldSpec, PageState, Record, Result, RunContext, Write
from sync.pipeline.writer import Statements
from sync.transforms.common import InvalidRecord
from sync.transforms.documents import money_text, short_doc_number, total_mismatch
from sync.transforms.invoices import (
    POSTED,
    REJECTED,
    VERSION,
    WAITING,
    InvoiceDraft,
    bill_payload,
    content_digest,
    invoice_draft,
    mapped_digest,
)
from sync.transforms.purchase_orders import CANCELLED

CENT = Decimal("0.01")
LABEL = {"Bill": "bill", "VendorCredit": "vendor credit"}


@dataclass
class InvoicePage(DocumentPage):
    unlinked: dict[str, set[str]] = field(default_factory=dict)      # entity -> DocNumbers of invoices with no link
    po_links: dict[str, PurchaseOrderLink] = field(default_factory=dict)   # PO number or DocNumber -> its link
    # (poId, PO line) -> {invoiceId: (quantity, amount)} of the bills written before this page
    billing: dict[tuple[str, str], dict[str, tuple[Decimal | None, Decimal]]] = field(default_factory=dict)


class InvoiceStep(DocumentStep):
    name = "invoices"
    jaggaer_entity = "invoices"
    id_field = "invoiceId"
    modified_field = "lastUpdate"
    version = VERSION
    link_model = BillLink
    link_key = "jaggaer_invoice_id"
    doc_entities = ("Bill", "VendorCredit")
    link_fields = ["invoice_number", "qbo_entity", "qbo_id", "doc_number", "qbo_vendor_id", "lines", "po_ids",
                   "source_digest", "content_digest"]

    def __init__(self) -> None:
        super().__init__()
        self.claimed: dict[tuple[str, str, str], str] = {}   # (entity, vendor, DocNumber) this run writes -> id
        # (poId, PO line) -> {invoiceId: (quantity, amount)} of the bills this run is writing
        self.billing_claims: dict[tuple[str, str], dict[str, tuple[Decimal | None, Decimal]]] = {}

    # ---- per page, in bulk
    def transform_page(self, records: list[Record]) -> dict:
        return self.build_drafts(records, invoice_draft)

    def begin_page(self, ctx: RunContext, records: list[Record], drafts: dict) -> InvoicePage:
        links = self.load_links(ctx, records)
        page = InvoicePage(links=links, drafts=drafts)
        posted = [d for d in page.drafts.values() if isinstance(d, InvoiceDraft) and d.status in POSTED]
        self.suppliers.resolve([d.company_id for d in posted])
        self._load_po_links(ctx, page, {n for d in posted if not d.is_credit for n in d.po_numbers})
        # DocNumber look-ups are made for the whole page, but only once a record of it gets that far: a page
        # of records held on something else (currency, mappings, POs) costs QBO nothing, run after run. The
        # linked bills and vendor credits being updated are read now, as QBO has them; in a daily run that one
        # request (a /batch of queries) carries the page's look-ups too.
        page.unlinked = {entity: {short_doc_number(d.invoice_number) for d in posted
                                  if d.entity == entity and d.invoice_id not in links}
                         for entity in ("Bill", "VendorCredit")}
        reads = [(entity, "Id", ids) for entity in ("Bill", "VendorCredit")
                 if (ids := {link.qbo_id for r in records if (link := links.get(r.source_id)) is not None
                             and link.qbo_entity == entity and link.qbo_id and link.source_digest != r.digest})]
        look_ups = [(entity, "DocNumber", docs) for entity, docs in page.unlinked.items() if docs]
        if reads and look_ups and self.batched():
            found = qbo_reads(ctx.qbo, reads + look_ups)
            self._existing_found(ctx, page, list(zip(look_ups, found[len(reads):], strict=True)))
        else:
            found = qbo_reads(ctx.qbo, reads, batched=self.batched())
        for (entity, _, _), objs in zip(reads, found, strict=False):
            for obj in objs:
                page.current[(entity, str(obj["Id"]))] = obj
        return page

    def _look_up_existing(self, ctx: RunContext, page: InvoicePage) -> None:
        wanted = {entity: docs for entity, docs in page.unlinked.items() if docs}
        asked = self.to_look_up(ctx, wanted) if wanted else {}
        look_ups = [(entity, "DocNumber", docs) for entity, docs in asked.items() if docs]
        found = qbo_reads(ctx.qbo, look_ups, batched=self.batched())
        self._existing_found(ctx, page, list(zip(look_ups, found, strict=True)))

    @staticmethod
    def _existing_found(ctx: RunContext, page: InvoicePage, answers: list[tuple[tuple, list[dict]]]) -> None:
        """The page's DocNumber look-ups answered: the bills and vendor credits found, and who owns them here."""
        page.existing = {}
        for (entity, _, _), objs in answers:
            for obj in objs:
                page.existing.setdefault((entity, str(obj.get("DocNumber") or "").casefold()), []).append(obj)
        found = {str(o["Id"]) for objs in page.existing.values() for o in objs}
        page.linked_elsewhere = {(e, i): inv for e, i, inv in BillLink.objects.for_tenant(ctx.tenant).filter(
            qbo_id__in=found).values_list("qbo_entity", "qbo_id", "jaggaer_invoice_id")} if found else {}

    @staticmethod
    def _load_po_links(ctx: RunContext, page: InvoicePage, numbers: set[str]) -> None:
        if not numbers:
            return
        rows = PurchaseOrderLink.objects.for_tenant(ctx.tenant).filter(
            Q(po_number__in=numbers) | Q(doc_number__in=numbers))
        for link in sorted(rows, key=lambda r: (not r.written, r.pk)):   # a written PO wins over a twin
            for key in (link.po_number, link.doc_number):
                if key:
                    page.po_links.setdefault(key, link)
        po_ids = {link.jaggaer_po_id for link in page.po_links.values() if link.line_totals}
        for row in PoLineBilling.objects.for_tenant(ctx.tenant).filter(jaggaer_po_id__in=po_ids) if po_ids else []:
            per_invoice = page.billing.setdefault((row.jaggaer_po_id, row.po_line), {})
            qty, amount = per_invoice.get(row.jaggaer_invoice_id, (None, Decimal(0)))
            if row.quantity is not None:
                qty = (qty or Decimal(0)) + row.quantity
            per_invoice[row.jaggaer_invoice_id] = (qty, amount + row.amount)

    # ---- plan
    def plan(self, ctx: RunContext, page: InvoicePage, record: Record) -> Write | Result:
        draft = page.drafts.get(record.source_id)
        if draft is None:
            raise InvalidRecord("The invoice was not prepared.")
        if isinstance(draft, InvalidRecord):
            raise draft
        link = page.links.get(record.source_id)
        what = "credit memo" if draft.is_credit else "invoice"
        if draft.status in WAITING:
            return Result(record, Outcome.SKIPPED, reason="invoice_not_approved", qbo_id=link.qbo_id if link else "",
                          message=f"The {what} is {draft.status} in JAGGAER: it waits for approval.")
        if draft.status in REJECTED:
            note = f" QuickBooks {link.qbo_entity} {link.qbo_id}, written earlier, is left as it is." if link else ""
            return Result(record, Outcome.SKIPPED, reason="invoice_rejected", qbo_id=link.qbo_id if link else "",
                          message=f"The {what} was rejected in JAGGAER: not posted.{note}")
        content = mapped_digest(draft)
        if link is not None and link.content_digest in (content, content_digest(record.raw)):
            self.stash(record.source_id, self.clone(link, source_digest=record.digest, content_digest=content))
            return Result(record, Outcome.UNCHANGED, qbo_id=link.qbo_id,
                          message=f"Nothing QuickBooks holds changed (only the timestamp or the workflow status, "
                                  f"now {draft.status}); nothing to send to QuickBooks.")
        if link is not None and link.qbo_entity != draft.entity:
            return self.held(record, HoldSpec(
                "document_type_changed", f"The document became a {what} after QuickBooks {LABEL[link.qbo_entity]} "
                f"{link.qbo_id} was written for it. Change it back in JAGGAER, or delete that {LABEL[link.qbo_entity]} "
                f"in QuickBooks and forget its link (admin 'Bill links', or DELETE .../links/invoices/"
                f"{record.source_id}) to write it as a {what}.", [link.qbo_id]))
        return self._write(ctx, page, record, draft, link, content)

    def _write(self, ctx: RunContext, page: InvoicePage, record: Record, draft: InvoiceDraft, link,
               content: str) -> Write | Result:
        what = "credit memo" if draft.is_credit else "invoice"
        vendor_id = self.vendor(draft.company_id)
        if isinstance(vendor_id, HoldSpec):
            return self.held(record, vendor_id)
        hold = self.currency_hold(draft.currency, what)
        if hold:
            return self.held(record, hold)
        mismatch = total_mismatch(draft.lines, draft.total)
        if mismatch:
            return self.held(record, HoldSpec(
                "total_mismatch", f"The lines add up to {money_text(mismatch[0])} (each rounded to cents) but the "
                f"{what} total is {mismatch[1]}; fix it in JAGGAER.",
                [draft.invoice_number]))
        refs = self.references(ctx, draft.lines, draft.departments, what)
        if isinstance(refs, HoldSpec):
            return self.held(record, refs)
        accounts, department, classes = refs
        po_links = {} if draft.is_credit else self._po_lines(page, draft, vendor_id)
        if isinstance(po_links, HoldSpec):
            return self.held(record, po_links)
        billing = {} if draft.is_credit else self._billing(page, draft)
        over = self._overbilled(page, draft, billing)
        if over is not None:
            return self.held(record, over)
        doc = link.doc_number if link is not None and link.doc_number else short_doc_number(draft.invoice_number)
        reason, target = "", None
        if link is not None:
            target = self.current_of(ctx, page, link.qbo_entity, link.qbo_id)
            if target is None:
                return self.held(record, HoldSpec(
                    "bill_missing_in_qbo", f"QuickBooks {LABEL[link.qbo_entity]} {link.qbo_id}, written for this "
                    f"{what}, no longer exists (deleted in QuickBooks). To write it again, forget its link: admin "
                    f"'Bill links', or DELETE .../links/invoices/{record.source_id}.",
                    [link.qbo_id]))
            line_ids = dict(link.lines)
        else:
            target = self._existing(ctx, page, draft, doc, vendor_id)
            if isinstance(target, HoldSpec):
                return self.held(record, target)
            line_ids = line_ids_by_position(target, draft.lines) if target else {}
            reason = "linked_existing" if target else ""
        if target is not None and is_paid(target):
            if link is None:   # keep what we found, so it is never written twice
                self.stash(record.source_id, self._row(ctx, draft, target, vendor_id, line_ids, [], "", ""))
            return self.held(record, self._paid_hold(draft, target))
        payload = bill_payload(draft, vendor_id=vendor_id, ap_ref=self.ap_ref, doc_number=doc, accounts=accounts,
                               department_ref=department, classes=classes, po_links=po_links, line_ids=line_ids,
                               currency=self.currency.ref_for(draft.currency))
        context = {"draft": draft, "doc": doc, "vendor_id": vendor_id, "content": content, "po_links": po_links,
                   "billing": billing}
        self.claimed[(draft.entity, vendor_id, doc.casefold())] = draft.invoice_id
        for key, (qty, amount, _, _) in billing.items():
            self.billing_claims.setdefault(key, {})[draft.invoice_id] = (qty, amount)
        if target is None:
            return Write(record, "create", draft.entity, payload, context=context)
        payload.update(Id=str(target["Id"]), SyncToken=str(target["SyncToken"]))
        return Write(record, "update", draft.entity, payload, reason=reason, context=context)

    @staticmethod
    def _po_lines(page: InvoicePage, draft: InvoiceDraft, vendor_id: str) -> dict[str, dict] | HoldSpec:
        """JAGGAER line number -> LinkedTxn to the QBO PO line, or the hold that names the PO it waits on."""
        out = {}
        for line in draft.lines:
            if not line.po_number:
                continue
            number = line.po_number
            po = page.po_links.get(number)
            if po is None:
                return HoldSpec("po_not_found", f"PO {number}, named on line {line.number}, has not been seen in "
                                "JAGGAER's purchase orders yet; the invoice is posted once it is.", [number])
            if po.jaggaer_status == CANCELLED:
                return HoldSpec("po_cancelled", f"PO {number}, named on line {line.number}, is cancelled in "
                                "JAGGAER: a bill cannot be matched to it. Correct the invoice or the PO.", [number])
            if not po.written:
                status = f" (it is {po.jaggaer_status} in JAGGAER)" if po.jaggaer_status else ""
                return HoldSpec("po_not_synced", f"PO {number}, named on line {line.number}, is not in QuickBooks "
                                f"yet{status}; the invoice is posted once the PO is.", [number])
            if po.qbo_status == "Deleted":
                return HoldSpec("po_missing_in_qbo", f"PO {number}, named on line {line.number}, was deleted in "
                                f"QuickBooks (purchase order {po.qbo_po_id}). Forget the PO's link (admin 'Purchase "
                                f"order links', or DELETE .../links/purchase_orders/{po.jaggaer_po_id}) and replay the "
                                "PO: this invoice is posted once the PO is written again.", [number])
            if po.qbo_vendor_id and po.qbo_vendor_id != vendor_id:
                return HoldSpec("po_vendor_mismatch", f"PO {number} belongs to another QuickBooks vendor "
                                f"({po.qbo_vendor_id}) than this invoice's supplier ({vendor_id}).", [number])
            line_id = po.lines.get(str(line.po_line)) if line.po_line else None
            if line.po_line and not line_id:
                return HoldSpec("po_line_not_found", f"PO {number} has no line {line.po_line} in QuickBooks "
                                f"(line {line.number} of the invoice bills it).", [number])
            linked = {"TxnId": po.qbo_po_id, "TxnType": "PurchaseOrder"}
            if line_id:
                linked["TxnLineId"] = line_id
            out[line.number] = linked
        return out

    @staticmethod
    def _billing(page: InvoicePage, draft: InvoiceDraft) -> dict[tuple[str, str], tuple]:
        """(poId, PO line) -> (quantity, amount, invoice line numbers, PO link) this invoice bills on each PO line
        whose ordered quantity and amount we know."""
        out: dict[tuple[str, str], tuple] = {}
        for line in draft.lines:
            po = page.po_links.get(line.po_number) if line.po_number and line.po_line else None
            if po is None or str(line.po_line) not in (po.line_totals or {}):
                continue
            key = (po.jaggaer_po_id, str(line.po_line))
            qty, amount, numbers, _ = out.get(key, (Decimal(0), Decimal(0), [], po))
            qty = None if qty is None or line.qty is None else qty + line.qty
            out[key] = (qty, amount + line.exact_amount, [*numbers, line.number], po)
        return out

    def _overbilled(self, page: InvoicePage, draft: InvoiceDraft, billing: dict) -> HoldSpec | None:
        """An invoice billing more on a PO line than is still open there (ordered less what the bills we wrote,
        and this run is writing, already bill), in quantity or in amount (a cent of rounding allowed)."""
        for key, (qty, amount, numbers, po) in billing.items():
            po_number = po.po_number
            ordered = po.line_totals[key[1]]
            others = {**page.billing.get(key, {}), **self.billing_claims.get(key, {})}
            others.pop(draft.invoice_id, None)
            billed_qty = sum((q for q, _ in others.values() if q is not None), Decimal(0))
            billed_amount = sum((a for _, a in others.values()), Decimal(0))
            ordered_qty = Decimal(ordered["quantity"]) if ordered.get("quantity") not in (None, "") else None
            ordered_amount = Decimal(ordered["amount"])
            open_qty = ordered_qty - billed_qty if ordered_qty is not None else None
            open_amount = ordered_amount - billed_amount
            if (qty is not None and open_qty is not None and qty > open_qty) or amount > open_amount + CENT:
                lines = ", ".join(numbers)
                by = f" by invoice(s) {', '.join(sorted(others))}" if others else ""
                return HoldSpec(
                    "po_overbilled",
                    f"Line(s) {lines} bill {_qty(qty)}amount {money_text(amount)} on PO {po_number} line "
                    f"{key[1]}, which has {_qty(open_qty)}amount {money_text(open_amount)} still open (ordered "
                    f"{_qty(ordered_qty)}amount {money_text(ordered_amount)}; billed {_qty(billed_qty)}"
                    f"amount {money_text(billed_amount)}{by}). QuickBooks would close the PO and refuse the next "
                    "bill: correct the invoice in JAGGAER, or raise the PO line there.", [po_number])
        return None

    def _existing(self, ctx: RunContext, page: InvoicePage, draft: InvoiceDraft, doc: str,
                  vendor_id: str) -> dict | HoldSpec | None:
        """A QBO bill of this vendor with our DocNumber (written before our commit was lost, or by a person)."""
        owner = self.claimed.get((draft.entity, vendor_id, doc.casefold()))
        if owner and owner != draft.invoice_id:     # a twin earlier in this run: QBO would refuse it (6140)
            return HoldSpec("duplicate_invoice_number",
                            f"Invoice number {draft.invoice_number} of this supplier is already being written to "
                            f"QuickBooks in this run for JAGGAER invoice {owner}.", [owner])
        if page.existing is None:
            self._look_up_existing(ctx, page)
        for obj in page.existing.get((draft.entity, doc.casefold()), []):
            if str((obj.get("VendorRef") or {}).get("value")) != vendor_id:
                continue        # the same number from another supplier is another bill
            owner = page.linked_elsewhere.get((draft.entity, str(obj["Id"])))
            if owner and owner != draft.invoice_id:
                return HoldSpec("duplicate_invoice_number",
                                f"Invoice number {draft.invoice_number} of this supplier is already QuickBooks "
                                f"{LABEL[draft.entity]} {obj['Id']}, written for JAGGAER invoice {owner}.", [owner])
            return obj
        return None

    @staticmethod
    def _paid_hold(draft: InvoiceDraft, target: dict) -> HoldSpec:
        label = LABEL[draft.entity]
        return HoldSpec("bill_paid",
                        f"QuickBooks {label} {target['Id']} is already {'applied' if draft.is_credit else 'paid'} "
                        f"(balance {target.get('Balance')} of {target.get('TotalAmt')}); the change in JAGGAER is "
                        "not applied. A person decides.", [str(target["Id"])])

    def stale_hold(self, write: Write, current: dict) -> Result | None:
        if is_paid(current):
            return self.held(write.record, self._paid_hold(write.context["draft"], current))
        return None

    # ---- after QBO answered
    def _row(self, ctx, draft: InvoiceDraft, entity: dict, vendor_id: str, lines: dict, po_ids: list,
             source_digest: str, content: str) -> BillLink:
        return BillLink(tenant=ctx.tenant, jaggaer_invoice_id=draft.invoice_id,
                        invoice_number=draft.invoice_number[:100], qbo_entity=draft.entity, qbo_id=str(entity["Id"]),
                        doc_number=str(entity.get("DocNumber") or "")[:21], qbo_vendor_id=vendor_id, lines=lines,
                        po_ids=po_ids, source_digest=source_digest, content_digest=content)

    def save_links(self, ctx: RunContext, page: InvoicePage, done: list[tuple[Write, dict]]) -> Statements:
        statements = super().save_links(ctx, page, done)
        invoices = [write.record.source_id for write, _ in done if not write.context["draft"].is_credit]
        if not invoices:
            return statements
        rows = []
        for write, _ in done:
            draft: InvoiceDraft = write.context["draft"]
            if draft.is_credit:
                continue
            for line in draft.lines:
                po = page.po_links.get(line.po_number) if line.po_number and line.po_line else None
                if po is not None and po.written:
                    rows.append({"tenant_id": ctx.tenant.pk, "jaggaer_po_id": po.jaggaer_po_id,
                                 "po_line": str(line.po_line), "jaggaer_invoice_id": draft.invoice_id,
                                 "invoice_line": line.number, "quantity": line.qty, "amount": line.exact_amount})
        # Billings are written with their invoice's link and removed with it (sync/links/services.py): an invoice
        # without a link row has none to replace.
        billed_before = [source_id for source_id in invoices if source_id in page.links]
        return [*statements, functools.partial(_billings_replace, ctx.tenant, billed_before, rows)]

    def written(self, ctx: RunContext, page: PageState, write: Write, entity: dict) -> Result:
        draft: InvoiceDraft = write.context["draft"]
        qbo_id = str(entity["Id"])
        dropped = self._dropped_links(write, entity)
        po_ids = sorted({lk["TxnId"] for lk in write.context["po_links"].values()})
        # A dropped link leaves the content digest empty: the next run sends the links again.
        self._written[write.record.source_id] = self._row(
            ctx, draft, entity, write.context["vendor_id"], line_ids_by_position(entity, draft.lines), po_ids,
            write.record.digest, "" if dropped else write.context["content"])
        label = LABEL[draft.entity]
        if dropped:
            return Result(write.record, Outcome.FAILED, reason="po_link_dropped", qbo_id=qbo_id, retry=True,
                          message=f"QuickBooks wrote {label} {qbo_id} but dropped the link to the purchase order on "
                                  f"line(s) {', '.join(dropped)}; it is sent again on the next run.",
                          data={"lines": dropped})
        verb = {"create": "Created", "update": "Updated"}[write.operation]
        if write.reason == "linked_existing":
            verb = "Linked and updated the existing"
        linked = f", linked to purchase order(s) {', '.join(po_ids)}" if po_ids else ""
        outcome = Outcome.CREATED if write.operation == "create" else Outcome.UPDATED
        return Result(write.record, outcome, reason=write.reason, qbo_id=qbo_id,
                      message=f"{verb} QuickBooks {label} {write.context['doc']} ({qbo_id}){linked}.")

    @staticmethod
    def _dropped_links(write: Write, entity: dict) -> list[str]:
        """Lines we sent with a LinkedTxn that QBO's answer does not carry (python-quickbooks #366)."""
        sent = write.context["po_links"]
        if not sent:
            return []
        answered = sorted(entity.get("Line") or [], key=lambda ln: int(ln.get("LineNum") or 0))
        draft: InvoiceDraft = write.context["draft"]
        dropped = []
        for pos, line in enumerate(draft.lines):
            want = sent.get(line.number)
            if want is None:
                continue
            got = answered[pos].get("LinkedTxn") or [] if pos < len(answered) else []
            if not any(str(g.get("TxnId")) == want["TxnId"] and str(g.get("TxnLineId") or "") ==
                       str(want.get("TxnLineId") or "") for g in got):
                dropped.append(line.number)
        return dropped



def _qty(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value, "f")
    return f"quantity {text.rstrip('0').rstrip('.') if '.' in text else text}, "


def _billings_replace(tenant, billed_before: list[str], rows: list[dict]) -> None:
    """The PO lines the written invoices bill, as written now (a statement of the batch's transaction)."""
    if billed_before:
        PoLineBilling.objects.for_tenant(tenant).filter(jaggaer_invoice_id__in=billed_before).delete()
    bulk.insert(PoLineBilling, rows, ignore_conflicts=True)

"""Month-end reconciliation: JAGGAER against QuickBooks for a period, as findings with a severity, both sides'
values and the action that resolves each one.

Reads in bulk only: JAGGAER page by page, QuickBooks vendors by pages, the linked bills and purchase orders by
lists of Ids (`Id IN (...)`, 200 a query), the period's bills by pages of `TxnDate`. Requests grow with pages,
never with records.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

import audit
from connections.exceptions import SYSTEM_NAMES, ConnectionFailure, RemoteError
from connections.tokens import jaggaer_client_for_tenant, qbo_client_for_tenant
from core.actor import Actor
from core.exceptions import ApplicationError
from core.tenancy import tenant_scope, unscoped
from reports.models import Finding, Reconciliation, ReportStatus, Severity
from sync.holds.selectors import MAPPING_HOLD_REASONS
from sync.models import BillLink, Hold, PurchaseOrderLink, VendorLink
from sync.pipeline.documents import is_paid, qbo_objects
from sync.runs.lifecycle import task
from sync.transforms.common import InvalidRecord, normalize_name, parse_date
from sync.transforms.invoices import POSTED as INVOICE_POSTED
from sync.transforms.invoices import invoice_draft
from sync.transforms.purchase_orders import CANCELLED as PO_CANCELLED
from sync.transforms.purchase_orders import POSTED as PO_POSTED
from sync.transforms.vendors import supplier_to_vendor
from tenants.services import tenant_require_active
from webhooks import emit

logger = logging.getLogger(__name__)

FORGET_LINK_REASONS = {"vendor_missing", "po_missing_in_qbo", "bill_missing_in_qbo"}
MAPPING_REASONS = set(MAPPING_HOLD_REASONS.values())
CENT = Decimal("0.01")
KINDS = ("supplier_without_vendor", "vendor_missing", "vendor_inactive", "vendor_not_linked", "duplicate_vendor",
         "invoice_without_bill", "bill_missing", "bill_differs", "bill_paid", "duplicate_bill", "po_missing",
         "po_status_differs")


# ----------------------------------------------------------------------------- the period

def month_period(*, month: str | None, time_zone: str, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """First and last day of `month` ("2026-11"); without one, the month before the current one in the zone."""
    if month is None:
        today = (now or timezone.now()).astimezone(ZoneInfo(time_zone)).date()
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    try:
        year, number = (int(part) for part in str(month).split("-"))
        start = dt.date(year, number, 1)
    except (TypeError, ValueError):
        raise ApplicationError("month must be a calendar month written YYYY-MM, e.g. 2026-11.", code="invalid_month",
                               fields={"month": ["Write it YYYY-MM."]}) from None
    return start, start.replace(day=calendar.monthrange(year, number)[1])


# ----------------------------------------------------------------------------- request, perform, complete

def reconciliation_request(*, tenant, actor: Actor, month: str | None = None, enqueue: bool = True,
                           now: dt.datetime | None = None) -> Reconciliation:
    """A queued reconciliation of one month, performed by a worker after commit; audited as
    reconciliation.request."""
    tenant_require_active(tenant=tenant)
    start, end = month_period(month=month, time_zone=tenant.time_zone, now=now)
    with transaction.atomic():
        found = Reconciliation.objects.create(tenant=tenant, period_start=start, period_end=end,
                                              parameters={"month": f"{start:%Y-%m}", "time_zone": tenant.time_zone},
                                              created_by=actor.label[:300])
        audit.action("reconciliation.request", actor=actor, tenant=tenant, target_type="reconciliation",
                     target_id=found.pk, data={"month": f"{start:%Y-%m}"})
        if enqueue:
            transaction.on_commit(lambda: task("reports.tasks.reconciliation").delay(str(found.pk)))
    return found


def reconciliation_perform(*, reconciliation_id, qbo=None, jaggaer=None) -> Reconciliation | None:
    """What a worker does with a queued reconciliation: read both systems, compare, save the findings."""
    with unscoped("a worker finds its reconciliation by id"):
        found = Reconciliation.objects.select_related("tenant").filter(pk=reconciliation_id).first()
    if found is None:
        return None
    with tenant_scope(found.tenant_id):
        if found.status != ReportStatus.QUEUED:
            return found
        found.status, found.started_at = ReportStatus.RUNNING, timezone.now()
        found.save(update_fields=["status", "started_at"])
        try:
            qbo = qbo or qbo_client_for_tenant(found.tenant)
            jaggaer = jaggaer or jaggaer_client_for_tenant(found.tenant)
            comparison = Comparison(tenant=found.tenant, qbo=qbo, jaggaer=jaggaer, start=found.period_start,
                                    end=found.period_end)
            findings = comparison.run()
        except ConnectionFailure as e:
            return _fail(found, e.reason or "connection", e.message)
        except RemoteError as e:
            return _fail(found, str(e.code or e.status or "remote_error"),
                         f"{SYSTEM_NAMES.get(e.system, e.system)} answered with an error the reconciliation "
                         f"cannot get past: {e}.")
        except Exception as e:
            logger.exception("reconciliation %s failed", found.pk)
            return _fail(found, "internal_error", f"The reconciliation stopped on an unexpected error "
                                                  f"({type(e).__name__}); it has been logged.")
        return reconciliation_complete(reconciliation=found, findings=findings, requests=comparison.requests())


def reconciliation_complete(*, reconciliation: Reconciliation, findings: list[Finding],
                            requests: dict) -> Reconciliation:
    """The findings, the summary and the partner's `reconciliation.completed` event saved in one transaction:
    the one place a reconciliation completes."""
    for finding in findings:
        finding.tenant_id, finding.reconciliation = reconciliation.tenant_id, reconciliation
    with transaction.atomic():
        Finding.objects.bulk_create(findings, batch_size=1000)
        reconciliation.summary = {
            "kinds": {kind: n for kind, n in sorted(Counter(f.kind for f in findings).items())},
            "severities": dict(Counter(f.severity for f in findings)),
            "actions": dict(Counter(f.action for f in findings)),
            "findings": len(findings), "requests": requests}
        reconciliation.status, reconciliation.finished_at = ReportStatus.SUCCEEDED, timezone.now()
        reconciliation.save(update_fields=["summary", "status", "finished_at"])
        emit(event_type="reconciliation.completed", tenant=reconciliation.tenant_id, data={
            "tenant_id": str(reconciliation.tenant_id), "period": f"{reconciliation.period_start:%Y-%m}",
            "counts_by_severity": reconciliation.summary["severities"], "report_id": str(reconciliation.pk)})
    return reconciliation


def _fail(found: Reconciliation, code: str, message: str) -> Reconciliation:
    found.status, found.finished_at = ReportStatus.FAILED, timezone.now()
    found.error_code, found.error_message = code[:60], message
    found.save(update_fields=["status", "finished_at", "error_code", "error_message"])
    return found


# ----------------------------------------------------------------------------- the comparison

def _money(value) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError, TypeError):
        return None


def _in_period(value, start: dt.date, end: dt.date, field: str) -> bool:
    try:
        return start <= parse_date(value, field=field) <= end
    except InvalidRecord:
        return False


def _lines(obj: dict) -> list[str]:
    return sorted(str(_money(ln.get("Amount"))) for ln in obj.get("Line") or []
                  if ln.get("DetailType") != "SubTotalLineDetail")


class Comparison:
    """One reconciliation's reads and comparisons; `run` returns the findings (unsaved)."""

    def __init__(self, *, tenant, qbo, jaggaer, start: dt.date, end: dt.date):
        self.tenant, self.qbo, self.jaggaer, self.start, self.end = tenant, qbo, jaggaer, start, end
        self.findings: list[Finding] = []
        self.jaggaer_pages = 0
        self._qbo_before = sum(getattr(qbo, "request_counts", Counter()).values())
        dialect = getattr(jaggaer, "dialect", None) or {}
        self.gl_segment = dialect.get("gl_segment") or "Account"
        self.department_segment = dialect.get("department_segment") or "DepartmentCode"
        self.holds: dict[tuple[str, str], Hold] = {}

    def requests(self) -> dict:
        return {"qbo": sum(getattr(self.qbo, "request_counts", Counter()).values()) - self._qbo_before,
                "jaggaer_pages": self.jaggaer_pages}

    def _pages(self, entity: str) -> Iterable[dict]:
        for page in self.jaggaer.iter_pages(entity):
            self.jaggaer_pages += 1
            yield from (row for row in page if isinstance(row, dict))

    def add(self, kind: str, severity: str, entity: str, *, jaggaer_id: str = "", qbo_id: str = "",
            jaggaer_value: dict | None = None, qbo_value: dict | None = None, action: str, detail: str) -> None:
        self.findings.append(Finding(kind=kind, severity=severity, entity=entity, jaggaer_id=jaggaer_id[:200],
                                     qbo_id=qbo_id[:40], jaggaer_value=jaggaer_value or {},
                                     qbo_value=qbo_value or {}, action=action, action_detail=detail))

    def _held(self, entity: str, source_id: str) -> tuple[str, str, dict]:
        """(action, its detail, the hold for the JAGGAER side) for a record missing in QuickBooks."""
        hold = self.holds.get((entity, source_id))
        if hold is None:
            return "replay", "Replay the record: the next sync writes it.", {}
        value = {"hold_reason": hold.reason, "hold_detail": hold.detail}
        if hold.reason in MAPPING_REASONS:
            return "map", f"Map {', '.join(map(str, hold.waits_on))} in the mapping editor; the record is then " \
                          "written.", value
        if hold.reason in FORGET_LINK_REASONS:
            return "forget_link", hold.detail, value
        return "manual", hold.detail, value

    def run(self) -> list[Finding]:
        self.holds = {(h.entity, h.source_id): h for h in Hold.objects.for_tenant(self.tenant)
                      .filter(entity__in=["suppliers", "purchase_orders", "invoices"])}
        vendors = self._vendors()
        self._suppliers(vendors)
        self._invoices()
        self._purchase_orders()
        return self.findings

    # ---- suppliers and vendors
    def _vendors(self) -> dict[str, dict]:
        vendors: dict[str, dict] = {}
        for page in self.qbo.query_pages("Vendor", "Active IN (true,false)"):
            for vendor in page:
                vendors[str(vendor["Id"])] = vendor
        by_name: dict[str, list[dict]] = defaultdict(list)
        for vendor in vendors.values():
            if vendor.get("Active", True):
                by_name[normalize_name(vendor.get("DisplayName") or "")].append(vendor)
        for same in by_name.values():
            if len(same) > 1:
                names = [v.get("DisplayName") for v in same]
                ids = [str(v["Id"]) for v in same]
                self.add("duplicate_vendor", Severity.MEDIUM, "vendor", qbo_id=ids[0],
                         qbo_value={"vendors": [{"id": i, "name": n} for i, n in zip(ids, names, strict=True)]},
                         action="manual", detail=f"In QuickBooks, merge the vendors {', '.join(map(repr, names))}: "
                         "rename one to the other's exact name and confirm the merge (Expenses > Vendors).")
        return vendors

    def _suppliers(self, vendors: dict[str, dict]) -> None:
        links = {link.jaggaer_company_id: link for link in VendorLink.objects.for_tenant(self.tenant)}
        linked_vendors = {link.qbo_vendor_id for link in links.values()}
        unlinked_by_name = {normalize_name(v.get("DisplayName") or ""): v for v in vendors.values()
                            if str(v["Id"]) not in linked_vendors}
        for raw in self._pages("suppliers"):
            cid = str(raw.get("companyId") or "")
            if not cid or raw.get("active") is False:
                continue
            try:
                name = supplier_to_vendor(raw).display_name
            except InvalidRecord:
                name = str(raw.get("companyName") or "")
            link = links.get(cid)
            same_name = unlinked_by_name.get(normalize_name(name))
            if link is None:
                action, detail, value = self._held("suppliers", cid)
                if same_name is not None and not value:
                    action, detail = "replay", (f"QuickBooks vendor {same_name.get('DisplayName')!r} has the same "
                                                "name: replay the supplier and the sync links it.")
                self.add("supplier_without_vendor", Severity.MEDIUM, "supplier", jaggaer_id=cid,
                         qbo_id=str(same_name["Id"]) if same_name else "",
                         jaggaer_value={"name": name, **value}, action=action, detail=detail)
                continue
            vendor = vendors.get(link.qbo_vendor_id)
            if vendor is None:
                self.add("vendor_missing", Severity.HIGH, "supplier", jaggaer_id=cid, qbo_id=link.qbo_vendor_id,
                         jaggaer_value={"name": name}, qbo_value={"vendor": link.qbo_vendor_id, "exists": False},
                         action="forget_link", detail="The linked QuickBooks vendor was deleted or merged: forget "
                         f"the link (DELETE .../links/supplier/{cid}) and replay the supplier.")
                continue
            if vendor.get("Active") is False:
                self.add("vendor_inactive", Severity.HIGH, "supplier", jaggaer_id=cid, qbo_id=link.qbo_vendor_id,
                         jaggaer_value={"name": name, "active": True},
                         qbo_value={"name": vendor.get("DisplayName"), "active": False}, action="manual",
                         detail=f"In QuickBooks, make vendor {vendor.get('DisplayName')!r} active again (Expenses > "
                         "Vendors, include inactive, Make active); or forget the link to match another vendor.")
            if same_name is not None:
                self.add("vendor_not_linked", Severity.MEDIUM, "vendor", jaggaer_id=cid, qbo_id=str(same_name["Id"]),
                         jaggaer_value={"name": name, "linked_vendor": link.qbo_vendor_id},
                         qbo_value={"name": same_name.get("DisplayName")}, action="manual",
                         detail=f"QuickBooks vendor {same_name.get('DisplayName')!r} ({same_name['Id']}) was made in "
                         f"QuickBooks for this supplier, which is linked to vendor {link.qbo_vendor_id}: merge the "
                         "two in QuickBooks (rename it to the linked vendor's name).")

    # ---- invoices and bills
    def _invoices(self) -> None:
        invoices = {}
        for raw in self._pages("invoices"):
            iid = str(raw.get("invoiceId") or "")
            if iid and raw.get("workflowStatus") in INVOICE_POSTED and _in_period(
                    raw.get("invoiceDate"), self.start, self.end, "invoiceDate"):
                invoices[iid] = raw
        links = {link.jaggaer_invoice_id: link for link in BillLink.objects.for_tenant(self.tenant)
                 .filter(jaggaer_invoice_id__in=list(invoices))}
        current: dict[tuple[str, str], dict] = {}
        for entity in ("Bill", "VendorCredit"):
            ids = [link.qbo_id for link in links.values() if link.qbo_entity == entity]
            for obj in qbo_objects(self.qbo, entity, "Id", ids) if ids else []:
                current[(entity, str(obj["Id"]))] = obj
        for iid, raw in invoices.items():
            link = links.get(iid)
            number = str(raw.get("invoiceNumber") or "")
            if link is None:
                action, detail, value = self._held("invoices", iid)
                self.add("invoice_without_bill", Severity.HIGH, "invoice", jaggaer_id=iid,
                         jaggaer_value={"number": number, "status": raw.get("workflowStatus"),
                                        "total": str(raw.get("invoiceTotal", "")), **value},
                         action=action, detail=detail)
                continue
            obj = current.get((link.qbo_entity, link.qbo_id))
            if obj is None:
                self.add("bill_missing", Severity.HIGH, "invoice", jaggaer_id=iid, qbo_id=link.qbo_id,
                         jaggaer_value={"number": number}, qbo_value={"entity": link.qbo_entity, "exists": False},
                         action="forget_link", detail=f"The {link.qbo_entity} was deleted in QuickBooks: forget the "
                         f"link (DELETE .../links/invoice/{iid}) and replay the invoice to write it again.")
                continue
            self._compare_bill(iid, raw, link, obj)
        self._duplicate_bills()

    def _compare_bill(self, iid: str, raw: dict, link: BillLink, obj: dict) -> None:
        try:
            draft = invoice_draft(raw, gl_segment=self.gl_segment, department_segment=self.department_segment)
        except InvalidRecord:
            return
        ours = {"total": str(_money(draft.total)), "vendor": link.qbo_vendor_id, "date": str(draft.invoice_date),
                "lines": sorted(str(_money(line.amount)) for line in draft.lines)}
        theirs = {"total": str(_money(obj.get("TotalAmt"))), "vendor": str((obj.get("VendorRef") or {}).get("value")),
                  "date": str(obj.get("TxnDate") or ""), "lines": _lines(obj)}
        differ = [k for k in ours if ours[k] != theirs[k]]
        paid = is_paid(obj)
        if differ:
            if paid:
                action, detail = "manual", (f"The {link.qbo_entity} is paid in QuickBooks: correct it there by hand "
                                            f"({', '.join(differ)} differ), or void the payment first.")
            else:
                action, detail = "forget_link", (f"Forget the link (DELETE .../links/invoice/{iid}) and replay the "
                                                 f"invoice: the sync finds the {link.qbo_entity} by number and writes "
                                                 f"the invoice over it ({', '.join(differ)} differ).")
            self.add("bill_differs", Severity.HIGH, "invoice", jaggaer_id=iid, qbo_id=link.qbo_id,
                     jaggaer_value={k: ours[k] for k in differ}, qbo_value={k: theirs[k] for k in differ},
                     action=action, detail=detail)
        if paid and raw.get("workflowStatus") != "Paid":
            self.add("bill_paid", Severity.LOW, "invoice", jaggaer_id=iid, qbo_id=link.qbo_id,
                     jaggaer_value={"status": raw.get("workflowStatus")},
                     qbo_value={"balance": str(obj.get("Balance")), "total": str(obj.get("TotalAmt"))},
                     action="manual", detail="Paid in QuickBooks but not in JAGGAER: record the payment in JAGGAER. "
                     "Later changes to the invoice are not applied to a paid bill.")

    def _duplicate_bills(self) -> None:
        where = f"TxnDate >= '{self.start:%Y-%m-%d}' AND TxnDate <= '{self.end:%Y-%m-%d}'"
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for page in self.qbo.query_pages("Bill", where):
            for bill in page:
                number = str(bill.get("DocNumber") or "").casefold()
                if number:
                    groups[(str((bill.get("VendorRef") or {}).get("value")), number)].append(bill)
        for (vendor, _), bills in groups.items():
            if len(bills) > 1:
                ids = [str(b["Id"]) for b in bills]
                self.add("duplicate_bill", Severity.HIGH, "bill", qbo_id=ids[0],
                         qbo_value={"vendor": vendor, "number": bills[0].get("DocNumber"), "bills": ids},
                         action="manual", detail=f"In QuickBooks, bills {', '.join(ids)} of one vendor share number "
                         f"{bills[0].get('DocNumber')}: delete or void the extra one(s).")

    # ---- purchase orders
    def _purchase_orders(self) -> None:
        orders = {}
        for raw in self._pages("purchase_orders"):
            pid = str(raw.get("poId") or "")
            if pid and _in_period(raw.get("orderDate"), self.start, self.end, "orderDate"):
                orders[pid] = raw
        links = {link.jaggaer_po_id: link for link in PurchaseOrderLink.objects.for_tenant(self.tenant)
                 .filter(jaggaer_po_id__in=list(orders)).exclude(qbo_po_id="")}
        ids = [link.qbo_po_id for link in links.values()]
        current = {str(po["Id"]): po for po in (qbo_objects(self.qbo, "PurchaseOrder", "Id", ids) if ids else [])}
        for pid, link in links.items():
            raw, po = orders[pid], current.get(link.qbo_po_id)
            number = str(raw.get("poNumber") or "")
            if po is None:
                self.add("po_missing", Severity.HIGH, "purchase_order", jaggaer_id=pid, qbo_id=link.qbo_po_id,
                         jaggaer_value={"number": number, "status": raw.get("status")},
                         qbo_value={"exists": False}, action="forget_link",
                         detail=f"The purchase order was deleted in QuickBooks: forget the link (DELETE .../links/"
                         f"purchase_order/{pid}) and replay the PO to write it again.")
                continue
            status = raw.get("status")
            wanted = "Closed" if status == PO_CANCELLED else PO_POSTED.get(status)
            actual = po.get("POStatus")
            if wanted is None or actual == wanted:
                continue
            if wanted == "Open" and any(t.get("TxnType") == "Bill" for t in po.get("LinkedTxn") or []):
                continue        # QuickBooks closes a PO its bills bill in full
            if wanted == "Closed":
                severity, detail = Severity.MEDIUM, (f"In QuickBooks, close purchase order {po.get('DocNumber')} "
                                                     f"({status} in JAGGAER).")
            else:
                severity, detail = Severity.LOW, (f"In QuickBooks, reopen purchase order {po.get('DocNumber')} if "
                                                  "more bills are expected (QuickBooks closes a fully billed PO).")
            self.add("po_status_differs", severity, "purchase_order", jaggaer_id=pid, qbo_id=link.qbo_po_id,
                     jaggaer_value={"number": number, "status": status, "expected_qbo_status": wanted},
                     qbo_value={"status": actual}, action="manual", detail=detail)

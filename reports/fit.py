"""The fit report: the next sync, run for real against both systems, with nothing written.

`fit_report_perform` runs the very pipeline of a sync (sync.runs.lifecycle.sync_run_execute: catalogs,
suppliers, purchase orders, invoices; the same fetch, validation, mappings, vendor matching and plan) with the
dry-run clients of reports.dryrun, inside one transaction that is rolled back: QuickBooks receives reads only,
and our tables (catalogs, mappings, links, holds, cursors, record audit) end as they were. What the run
recorded on the way, read before the rollback, is the prediction: the same outcome and reason per record.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from audit.models import RecordEvent
from connections.exceptions import ConnectionFailure
from connections.tokens import jaggaer_client_for_tenant, qbo_client_for_tenant
from core.actor import Actor
from core.exceptions import ApplicationError, Conflict
from core.tenancy import tenant_scope, unscoped
from reports.dryrun import DRY_ID_PREFIX, CappedJaggaer, DryRunQbo, detach_tokens
from reports.models import FitRecord, FitReport, Prediction, ReportStatus
from sync.holds.selectors import MAPPING_HOLD_REASONS
from sync.models import Hold, SyncRun
from sync.runs.leases import lease_holder
from sync.runs.lifecycle import sync_run_create, sync_run_execute, task
from tenants.services import tenant_require_active

logger = logging.getLogger(__name__)

LINK_RULES = {
    "suppliers": "same vendor name (case, spacing and punctuation ignored)",
    "purchase_orders": "same PO number (DocNumber) and vendor",
    "invoices": "same invoice number (DocNumber) for the same vendor",
}
MAPPING_REASONS = {reason: kind for kind, reason in MAPPING_HOLD_REASONS.items()}
# Intuit's limits per realm (connections/clients/limiter.py keeps every worker inside them)
INTUIT_REQUESTS_PER_MINUTE, INTUIT_BATCHES_PER_MINUTE, INTUIT_IN_FLIGHT = 500, 40, 10
DRY_ID = re.compile(rf"\b{DRY_ID_PREFIX}\d+\b")
EXAMPLES = 20            # record ids listed per hold reason in the summary


# ----------------------------------------------------------------------------- request

def fit_report_request(*, tenant, actor: Actor, max_pages: int | None = None, enqueue: bool = True) -> FitReport:
    """A queued fit report, performed by a worker after commit; audited as fit_report.request."""
    tenant_require_active(tenant=tenant)
    limit = settings.FIT_REPORT_MAX_PAGES_LIMIT
    pages = settings.FIT_REPORT_MAX_PAGES if max_pages is None else max_pages
    if isinstance(pages, bool) or not isinstance(pages, int) or not 1 <= pages <= limit:
        raise ApplicationError(f"max_pages must be a whole number from 1 to {limit}.", code="invalid_max_pages",
                               fields={"max_pages": [f"From 1 to {limit}."]})
    holder = lease_holder(tenant=tenant)
    if holder is not None:
        raise Conflict("A sync of this tenant is running; ask for the fit report once it has finished.",
                       code="sync_already_running")
    with transaction.atomic():
        report = FitReport.objects.create(tenant=tenant, parameters={"max_pages": pages},
                                          created_by=actor.label[:300])
        audit.action("fit_report.request", actor=actor, tenant=tenant, target_type="fit_report",
                     target_id=report.pk, data={"max_pages": pages})
        if enqueue:
            transaction.on_commit(lambda: task("reports.tasks.fit_report").delay(str(report.pk)))
    return report


# ----------------------------------------------------------------------------- perform

def fit_report_perform(*, report_id, qbo=None, jaggaer=None) -> FitReport | None:
    """What a worker does with a queued report: the dry run, then its records and summary saved.
    `qbo`/`jaggaer` replace the tenant's clients (tests, the demo)."""
    with unscoped("a worker finds its report by id"):
        report = FitReport.objects.select_related("tenant").filter(pk=report_id).first()
    if report is None:
        return None
    with tenant_scope(report.tenant_id):
        if report.status != ReportStatus.QUEUED:
            return report
        report.status, report.started_at = ReportStatus.RUNNING, timezone.now()
        report.save(update_fields=["status", "started_at"])
        try:
            qbo = qbo or qbo_client_for_tenant(report.tenant)
            jaggaer = jaggaer or jaggaer_client_for_tenant(report.tenant)
            detached = detach_tokens(qbo, report.tenant_id)
        except ConnectionFailure as e:
            return _fail(report, e.reason or "connection", e.message)
        if lease_holder(tenant=report.tenant) is not None:
            return _fail(report, "sync_already_running", "A sync of this tenant was running; ask again once it "
                                                         "has finished.")
        dry = DryRunQbo(qbo)
        capped = CappedJaggaer(jaggaer, int(report.parameters.get("max_pages") or settings.FIT_REPORT_MAX_PAGES))
        try:
            outcome = _dry_run(report, dry, capped)
        except Exception as e:
            logger.exception("fit report %s failed", report.pk)
            return _fail(report, "internal_error", f"The fit report stopped on an unexpected error "
                                                   f"({type(e).__name__}); it has been logged.")
        finally:
            if detached is not None:
                detached.close()
        if outcome["status"] != SyncRun.Status.SUCCEEDED:
            return _fail(report, outcome["error_code"] or "failed", outcome["error_message"])
        totals = _jaggaer_totals(capped) if capped.capped else {}
        return fit_report_complete(report=report, events=outcome["events"], dry=dry, capped=capped, totals=totals)


def _dry_run(report: FitReport, dry: DryRunQbo, capped: CappedJaggaer) -> dict:
    """The sync's own steps in a transaction that is rolled back; what it recorded, read first."""
    with transaction.atomic():
        run = sync_run_create(tenant=report.tenant, trigger=SyncRun.Trigger.COMMAND)
        sync_run_execute(run=run, qbo=dry, jaggaer=capped)
        waits = {(h.entity, h.source_id): h.waits_on for h in Hold.objects.for_tenant(report.tenant)
                 .filter(last_run=run).only("entity", "source_id", "waits_on")}
        last: dict[tuple[str, str], dict] = {}
        for row in RecordEvent.objects.for_tenant(report.tenant).filter(run_id=run.pk).order_by("id").values(
                "entity", "source_id", "outcome", "reason", "qbo_id", "message"):
            row["waits_on"] = waits.get((row["entity"], row["source_id"]), [])
            last[(row["entity"], row["source_id"])] = row
        outcome = {"status": run.status, "error_code": run.error_code, "error_message": run.error_message,
                   "events": list(last.values())}
        transaction.set_rollback(True)
    return outcome


def _jaggaer_totals(capped: CappedJaggaer) -> dict[str, int]:
    """How many records each capped entity has in all (one one-row page each), to scale the budget."""
    out = {}
    for entity in sorted(capped.capped):
        try:
            out[entity] = capped.count(entity)
        except ConnectionFailure:
            continue
        except Exception:       # an estimate only: the report stands without it
            logger.warning("fit report: counting JAGGAER %s failed", entity)
    return out


def _fail(report: FitReport, code: str, message: str) -> FitReport:
    report.status, report.finished_at = ReportStatus.FAILED, timezone.now()
    report.error_code, report.error_message = code[:60], message
    report.save(update_fields=["status", "finished_at", "error_code", "error_message"])
    return report


# ----------------------------------------------------------------------------- what the run recorded

def prediction_of(entity: str, outcome: str, reason: str) -> str:
    if outcome == "created":
        return Prediction.CREATE
    if outcome == "updated":
        return Prediction.LINK if reason == "linked_existing" else Prediction.UPDATE
    return {"unchanged": Prediction.UNCHANGED, "skipped": Prediction.SKIP, "held": Prediction.HOLD}.get(
        outcome, Prediction.FAIL)


def _record(report: FitReport, event: dict) -> FitRecord:
    prediction = prediction_of(event["entity"], event["outcome"], event["reason"])
    qbo_id = event["qbo_id"] if not event["qbo_id"].startswith(DRY_ID_PREFIX) else ""
    message = DRY_ID.sub("new", event["message"])     # an Id the dry run made up is no QuickBooks Id
    return FitRecord(tenant_id=report.tenant_id, report=report, entity=event["entity"], source_id=event["source_id"],
                     prediction=prediction, outcome=event["outcome"], reason=event["reason"], qbo_id=qbo_id,
                     rule=LINK_RULES.get(event["entity"], "") if prediction == Prediction.LINK else "",
                     waits_on=event["waits_on"], message=message)


def fit_summary(records: list[FitRecord], *, dry: DryRunQbo, capped: CappedJaggaer, totals: dict) -> dict:
    entities: dict[str, Counter] = defaultdict(Counter)
    holds: dict[str, dict] = {}
    gaps: dict[tuple[str, str], set] = defaultdict(set)
    for r in records:
        entities[r.entity][r.prediction] += 1
        if r.prediction != Prediction.HOLD:
            continue
        hold = holds.setdefault(r.reason, {"reason": r.reason, "count": 0, "records": [], "release": r.message})
        hold["count"] += 1
        if len(hold["records"]) < EXAMPLES:
            hold["records"].append({"entity": r.entity, "source_id": r.source_id})
        if r.reason in MAPPING_REASONS:
            for code in r.waits_on:
                gaps[(MAPPING_REASONS[r.reason], str(code))].add((r.entity, r.source_id))
    mapping_gaps = sorted(({"kind": kind, "code": code, "records_blocked": len(blocked)}
                           for (kind, code), blocked in gaps.items()),
                          key=lambda g: (-g["records_blocked"], g["kind"], g["code"]))
    return {"entities": {e: dict(c) for e, c in sorted(entities.items())},
            "holds": sorted(holds.values(), key=lambda h: -h["count"]),
            "mapping_gaps": mapping_gaps,
            "budget": request_budget(dry=dry, capped=capped, totals=totals),
            "sample": {"capped": bool(capped.capped), "capped_entities": sorted(capped.capped),
                       "pages_read": dict(capped.pages), "max_pages": capped.max_pages,
                       "jaggaer_totals": totals}}


def request_budget(*, dry: DryRunQbo, capped: CappedJaggaer, totals: dict) -> dict:
    """QuickBooks requests the sync needs and the time they take at Intuit's limits (500 requests and 40
    batches a minute per realm): the slower of the two windows sets the pace."""
    reads, batches = dry.reads, dry.batches
    writes = sum(dry.writes.values())
    per_minute, batches_per_minute = INTUIT_REQUESTS_PER_MINUTE, INTUIT_BATCHES_PER_MINUTE
    out = {"reads": reads, "batches": batches, "writes": writes, "requests": reads + batches,
           "writes_by_entity": {f"{e}.{op}": n for (e, op), n in sorted(dry.writes.items())},
           "requests_per_minute": per_minute, "batches_per_minute": batches_per_minute,
           "concurrent": INTUIT_IN_FLIGHT,
           "seconds": _seconds(reads + batches, batches)}
    sampled = sum(capped.pages.values())
    if totals and sampled:
        factor = max(1.0, _scale(totals, capped))
        out["extrapolated"] = {"factor": round(factor, 2), "requests": math.ceil((reads + batches) * factor),
                               "batches": math.ceil(batches * factor),
                               "seconds": _seconds(math.ceil((reads + batches) * factor),
                                                   math.ceil(batches * factor))}
    return out


def _scale(totals: dict, capped: CappedJaggaer) -> float:
    """Records in all over records read, for the capped entities (pages are of the dialect's size)."""
    size = int((getattr(capped, "dialect", None) or {}).get("page_size") or 0)
    read = sum(capped.pages[e] for e in totals) * size
    return sum(totals.values()) / read if read else 1.0


def _seconds(requests: int, batches: int) -> int:
    return math.ceil(60 * max(requests / INTUIT_REQUESTS_PER_MINUTE, batches / INTUIT_BATCHES_PER_MINUTE))


def fit_report_complete(*, report: FitReport, events: list[dict], dry: DryRunQbo, capped: CappedJaggaer,
                        totals: dict) -> FitReport:
    """The report's records and summary, saved in one transaction: the one place a report completes."""
    records = [_record(report, e) for e in events]
    with transaction.atomic():
        FitRecord.objects.bulk_create(records, batch_size=1000)
        report.summary = fit_summary(records, dry=dry, capped=capped, totals=totals)
        report.capped = bool(capped.capped)
        report.status, report.finished_at = ReportStatus.SUCCEEDED, timezone.now()
        report.save(update_fields=["summary", "capped", "status", "finished_at"])
    return report

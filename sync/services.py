"""Writes of the sync app: runs, mappings and per-tenant sync settings."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from connections.exceptions import SYSTEM_NAMES, ConnectionFailure, RemoteError, TransportError
from connections.tokens import jaggaer_client_for_tenant, qbo_client_for_tenant
from core.actor import Actor
from core.exceptions import ApplicationError
from sync.mappings.catalogs import mappings_refresh
from sync.mappings.matching import LABELS, Candidate, mapping_state
from sync.models import (
    BillLink,
    JaggaerCatalogItem,
    Kind,
    Mapping,
    PoLineBilling,
    PurchaseOrderLink,
    QboCatalogItem,
    SyncRun,
    SyncSettings,
    VendorLink,
)
from sync.pipeline.engine import RunCancelled, RunContext
from sync.pipeline.steps import STEP_NAMES, STEPS

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- runs

def sync_run_create(*, tenant, trigger: str = SyncRun.Trigger.API, full: bool = False,
                    entities: list[str] | None = None) -> SyncRun:
    entities = list(entities or [])
    unknown = sorted(set(entities) - set(STEP_NAMES))
    if unknown:
        raise ApplicationError(f"Unknown entities {', '.join(unknown)}; choose from {', '.join(STEP_NAMES)}.",
                               code="invalid_entities", fields={"entities": [f"Unknown: {', '.join(unknown)}"]})
    return SyncRun.objects.create(tenant=tenant, trigger=trigger, full=full, entities=entities)


def run_finish(run: SyncRun, status: str, *, system: str = "", code: str = "", message: str = "") -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.error_system, run.error_code, run.error_message = system, code, message
    run.save(update_fields=["status", "finished_at", "counts", "error_system", "error_code", "error_message"])


def run_steps(*, run: SyncRun, qbo, jaggaer, body: Callable[[RunContext], None],
              progress: Callable[[str, dict], None] | None = None) -> SyncRun:
    """Mark the run running, call `body` with its context, and finish it; only connection failures,
    a cancellation or a lost lease stop it early (an unexpected error is recorded, then raised)."""
    run.status = SyncRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    ctx = RunContext(run=run, qbo=qbo, jaggaer=jaggaer, batch_size=settings.QBO_BATCH_SIZE, progress=progress)
    try:
        with audit.api_call_scope(run_id=run.pk):
            body(ctx)
    except ConnectionFailure as e:
        if isinstance(e.__cause__, TransportError):
            _connection_unreachable(run, e.__cause__, message=e.message, counted=getattr(e, "counted", False))
        run_finish(run, SyncRun.Status.FAILED, system=e.system, code=e.reason, message=e.message)
    except TransportError as e:
        # No answer after every retry (refused, DNS, TLS, timeout, a refused address): the connection is in
        # error and the run ends with what happened, in our words, not as an unexpected error.
        message = f"{SYSTEM_NAMES.get(e.system, e.system)} could not be reached: {e.message}."
        _connection_unreachable(run, e, message=message, counted=getattr(e, "counted", False))
        run_finish(run, SyncRun.Status.FAILED, system=e.system, code=e.code or "unreachable", message=message)
    except RemoteError as e:
        # An error answer the run cannot get past (a list read, not one record): said in our words (the
        # message of a RemoteError never carries the remote's text), not as an unexpected error.
        message = f"{SYSTEM_NAMES.get(e.system, e.system)} answered with an error the run cannot get past: {e}."
        _connection_failed(run, e, message=message, status=None, counted=getattr(e, "counted", False))
        run_finish(run, SyncRun.Status.FAILED, system=e.system, code=str(e.code or e.status or "remote_error"),
                   message=message)
    except RunCancelled as e:
        run_finish(run, SyncRun.Status.CANCELLED, message=str(e) or "Cancelled on request.")
    except Exception as e:
        logger.exception("%s run %s failed", run.trigger, run.pk)
        run_finish(run, SyncRun.Status.FAILED, code="internal_error",
                message=f"The run stopped on an unexpected error ({type(e).__name__}); it has been logged.")
        raise
    else:
        run_finish(run, SyncRun.Status.SUCCEEDED)
    return run


def _connection_unreachable(run: SyncRun, error: TransportError, *, message: str, counted: bool) -> None:
    """Mark the connection of `error.system` as in error with `message` (and one more failure unless the
    token provider already counted this one)."""
    from connections.models import ConnectionStatus

    _connection_failed(run, error, message=message, status=ConnectionStatus.ERROR, counted=counted)


def _connection_failed(run: SyncRun, error: RemoteError, *, message: str, status: str | None,
                       counted: bool) -> None:
    from connections.health import connection_record_failure
    from connections.models import JaggaerConnection, QboConnection

    model = {"qbo": QboConnection, "jaggaer": JaggaerConnection}.get(error.system)
    connection = model.objects.filter(tenant_id=run.tenant_id).first() if model else None
    if connection is None:
        return
    connection_record_failure(connection=connection, code=str(error.code or error.status or "remote_error"),
                              message=message, status=status, count=not counted)


def sync_run_execute(*, run: SyncRun, qbo, jaggaer, progress: Callable[[str, dict], None] | None = None) -> SyncRun:
    """Run the steps in dependency order with the given clients."""

    def body(ctx: RunContext) -> None:
        for name in STEP_NAMES:
            if run.entities and name not in run.entities:
                continue
            if progress:
                progress(name, {})
            STEPS[name]().run(ctx)

    return run_steps(run=run, qbo=qbo, jaggaer=jaggaer, body=body, progress=progress)


def sync_run_start(*, run: SyncRun, progress: Callable[[str, dict], None] | None = None) -> SyncRun:
    """Build both clients from the tenant's connections and execute the run."""

    try:
        qbo = qbo_client_for_tenant(run.tenant)
        jaggaer = jaggaer_client_for_tenant(run.tenant)
    except ConnectionFailure as e:
        run.started_at = timezone.now()
        run_finish(run, SyncRun.Status.FAILED, system=e.system, code=e.reason, message=e.message)
        return run
    return sync_run_execute(run=run, qbo=qbo, jaggaer=jaggaer, progress=progress)


@transaction.atomic
def sync_run_cancel(*, run: SyncRun, actor: Actor | None = None) -> SyncRun:
    """Ask a queued or running run to stop (it stops between batches); with `actor`, audited as sync.cancel."""
    before = {"status": run.status, "cancel_requested": run.cancel_requested}
    if run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
    if actor is not None:
        audit.action("sync.cancel", actor=actor, tenant_id=run.tenant_id, target_type="sync_run", target_id=run.pk,
                     before=before, after={"status": run.status, "cancel_requested": run.cancel_requested})
    return run


# ---------------------------------------------------------------------------- mappings

def _qbo_item(*, tenant, kind: str, qbo_id: str) -> QboCatalogItem:
    item = QboCatalogItem.objects.for_tenant(tenant).filter(kind=kind, qbo_id=str(qbo_id)).first()
    label = LABELS[kind]
    if item is None or not item.present:
        raise ApplicationError(f"QuickBooks has no {label} with id {qbo_id} (as of the last catalog import).",
                               code="qbo_item_not_found", fields={"qbo_id": [f"No such {label}."]})
    if not item.active:
        raise ApplicationError(f"QuickBooks {label} '{item.name}' is inactive; choose an active one.",
                               code="qbo_item_inactive", fields={"qbo_id": ["Inactive."]})
    if not item.takes_lines:
        raise ApplicationError(f"'{item.name}' is an {item.account_type} account; bill lines cannot post to it.",
                               code="qbo_item_unusable", fields={"qbo_id": ["Not an expense account."]})
    return item


def _apply(mapping: Mapping, item: QboCatalogItem | None, jaggaer_active: bool | None) -> Mapping:
    mapping.qbo_item = item
    mapping.source = Mapping.Source.PERSON
    candidate = None if item is None else Candidate(item.pk, item.number, item.name, item.active, item.present)
    mapping.state, mapping.state_detail = mapping_state(kind=mapping.kind, qbo=candidate, jaggaer_active=jaggaer_active)
    return mapping


def _jaggaer_active(tenant, kind: str, codes: list[str]) -> dict[str, bool]:
    return {i.code: i.active and i.present
            for i in JaggaerCatalogItem.objects.for_tenant(tenant).filter(kind=kind, code__in=codes)}


def _check_kind(kind: str) -> None:
    if kind not in Kind.values:
        raise ApplicationError(f"Unknown kind {kind!r}; use one of {', '.join(Kind.values)}.", code="invalid_kind",
                               fields={"kind": ["Unknown kind."]})


def mapping_audit_view(mapping: Mapping | None) -> dict | None:
    """A mapping as the people audit shows it before and after a change."""
    if mapping is None:
        return None
    item = mapping.qbo_item
    return {"qbo_id": item.qbo_id if item else None, "qbo_name": item.name if item else None,
            "state": mapping.state, "source": mapping.source}


@transaction.atomic
def mapping_set(*, tenant, kind: str, code: str, qbo_id: str | None, actor: Actor | None = None) -> Mapping:
    """A person maps a code (or, with qbo_id None, clears it); auto-matching never overrides this.
    With `actor`, audited as mapping.set or mapping.clear."""
    _check_kind(kind)
    item = None if qbo_id in (None, "") else _qbo_item(tenant=tenant, kind=kind, qbo_id=qbo_id)
    mapping, created = Mapping.objects.select_for_update().get_or_create(tenant=tenant, kind=kind, code=code)
    before = None if created else mapping_audit_view(mapping)
    _apply(mapping, item, _jaggaer_active(tenant, kind, [code]).get(code))
    mapping.save()
    if actor is not None:
        audit.action("mapping.set" if mapping.qbo_item_id else "mapping.clear", actor=actor, tenant=tenant,
                     target_type=f"mapping.{kind}", target_id=code, before=before, after=mapping_audit_view(mapping))
    return mapping


@transaction.atomic
def mappings_bulk_set(*, tenant, items: list[dict], actor: Actor | None = None) -> list[Mapping]:
    """Several mappings at once, all or nothing: [{"kind", "code", "qbo_id"}, ...]."""
    if not items:
        raise ApplicationError("Send at least one mapping.", code="validation_error",
                               fields={"mappings": ["This list may not be empty."]})
    errors, resolved = {}, []
    for n, entry in enumerate(items):
        try:
            _check_kind(entry["kind"])
            qbo_id = entry.get("qbo_id")
            item = None if qbo_id in (None, "") else _qbo_item(tenant=tenant, kind=entry["kind"], qbo_id=qbo_id)
            resolved.append((entry["kind"], entry["code"], item))
        except ApplicationError as e:
            errors[str(n)] = [e.message]
    if errors:
        raise ApplicationError("Some mappings are not valid; nothing was changed.", code="validation_error",
                               fields={"mappings": errors})
    out, before = [], {}
    for kind, code, item in resolved:
        mapping, created = Mapping.objects.select_for_update().get_or_create(tenant=tenant, kind=kind, code=code)
        before[f"{kind}:{code}"] = None if created else mapping_audit_view(mapping)
        out.append(_apply(mapping, item, _jaggaer_active(tenant, kind, [code]).get(code)))
    Mapping.objects.bulk_update(out, ["qbo_item", "source", "state", "state_detail", "updated_at"])
    if actor is not None:
        after = {f"{m.kind}:{m.code}": mapping_audit_view(m) for m in out}
        audit.action("mapping.bulk_set", actor=actor, tenant=tenant, target_type="mapping",
                     before={key: before.get(key) for key in after}, after=after, data={"count": len(after)})
    return out


@transaction.atomic
def mappings_auto_match(*, tenant, kind: str | None = None, include_person: bool = False,
                        actor: Actor | None = None) -> dict:
    """Re-run auto-matching on automatic mappings (and a person's too when asked); with `actor`, audited as
    mapping.auto_match with only the mappings it changed."""
    kinds = [kind] if kind else list(Kind.values)
    for k in kinds:
        _check_kind(k)
    scope = Mapping.objects.for_tenant(tenant).select_related("qbo_item").filter(kind__in=kinds)
    before = {f"{m.kind}:{m.code}": mapping_audit_view(m) for m in scope} if actor is not None else {}
    counts = {k: mappings_refresh(tenant=tenant, kind=k, rematch=True, include_person=include_person) for k in kinds}
    if actor is not None:
        changed_before, changed_after = audit.changes(before, {f"{m.kind}:{m.code}": mapping_audit_view(m)
                                                               for m in scope.all()})
        audit.action("mapping.auto_match", actor=actor, tenant=tenant, target_type="mapping",
                     before=changed_before, after=changed_after,
                     data={"kind": kind, "counts": counts, "include_person": include_person})
    return counts


# ---------------------------------------------------------------------------- settings

_UNSET = object()


@transaction.atomic
def sync_settings_update(*, tenant, ap_account_id: str | None | object = _UNSET,
                         department_policy: str | object = _UNSET, actor: Actor | None = None) -> SyncSettings:
    """Change the tenant's sync settings (only what is passed); with `actor`, one sync_settings.update row.

    - `ap_account_id`: the default AP account, a QBO Liability account of subtype AccountsPayable (None clears);
    - `department_policy`: what to do with a document whose lines are on several departments: hold it, or a
      QBO Class per line.
    """
    if department_policy is not _UNSET and department_policy not in SyncSettings.DepartmentPolicy.values:
        raise ApplicationError(f"Unknown department policy {department_policy!r}; use one of "
                               f"{', '.join(SyncSettings.DepartmentPolicy.values)}.", code="invalid_department_policy",
                               fields={"department_policy": ["Unknown policy."]})
    current, _ = SyncSettings.objects.select_related("ap_account").get_or_create(tenant=tenant)
    before, after = {}, {}
    if ap_account_id is not _UNSET:
        before["ap_account_id"] = current.ap_account.qbo_id if current.ap_account else None
        current.ap_account = _ap_account(tenant=tenant, ap_account_id=ap_account_id)
        after["ap_account_id"] = current.ap_account.qbo_id if current.ap_account else None
    if department_policy is not _UNSET:
        before["department_policy"] = current.department_policy
        current.department_policy = department_policy
        after["department_policy"] = department_policy
    current.save()
    if actor is not None and after:
        audit.action("sync_settings.update", actor=actor, tenant=tenant, target_type="sync_settings",
                     target_id=current.pk, before=before, after=after)
    return current


def _ap_account(*, tenant, ap_account_id: str | None) -> QboCatalogItem | None:
    if ap_account_id in (None, ""):
        return None
    item = QboCatalogItem.objects.for_tenant(tenant).filter(
        kind=Kind.GL_ACCOUNT, qbo_id=str(ap_account_id), present=True).first()
    if item is None:
        raise ApplicationError(f"QuickBooks has no account with id {ap_account_id} (as of the last catalog "
                               f"import; run a sync to refresh it).", code="qbo_item_not_found",
                               fields={"ap_account_id": ["No such account."]})
    if not item.is_ap_account:
        raise ApplicationError(f"'{item.name}' is not an active Liability account of type Accounts Payable.",
                               code="invalid_ap_account",
                               fields={"ap_account_id": ["Must be an active Accounts Payable account."]})
    return item


# ---------------------------------------------------------------------------- links

LINKS = {  # kind in the API -> (model, JAGGAER id field, the step whose records it links)
    "supplier": (VendorLink, "jaggaer_company_id", "suppliers"),
    "purchase_order": (PurchaseOrderLink, "jaggaer_po_id", "purchase_orders"),
    "invoice": (BillLink, "jaggaer_invoice_id", "invoices"),
}


@transaction.atomic
def link_forget(*, tenant, kind: str, source_id: str, actor: Actor) -> dict:
    """Forget what a JAGGAER record was written as in QBO (e.g. the QBO object was deleted there): the
    next run matches or writes it again (vendors by name, documents by DocNumber and vendor)."""
    if kind not in LINKS:
        raise ApplicationError(f"Unknown link kind {kind!r}; use one of {', '.join(LINKS)}.", code="invalid_kind",
                               fields={"kind": ["Unknown kind."]})
    model, key, _ = LINKS[kind]
    link = model.objects.for_tenant(tenant).filter(**{key: source_id}).first()
    if link is None:
        raise ApplicationError(f"No {kind.replace('_', ' ')} link for {source_id!r}.", code="not_found",
                               status_code=404)
    before = {f.attname: getattr(link, f.attname) for f in model._meta.concrete_fields
              if f.attname not in ("id", "tenant_id", "created_at", "updated_at", "lines", "line_totals")}
    link.delete()
    if kind == "invoice":      # the bill is gone: what it billed on its PO lines is open again
        PoLineBilling.objects.for_tenant(tenant).filter(jaggaer_invoice_id=source_id).delete()
    audit.action("link.forget", actor=actor, tenant=tenant, target_type=f"{kind}_link", target_id=source_id,
                 before={k: str(v) for k, v in before.items()}, after=None)
    return before

"""Replay: read the current record(s) from JAGGAER and send them through the same step of the pipeline.

A replay is a run of its own (trigger `replay`) and takes the tenant's lease like every run, so it
answers 409 while another run goes. It is idempotent for the same reasons a run is: an unchanged
record (same digest as its link) is not written, and every write carries a deterministic requestid.
Works over whatever record steps `sync.pipeline.steps.STEPS` registers (suppliers, purchase orders,
invoices, ...), in their dependency order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

import audit
from audit.models import RecordEvent
from connections.exceptions import ConnectionFailure, RemoteError
from connections.tokens import jaggaer_client_for_tenant, qbo_client_for_tenant
from core.exceptions import ApplicationError, Conflict
from core.outcomes import Outcome
from core.tenancy import tenant_scope, unscoped
from sync.models import SyncRun
from sync.pipeline.engine import HOLD_PAGE_SIZE, RecordStep, RunContext, chunked
from sync.pipeline.steps import STEP_NAMES, STEPS
from sync.runs.leases import lease_acquire, lease_holder, lease_release
from sync.services import run_finish, run_steps
from tenants.services import tenant_require_active

logger = logging.getLogger(__name__)

MAX_REPLAY_RECORDS = 10_000


def replayable_entities() -> list[str]:
    """The steps whose records can be replayed one by one (catalog imports cannot)."""
    return [name for name in STEP_NAMES if isinstance(STEPS[name], type) and issubclass(STEPS[name], RecordStep)]


def _check_entity(entity: str) -> None:
    if entity not in replayable_entities():
        raise ApplicationError(f"Records of {entity!r} cannot be replayed; choose from "
                               f"{', '.join(replayable_entities())}.", code="invalid_entity",
                               fields={"entity": ["Not a replayable entity."]})


def replay_targets_of_run(*, run: SyncRun) -> dict[str, list[str]]:
    """The source ids of a run's failed and held records, per entity in step order."""
    rows = (RecordEvent.objects.for_tenant(run.tenant)
            .filter(run_id=run.pk, outcome__in=[Outcome.FAILED, Outcome.HELD], entity__in=replayable_entities())
            .order_by().values_list("entity", "source_id").distinct())
    found: dict[str, set[str]] = {}
    for entity, source_id in rows:
        if not source_id.startswith("(no "):     # a record without an id cannot be fetched again
            found.setdefault(entity, set()).add(source_id)
    return {name: sorted(found[name]) for name in STEP_NAMES if name in found}


def replay_request(*, tenant, targets: dict[str, list[str]], actor, origin_run: SyncRun | None = None,
                   enqueue: bool = True) -> SyncRun:
    """A queued replay run holding the tenant's lease; handed to a worker after commit unless enqueue=False."""
    tenant_require_active(tenant=tenant)
    targets = {entity: list(dict.fromkeys(str(s) for s in ids)) for entity, ids in targets.items() if ids}
    for entity in targets:
        _check_entity(entity)
    total = sum(len(ids) for ids in targets.values())
    if not total:
        raise ApplicationError("There is nothing to replay: the run has no failed or held records.",
                               code="nothing_to_replay")
    if total > MAX_REPLAY_RECORDS:
        raise ApplicationError(f"At most {MAX_REPLAY_RECORDS} records can be replayed at once ({total} asked).",
                               code="too_many_records")
    ordered = {name: targets[name] for name in STEP_NAMES if name in targets}
    with transaction.atomic():
        run = SyncRun.objects.create(tenant=tenant, trigger=SyncRun.Trigger.REPLAY, entities=list(ordered))
        if not lease_acquire(tenant=tenant, run=run, seconds=settings.SYNC_QUEUED_LEASE_SECONDS):
            holder = lease_holder(tenant=tenant)
            raise Conflict(
                "A sync of this tenant is already queued or running; replay once it has finished.",
                code="sync_already_running",
                extra={"run": {"id": str(holder.pk), "status": holder.status, "trigger": holder.trigger}
                       if holder else None})
        code = "run.replay_failed" if origin_run is not None else "record.replay"
        single = total == 1 and origin_run is None
        audit.action(code, actor=actor, tenant=tenant,
                     target_type="sync_run" if origin_run is not None else next(iter(ordered)),
                     target_id=origin_run.pk if origin_run is not None else next(iter(ordered.values()))[0],
                     data={"replay_run_id": str(run.pk), "records": ordered if total <= 100 else None,
                           "count": total, "single": single})
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run.pk, ordered))
    return run


def _enqueue(run_id, targets: dict[str, list[str]]) -> None:
    from sync.runs.lifecycle import task

    task("sync.tasks.replay_run").delay(str(run_id), targets)


def replay_run_perform(*, run_id, targets: dict[str, list[str]], progress: Callable | None = None) -> SyncRun | None:
    """What a worker does with a queued replay: keep the lease, build the clients, replay, release."""
    from sync.runs.lifecycle import _heartbeat

    with unscoped("a worker finds its run by id"):
        run = SyncRun.objects.select_related("tenant").filter(pk=run_id, trigger=SyncRun.Trigger.REPLAY).first()
    if run is None:
        return None
    with tenant_scope(run.tenant_id):
        return _replay_run_perform(run=run, targets=targets, progress=progress, heartbeat=_heartbeat)


def _replay_run_perform(*, run: SyncRun, targets: dict[str, list[str]], progress: Callable | None,
                        heartbeat: Callable) -> SyncRun:

    if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        return run
    if run.cancel_requested:
        run_finish(run, SyncRun.Status.CANCELLED, message="Cancelled before it started.")
        lease_release(run=run)
        return run
    if not run.tenant.is_active:  # deactivated while the replay waited in the queue
        run_finish(run, SyncRun.Status.CANCELLED, code="tenant_inactive",
                   message="The tenant was deactivated before the replay started; nothing was done.")
        lease_release(run=run)
        return run
    if not lease_acquire(tenant=run.tenant, run=run):
        run_finish(run, SyncRun.Status.CANCELLED, code="superseded",
                message="Another run of this tenant was already running; this replay was not started.")
        return run
    try:
        try:
            qbo = qbo_client_for_tenant(run.tenant)
            jaggaer = jaggaer_client_for_tenant(run.tenant)
        except ConnectionFailure as e:
            run_finish(run, SyncRun.Status.FAILED, system=e.system, code=e.reason, message=e.message)
            return run
        return replay_run_execute(run=run, qbo=qbo, jaggaer=jaggaer, targets=targets,
                                  progress=heartbeat(run, progress))
    finally:
        lease_release(run=run)


def replay_run_execute(*, run: SyncRun, qbo, jaggaer, targets: dict[str, list[str]],
                       progress: Callable[[str, dict], None] | None = None) -> SyncRun:
    """Fetch each target from JAGGAER and process it through its step; only connection failures stop it."""

    def body(ctx: RunContext) -> None:
        for name in STEP_NAMES:
            if targets.get(name):
                _replay_step(ctx, STEPS[name](), targets[name])

    return run_steps(run=run, qbo=qbo, jaggaer=jaggaer, body=body, progress=progress)


def _replay_step(ctx: RunContext, step: RecordStep, source_ids: list[str]) -> None:
    if progress := ctx.progress:
        progress(step.name, {})
    step.begin(ctx)
    for chunk in chunked(source_ids, HOLD_PAGE_SIZE):
        raws, missing = [], []
        for source_id in chunk:
            try:
                raws.append(ctx.jaggaer.get(step.jaggaer_entity, source_id))
            except ConnectionFailure:
                raise
            except RemoteError as e:
                missing.append(_unreadable(ctx, step, source_id, e))
        if raws:
            step.process(ctx, raws)
        if missing:
            _record_unreadable(ctx, step, missing)


def _unreadable(ctx: RunContext, step: RecordStep, source_id: str, error: RemoteError) -> dict:
    gone = error.status == 404 or error.code == "not_found"
    message = (f"JAGGAER no longer has {step.jaggaer_entity} record {source_id}; nothing was replayed." if gone
               else f"JAGGAER did not return the record: {error}")
    return {"tenant_id": ctx.tenant.pk, "run_id": ctx.run.pk, "entity": step.name, "source_id": source_id,
            "outcome": Outcome.FAILED, "reason": "not_in_jaggaer" if gone else "jaggaer_error", "message": message}


def _record_unreadable(ctx: RunContext, step: RecordStep, events: list[dict]) -> None:
    ctx.count(step.name, Outcome.FAILED, len(events))
    for event in events:
        ctx.failed(step.name, event["source_id"], event["message"])
    with transaction.atomic():
        audit.record_events(events)
        SyncRun.objects.filter(pk=ctx.run.pk).update(counts=ctx.run.counts)
    ctx.report(step.name)

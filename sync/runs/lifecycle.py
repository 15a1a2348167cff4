"""One run lifecycle: request (lease, audit, enqueue after commit), perform in a worker (lease, clients,
heartbeat, finish, release), cancel. The daily schedule queues its runs in sync.runs.schedule.

A replay is the same run with a target list (`SyncRun.targets`): what only a replay needs (which records,
reading them again) is in sync.runs.replay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

import audit
import webhooks
from connections.exceptions import SYSTEM_NAMES, ConnectionFailure, RemoteError, TransportError
from connections.health import connection_record_failure, connections_usable_check
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from connections.tokens import jaggaer_client_for_tenant, qbo_client_for_tenant
from core import context, metrics, shutdown
from core.actor import Actor
from core.api import rfc3339
from core.exceptions import ApplicationError, Conflict
from core.tenancy import tenant_scope, unscoped
from sync.models import Hold, SyncRun
from sync.pipeline.engine import RunCancelled, RunContext
from sync.pipeline.steps import STEP_NAMES, STEPS
from sync.pipeline.writer import BatchWriter
from sync.runs.leases import lease_acquire, lease_holder, lease_release, lease_renew
from sync.runs.queues import DAILY_QUEUE, give_way, run_queues
from sync.runs.replay import replay_jaggaer_entity, replay_records, replay_targets_clean
from tenants.models import Tenant
from tenants.services import tenant_require_active

logger = logging.getLogger(__name__)


_HELD_EXAMPLES = 5   # held records named in a run's `records.held` digest


class LeaseLost(RunCancelled):
    """Another run took the tenant's lease (ours expired): stop between batches."""


class RunTimeLimit(RunCancelled):
    """The run went past SYNC_TASK_SOFT_TIME_LIMIT: it stops between batches and fails (Celery's own time limits
    act only in the prefork pool; this one holds in every pool). What was written is linked: the next run
    continues from there."""

    code = "time_limit"


class WorkerStopping(RunCancelled):
    """The worker is shutting down (SIGTERM: a deploy, a scale-down): stop between batches; a new run of the
    same kind is queued at once and continues where this one stopped (what was written is linked, not redone)."""

    code = "worker_stopped"


def _run_summary(run: SyncRun) -> dict:
    return {"id": str(run.pk), "status": run.status, "trigger": run.trigger,
            "created_at": rfc3339(run.created_at)}


def _noun(run: SyncRun) -> str:
    return "replay" if run.trigger == SyncRun.Trigger.REPLAY else "run"


# ----------------------------------------------------------------------------- request and enqueue

def task(name: str):
    """A registered Celery task, found by name: services queue work without importing the task
    modules that import them (SyncConfig.ready registers `sync.tasks`)."""
    from config.celery import app

    return app.tasks[name]


def runs_perform_in_request() -> bool:
    """Whether runs asked for in a request are performed in it (tasks run in process: no broker)."""
    return bool(settings.TASKS_IN_PROCESS or getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def runs_enqueue(*, run_ids: list) -> None:
    """Hand queued runs (syncs and replays alike) to the workers: one `sync_tenant` task each."""
    from config.celery import app

    sync_tenant = task("sync.tasks.sync_tenant")
    if app.conf.task_always_eager:
        for run_id in run_ids:
            sync_tenant.delay(str(run_id))
        return
    queues = run_queues(run_ids=run_ids)   # initial loads and full runs wait apart from the daily runs
    with app.producer_or_acquire() as producer:  # one broker connection for the whole dispatch
        for run_id in run_ids:
            sync_tenant.apply_async((str(run_id),), producer=producer, queue=queues.get(str(run_id), DAILY_QUEUE))


def sync_run_create(*, tenant, trigger: str = SyncRun.Trigger.API, full: bool = False,
                    entities: list[str] | None = None, targets: dict[str, list[str]] | None = None) -> SyncRun:
    entities = list(entities or [])
    unknown = [] if targets else sorted(set(entities) - set(STEP_NAMES))   # a replay's are checked by replay
    if unknown:
        raise ApplicationError(f"Unknown entities {', '.join(unknown)}; choose from {', '.join(STEP_NAMES)}.",
                               code="invalid_entities", fields={"entities": [f"Unknown: {', '.join(unknown)}"]})
    return SyncRun.objects.create(tenant=tenant, trigger=trigger, full=full, entities=entities,
                                  targets=targets or {}, request_id=context.request_id() or "")


def sync_request(*, tenant: Tenant, trigger: str = SyncRun.Trigger.API, full: bool = False,
                 entities: list[str] | None = None, targets: dict[str, list[str]] | None = None,
                 enqueue: bool = True, actor: Actor | None = None, check_connections: bool = False) -> SyncRun:
    """A queued run holding the tenant's lease, handed to a worker after commit; 409 while one runs.
    With `targets`, a replay of those records only. With `actor` (a person asked for a sync), audited as
    sync.request in the same transaction (a replay's row is written by `replay_request`). With
    `check_connections`, a connection that cannot be used now is a 409 saying which and what to do."""
    tenant_require_active(tenant=tenant)
    if check_connections:
        connections_usable_check(tenant=tenant)
    with transaction.atomic():
        run = sync_run_create(tenant=tenant, trigger=trigger, full=full, entities=entities, targets=targets)
        if not lease_acquire(tenant=tenant, run=run, seconds=settings.SYNC_QUEUED_LEASE_SECONDS):
            holder = lease_holder(tenant=tenant)
            then = "replay once it has finished." if targets else "wait for it to finish or cancel it."
            raise Conflict(f"A sync of this tenant is already queued or running; {then}",
                           code="sync_already_running", extra={"run": _run_summary(holder) if holder else None})
        if actor is not None and not targets:
            audit.action("sync.request", actor=actor, tenant=tenant, target_type="sync_run", target_id=run.pk,
                         data={"full": run.full, "entities": run.entities})
        if enqueue:
            transaction.on_commit(lambda: runs_enqueue(run_ids=[run.pk]))
    return run


def replay_request(*, tenant: Tenant, targets: dict[str, list[str]], actor: Actor,
                   origin_run: SyncRun | None = None, enqueue: bool = True, check_connections: bool = False) -> SyncRun:
    """A queued replay of `targets` ({entity: [source id, ...]}): the run lifecycle with a target list,
    audited as record.replay (or run.replay_failed with `origin_run`) in the same transaction."""
    tenant_require_active(tenant=tenant)
    if check_connections:
        connections_usable_check(tenant=tenant)
    ordered = replay_targets_clean(targets=targets)
    total = sum(len(ids) for ids in ordered.values())
    with transaction.atomic():
        run = sync_request(tenant=tenant, trigger=SyncRun.Trigger.REPLAY, entities=list(ordered), targets=ordered,
                           enqueue=enqueue)
        code = "run.replay_failed" if origin_run is not None else "record.replay"
        single = total == 1 and origin_run is None
        audit.action(code, actor=actor, tenant=tenant,
                     target_type="sync_run" if origin_run is not None else next(iter(ordered)),
                     target_id=origin_run.pk if origin_run is not None else next(iter(ordered.values()))[0],
                     data={"replay_run_id": str(run.pk), "records": ordered if total <= 100 else None,
                           "count": total, "single": single})
    return run


def record_replay_request(*, tenant: Tenant, entity: str, source_id: str, actor: Actor,
                          enqueue: bool = True) -> SyncRun:
    """A replay of one record, asked for by a caller: both connections must be usable (409), and JAGGAER
    must have the record (404, and no run is created); then as `replay_request`."""
    tenant_require_active(tenant=tenant)
    jaggaer_entity = replay_jaggaer_entity(entity=entity)
    connections_usable_check(tenant=tenant)
    try:
        jaggaer_client_for_tenant(tenant).get(jaggaer_entity, source_id)
    except ConnectionFailure as e:
        raise ApplicationError(e.message, code="connection_not_usable", status_code=409,
                               extra={"connection": {"system": e.system, "status": e.reason}}) from e
    except RemoteError as e:
        if e.status == 404 or e.code == "not_found":
            raise ApplicationError(f"JAGGAER has no {entity} record {source_id!r}; nothing was replayed. Check the "
                                   f"id (the JAGGAER id, not the document number).", code="not_in_jaggaer",
                                   status_code=404) from e
        # Any other answer (JAGGAER down, slow...): the replay is asked for and its run says what happened.
    except TransportError:
        pass
    return replay_request(tenant=tenant, targets={entity: [source_id]}, actor=actor, enqueue=enqueue)


# ----------------------------------------------------------------------------- perform

def run_finish(run: SyncRun, status: str, *, system: str = "", code: str = "", message: str = "") -> None:
    """The run's outcome and, in the same transaction, the partner's webhook events about it."""
    run.status = status
    run.finished_at = timezone.now()
    run.error_system, run.error_code, run.error_message = system, code, message
    fields = ["status", "finished_at", "counts", "error_system", "error_code", "error_message"]
    if run.current_step:       # the last step's final count (progress is written at most every few seconds)
        step_counts = (run.counts or {}).get(run.current_step, {})
        run.step_seen = sum(v for v in step_counts.values() if isinstance(v, int))
        run.progress_at = run.finished_at
        fields += ["step_seen", "progress_at"]
    with transaction.atomic(), tenant_scope(run.tenant_id):
        run.save(update_fields=fields)
        run_events_emit(run=run)
    metrics.run_finished(trigger=run.trigger, status=status,
                         seconds=(run.finished_at - run.started_at).total_seconds() if run.started_at else None)


def run_events_emit(*, run: SyncRun) -> None:
    """`sync.succeeded`, `sync.completed_with_holds` or `sync.failed`, and one `records.held` digest when the
    run left records on hold (a cancelled run says nothing)."""
    if run.status not in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
        return
    # Holds are written only for records counted held or failed (a retry), and left as they were for those counted
    # still_held (not due): no such count, no query.
    steps = {name: step for name, step in (run.counts or {}).items() if isinstance(step, dict)}
    held_now = any(step.get("held") or step.get("failed") or step.get("still_held") for step in steps.values())
    untouched = [name for name, step in steps.items() if step.get("still_held")]
    on_hold = Hold.objects.filter(Q(last_run=run) | Q(tenant_id=run.tenant_id, entity__in=untouched))
    held = list(on_hold.values("reason").annotate(n=Count("id")).order_by("-n", "reason")) if held_now else []
    total = sum(row["n"] for row in held)
    if run.status == SyncRun.Status.FAILED:
        event_type = "sync.failed"
    else:
        event_type = "sync.completed_with_holds" if total else "sync.succeeded"
    error = {"system": run.error_system, "code": run.error_code} if run.status == SyncRun.Status.FAILED else None
    webhooks.emit(event_type=event_type, tenant=run.tenant, data={
        "tenant_id": str(run.tenant_id), "run_id": str(run.pk), "trigger": run.trigger, "status": run.status,
        "started_at": webhooks.rfc3339(run.started_at), "finished_at": webhooks.rfc3339(run.finished_at),
        "counts": run.counts or {}, "held": total, "error": error})
    if total:
        examples = [{"entity": h.entity, "source_id": h.source_id, "reason": h.reason}
                    for h in on_hold.order_by("entity", "source_id")[:_HELD_EXAMPLES]]
        webhooks.emit(event_type="records.held", tenant=run.tenant, data={
            "tenant_id": str(run.tenant_id), "run_id": str(run.pk), "total": total,
            "by_reason": {row["reason"]: row["n"] for row in held}, "examples": examples})


def run_progress_write(run: SyncRun, step: str, counts: dict, *, total: int | None = None) -> None:
    """Writes where a run is: its step, the step's records handled so far and JAGGAER's count of them (when
    known). Written when the step or the total changes, else at most every SYNC_PROGRESS_SECONDS; the run's
    finish writes the last step's final count."""
    now = timezone.now()
    new_step = step != run.current_step
    if (not new_step and total == run.step_total and run.progress_at is not None
            and (now - run.progress_at).total_seconds() < settings.SYNC_PROGRESS_SECONDS):
        return
    changes = {"current_step": step, "step_seen": sum(v for v in counts.values() if isinstance(v, int)),
               "step_total": total, "progress_at": now}
    if new_step:
        changes["step_started_at"] = now
    SyncRun.objects.filter(pk=run.pk).update(**changes)
    for name, value in changes.items():
        setattr(run, name, value)


def _heartbeat(run: SyncRun, progress: Callable | None,
               total_of: Callable[[str], int | None] | None = None) -> Callable[[str, dict], None]:
    last = [time.monotonic()]
    started = last[0]

    def beat(step: str, counts: dict) -> None:
        if shutdown.requested():
            raise WorkerStopping("The worker was stopped; the run stopped between batches and a new run continues it.")
        if time.monotonic() - started > settings.SYNC_TASK_SOFT_TIME_LIMIT:
            raise RunTimeLimit(_time_limit_message(settings.SYNC_TASK_SOFT_TIME_LIMIT))
        give_way(stop=shutdown.requested)     # a bulk run lets this process's daily runs go first
        if time.monotonic() - last[0] >= settings.SYNC_LEASE_SECONDS / 10:
            if not lease_renew(run=run):
                raise LeaseLost("The run lost its lease to another run and stopped between batches.")
            last[0] = time.monotonic()
        run_progress_write(run, step, counts, total=total_of(step) if total_of else None)
        if progress:
            progress(step, counts)

    return beat


def _step_total(jaggaer) -> Callable[[str], int | None]:
    def total_of(step: str) -> int | None:
        entity = getattr(STEPS.get(step), "jaggaer_entity", None)
        return getattr(jaggaer, "page_totals", {}).get(entity) if entity else None

    return total_of


def sync_run_perform(*, run_id, progress: Callable | None = None,
                     targets: dict[str, list[str]] | None = None) -> SyncRun | None:
    """What a worker does with a queued run (a sync or a replay): take (or take over) the lease, build the
    clients, run, finish, release; all of it inside the run's tenant scope. `targets` only serves replays
    queued before the run stored its own (see sync.tasks.replay_run)."""
    with unscoped("a worker finds its run by id"):
        run = SyncRun.objects.select_related("tenant").filter(pk=run_id).first()
    if run is None:
        return None
    with tenant_scope(run.tenant_id), context.bound(tenant=run.tenant_id, run_id=run.pk):
        if targets and not run.targets and run.trigger == SyncRun.Trigger.REPLAY:
            run.targets = targets
            run.save(update_fields=["targets"])
        logger.info("%s run taken by a worker", run.trigger, extra={"trigger": run.trigger})
        run = _perform(run=run, progress=progress)
        logger.info("%s run %s", run.trigger, run.status, extra={"trigger": run.trigger, "status": run.status,
                                                                 "error_code": run.error_code})
        return run


def _perform(*, run: SyncRun, progress: Callable | None) -> SyncRun:
    if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        return run
    if run.cancel_requested:
        run_finish(run, SyncRun.Status.CANCELLED, message="Cancelled before it started.")
        lease_release(run=run)
        return run
    if not run.tenant.is_active:  # deactivated while the run waited in the queue
        run_finish(run, SyncRun.Status.CANCELLED, code="tenant_inactive",
                   message=f"The tenant was deactivated before the {_noun(run)} started; nothing was done.")
        lease_release(run=run)
        return run
    if not lease_acquire(tenant=run.tenant, run=run):
        run_finish(run, SyncRun.Status.CANCELLED, code="superseded",
                   message=f"Another run of this tenant was already running; this {_noun(run)} was not started.")
        return run
    try:
        try:
            qbo = qbo_client_for_tenant(run.tenant)
            jaggaer = jaggaer_client_for_tenant(run.tenant)
        except ConnectionFailure as e:
            run.started_at = timezone.now()
            run_finish(run, SyncRun.Status.FAILED, system=e.system, code=e.reason, message=e.message)
            return run
        try:
            run = sync_run_execute(run=run, qbo=qbo, jaggaer=jaggaer,
                                   progress=_heartbeat(run, progress, _step_total(jaggaer)))
        finally:
            qbo.close()       # keep-alive connections, and the clients' helper threads (QBO batches, JAGGAER pages)
            jaggaer.close()
    finally:
        lease_release(run=run)
    if run.error_code == WorkerStopping.code:
        _continue_stopped_run(run)
    return run


def _continue_stopped_run(run: SyncRun) -> None:
    """A run stopped by its worker's shutdown: queue its continuation (the next worker to start takes it)."""
    try:
        follow = sync_request(tenant=run.tenant, trigger=run.trigger, full=run.full, entities=run.entities,
                              targets=run.targets or None)
    except (ApplicationError, Conflict) as e:   # another run already holds the tenant, or it was deactivated
        logger.info("run %s stopped with its worker; not continued: %s", run.pk, e)
        return
    logger.info("run %s stopped with its worker; run %s continues it", run.pk, follow.pk)


def sync_run_execute(*, run: SyncRun, qbo, jaggaer, progress: Callable[[str, dict], None] | None = None) -> SyncRun:
    """Run the steps in dependency order with the given clients (a replay: only its targets)."""

    def body(ctx: RunContext) -> None:
        if run.targets:
            replay_records(ctx, run.targets)
            return
        for name in STEP_NAMES:
            if run.entities and name not in run.entities:
                continue
            with context.bound(step=name):
                if progress:
                    progress(name, {})
                STEPS[name]().run(ctx)

    return run_steps(run=run, qbo=qbo, jaggaer=jaggaer, body=body, progress=progress)


def run_steps(*, run: SyncRun, qbo, jaggaer, body: Callable[[RunContext], None],
              progress: Callable[[str, dict], None] | None = None) -> SyncRun:
    """Mark the run running, call `body` with its context, and finish it; only connection failures,
    a cancellation or a lost lease stop it early (an unexpected error is recorded, then raised)."""
    run.status = SyncRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    ctx = RunContext(run=run, qbo=qbo, jaggaer=jaggaer, batch_size=settings.QBO_BATCH_SIZE, progress=progress,
                     writes=BatchWriter.for_run())
    try:
        with audit.api_call_scope(run_id=run.pk):
            try:
                body(ctx)
            except BaseException:
                ctx.writes.close(quiet=True)    # the batches QBO answered are in our tables before the run ends
                raise
            ctx.writes.close()
    except ConnectionFailure as e:
        if isinstance(e.__cause__, TransportError):
            _connection_failed(run, e.__cause__, message=e.message, status=ConnectionStatus.ERROR,
                               counted=getattr(e, "counted", False))
        run_finish(run, SyncRun.Status.FAILED, system=e.system, code=e.reason, message=e.message)
    except TransportError as e:
        # No answer after every retry (refused, DNS, TLS, timeout, a refused address): the connection is in
        # error and the run ends with what happened, in our words, not as an unexpected error.
        message = f"{SYSTEM_NAMES.get(e.system, e.system)} could not be reached: {e.message}."
        _connection_failed(run, e, message=message, status=ConnectionStatus.ERROR,
                           counted=getattr(e, "counted", False))
        run_finish(run, SyncRun.Status.FAILED, system=e.system, code=e.code or "unreachable", message=message)
    except RemoteError as e:
        # An error answer the run cannot get past (a list read, not one record): said in our words (the
        # message of a RemoteError never carries the remote's text), not as an unexpected error.
        message = f"{SYSTEM_NAMES.get(e.system, e.system)} answered with an error the run cannot get past: {e}."
        _connection_failed(run, e, message=message, status=None, counted=getattr(e, "counted", False))
        run_finish(run, SyncRun.Status.FAILED, system=e.system, code=str(e.code or e.status or "remote_error"),
                   message=message)
    except (RunTimeLimit, SoftTimeLimitExceeded) as e:
        limit = settings.SYNC_TASK_SOFT_TIME_LIMIT
        run_finish(run, SyncRun.Status.FAILED, code=RunTimeLimit.code,
                   message=str(e) if isinstance(e, RunTimeLimit) else _time_limit_message(limit))
    except RunCancelled as e:
        run_finish(run, SyncRun.Status.CANCELLED, code=getattr(e, "code", ""),
                   message=str(e) or "Cancelled on request.")
    except Exception as e:
        logger.exception("%s run %s failed", run.trigger, run.pk)
        run_finish(run, SyncRun.Status.FAILED, code="internal_error",
                   message=f"The run stopped on an unexpected error ({type(e).__name__}); it has been logged.")
        raise
    else:
        run_finish(run, SyncRun.Status.SUCCEEDED)
    return run


def _time_limit_message(limit: int) -> str:
    return (f"The run went past its time limit ({limit} s, SYNC_TASK_SOFT_TIME_LIMIT) and stopped between batches; "
            "what it wrote is linked and the next run continues from there.")


def _connection_failed(run: SyncRun, error: RemoteError, *, message: str, status: str | None,
                       counted: bool) -> None:
    """Record a failure on the connection of `error.system` with `message` (and `status` when given; one
    more failure unless the token provider already counted this one)."""
    model = {"qbo": QboConnection, "jaggaer": JaggaerConnection}.get(error.system)
    found = model.objects.filter(tenant_id=run.tenant_id).first() if model else None
    if found is None:
        return
    connection_record_failure(connection=found, code=str(error.code or error.status or "remote_error"),
                              message=message, status=status, count=not counted)


# ----------------------------------------------------------------------------- cancel

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

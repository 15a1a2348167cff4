"""What is particular to a replay: which records to read again, and reading them.

A replay is a run like any other (sync.runs.lifecycle: request, lease, perform, finish, cancel) with a
target list stored on the run (`SyncRun.targets`, trigger `replay`). It is idempotent for the same
reasons a run is: an unchanged record (same digest as its link) is not written, and every write carries
a deterministic requestid. Works over whatever record steps `sync.pipeline.steps.STEPS` registers
(suppliers, purchase orders, invoices, ...), in their dependency order.
"""

from __future__ import annotations

from django.db import transaction

import audit
from audit.models import RecordEvent
from connections.exceptions import ConnectionFailure, RemoteError
from core.exceptions import ApplicationError
from core.outcomes import Outcome
from sync.models import SyncRun
from sync.pipeline.engine import HOLD_PAGE_SIZE, RecordStep, RunContext, chunked
from sync.pipeline.steps import STEP_NAMES, STEPS

MAX_REPLAY_RECORDS = 10_000


def replayable_entities() -> list[str]:
    """The steps whose records can be replayed one by one (catalog imports cannot)."""
    return [name for name in STEP_NAMES if isinstance(STEPS[name], type) and issubclass(STEPS[name], RecordStep)]


def replay_entity_check(*, entity: str) -> None:
    if entity not in replayable_entities():
        raise ApplicationError(f"Records of {entity!r} cannot be replayed; choose from "
                               f"{', '.join(replayable_entities())}.", code="invalid_entity",
                               fields={"entity": ["Not a replayable entity."]})


def replay_jaggaer_entity(*, entity: str) -> str:
    """The JAGGAER entity a replayable step reads its records from."""
    replay_entity_check(entity=entity)
    return STEPS[entity].jaggaer_entity


def replay_targets_clean(*, targets: dict[str, list[str]]) -> dict[str, list[str]]:
    """The targets without duplicates, in step order; refused when unknown, empty or too many."""
    targets = {entity: list(dict.fromkeys(str(s) for s in ids)) for entity, ids in targets.items() if ids}
    for entity in targets:
        replay_entity_check(entity=entity)
    total = sum(len(ids) for ids in targets.values())
    if not total:
        raise ApplicationError("There is nothing to replay: the run has no failed or held records.",
                               code="nothing_to_replay")
    if total > MAX_REPLAY_RECORDS:
        raise ApplicationError(f"At most {MAX_REPLAY_RECORDS} records can be replayed at once ({total} asked).",
                               code="too_many_records")
    return {name: targets[name] for name in STEP_NAMES if name in targets}


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


def replay_targets_by_tenant(*, rows) -> tuple[dict, int]:
    """Selected (tenant id, entity, source id) rows as targets per tenant, at most MAX_REPLAY_RECORDS rows;
    with how many rows cannot be replayed (a catalog import, or a record without an id)."""
    replayable = set(replayable_entities())
    targets: dict = {}
    skipped = 0
    for tenant_id, entity, source_id in rows[:MAX_REPLAY_RECORDS]:
        if entity not in replayable or source_id.startswith("(no "):
            skipped += 1
            continue
        targets.setdefault(tenant_id, {}).setdefault(entity, []).append(source_id)
    return targets, skipped


def replay_records(ctx: RunContext, targets: dict[str, list[str]]) -> None:
    """Fetch each target from JAGGAER and process it through its step; only connection failures stop it."""
    for name in STEP_NAMES:
        if targets.get(name):
            _replay_step(ctx, STEPS[name](), targets[name])


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
    step.save_identifiers(ctx)


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
    ctx.writes.drain()      # the counts written here are the newest
    with transaction.atomic():
        audit.record_events(events)
        SyncRun.objects.filter(pk=ctx.run.pk).update(counts=ctx.run.counts)
    ctx.report(step.name)

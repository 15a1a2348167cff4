"""Catalogs of both sides, auto-matching, drift, holds on unmapped codes and their release, the alignment report."""

import pytest

from core.outcomes import Outcome
from sync.mappings.resolver import MappingResolver
from sync.mappings.selectors import alignment_report
from sync.mappings.services import mapping_set, mappings_auto_match
from sync.models import Hold, JaggaerCatalogItem, Mapping, QboCatalogItem, SyncRun
from sync.pipeline.engine import Record, RecordStep, Result, RunContext, Write
from sync.runs.lifecycle import sync_run_create
from sync.transforms.validation import REASONS
from tests.sync.helpers import DATASET, case_ids

pytestmark = pytest.mark.django_db


def _mappings(tenant, kind):
    return {m.code: m for m in Mapping.objects.for_tenant(tenant).filter(kind=kind).select_related("qbo_item")}


def _deactivate(qbo_sandbox, entity, name):
    obj = qbo_sandbox.app.find(entity, Name=name)[0]
    realm = qbo_sandbox.app.realm()
    with realm.lock:
        realm.update(entity, {"Id": obj["Id"], "SyncToken": obj["SyncToken"], "sparse": True, "Active": False},
                     set())
    return obj


def test_catalogs_import_both_sides_inactive_included(run_sync, tenant, qbo_sandbox):
    run = run_sync(entities=["catalogs"])
    assert run.status == SyncRun.Status.SUCCEEDED
    qbo_accounts = qbo_sandbox.app.state("Account")
    assert QboCatalogItem.objects.for_tenant(tenant).filter(kind="gl_account").count() == len(qbo_accounts)
    assert QboCatalogItem.objects.for_tenant(tenant).filter(kind="gl_account", active=False).exists()
    codes = {g["code"] for g in DATASET.jaggaer["gl_accounts"]}
    assert set(JaggaerCatalogItem.objects.for_tenant(tenant).filter(kind="gl_account")
               .values_list("code", flat=True)) == codes
    retired = case_ids("gl_retired", "gl_accounts")[0]
    assert not JaggaerCatalogItem.objects.get(tenant=tenant, kind="gl_account", code=retired).active


def test_auto_matching_by_number_then_by_name(run_sync, tenant):
    run_sync(entities=["catalogs"])
    gl = _mappings(tenant, "gl_account")
    assert gl["6100"].state == "mapped" and gl["6100"].qbo_item.number == "6100"
    for code in case_ids("gl_qbo_name_only", "gl_accounts"):
        assert gl[code].state == "mapped" and gl[code].qbo_item.number == ""
    assert gl[case_ids("gl_without_qbo", "gl_accounts")[0]].state == "unmapped"
    inactive = gl[case_ids("gl_qbo_inactive", "gl_accounts")[0]]
    assert inactive.state == "stale" and "inactive" in inactive.state_detail
    assert all(m.source == "auto" for m in gl.values())
    departments = _mappings(tenant, "department")
    assert departments["PLANT-1"].state == "mapped"
    assert departments[case_ids("department_without_qbo", "departments")[0]].state == "unmapped"


def test_a_persons_mapping_is_never_overwritten_by_auto_matching(run_sync, tenant):
    run_sync(entities=["catalogs"])
    other = QboCatalogItem.objects.get(tenant=tenant, kind="gl_account", number="6200")
    mapping_set(tenant=tenant, kind="gl_account", code="6100", qbo_id=other.qbo_id)
    run_sync(entities=["catalogs"])
    mappings_auto_match(tenant=tenant)
    mapping = Mapping.objects.get(tenant=tenant, kind="gl_account", code="6100")
    assert (mapping.source, mapping.qbo_item.number, mapping.state) == ("person", "6200", "mapped")


def test_drift_marks_mappings_stale_in_both_directions(run_sync, tenant, qbo_sandbox, jaggaer_sandbox):
    run_sync(entities=["catalogs"])
    _deactivate(qbo_sandbox, "Account", "Raw materials")
    jaggaer_sandbox.app.retire_department("PLANT-2")
    run_sync(entities=["catalogs"])
    gl = _mappings(tenant, "gl_account")["6100"]
    department = _mappings(tenant, "department")["PLANT-2"]
    assert gl.state == "stale" and "inactive" in gl.state_detail
    assert department.state == "stale" and "retired" in department.state_detail


class ProbeStep(RecordStep):
    """A test-only step: purchase orders whose header posts to a GL account and a department.

    It writes a QBO Class per PO, which needs no other object, so the engine's hold and release path
    can be exercised before the purchase order step exists."""

    name = "probe"
    jaggaer_entity = "purchase_orders"
    id_field = "poId"
    modified_field = "lastUpdate"

    def __init__(self, departments):
        super().__init__()
        self.departments = departments

    def prepare(self, ctx):
        self.resolver = MappingResolver(ctx.tenant)
        self.done = set()

    def is_unchanged(self, page, record):
        return record.source_id in self.done

    def plan(self, ctx, page, record: Record):
        segments = record.raw.get("accountingSegments") or {}
        if segments.get("DepartmentCode") not in self.departments:
            return Result(record, "skipped", message="not part of this probe")
        refs = self.resolver.resolve({"gl_account": {segments["Account"]},
                                      "department": {segments["DepartmentCode"]}})
        if not isinstance(refs, dict):
            return Result(record, "held", hold=refs)
        return Write(record, "create", "Class", {"Name": f"probe {record.source_id}"})

    def written(self, ctx, page, write, entity):
        self.done.add(write.record.source_id)
        return Result(write.record, Outcome.CREATED, qbo_id=entity["Id"])

    def save_links(self, ctx, page, done):
        pass


def _probe(tenant, qbo_client, jaggaer_client, departments):
    run = sync_run_create(tenant=tenant, trigger="command", entities=["catalogs"])
    ProbeStep(departments).run(RunContext(run=run, qbo=qbo_client, jaggaer=jaggaer_client))
    return run


def test_stale_and_unmapped_codes_hold_records_and_a_fixed_mapping_releases_them(
        run_sync, tenant, qbo_sandbox, qbo_client, jaggaer_client):
    new_plant = case_ids("department_without_qbo", "departments")[0]
    run_sync(entities=["catalogs"])
    plant_1 = next(d["name"] for d in DATASET.jaggaer["departments"] if d["code"] == "PLANT-1")
    _deactivate(qbo_sandbox, "Department", plant_1)
    run_sync(entities=["catalogs"])
    assert _mappings(tenant, "department")["PLANT-1"].state == "stale"

    run = _probe(tenant, qbo_client, jaggaer_client, {"PLANT-1", new_plant})
    # the dataset's malformed POs are held by the engine's validation before the probe sees them (not its holds)
    holds = Hold.objects.for_tenant(tenant).filter(entity="probe").exclude(reason__in=REASONS)
    assert holds.exists() and run.counts["probe"].get("created", 0) == 0
    assert {h.reason for h in holds} <= {"department_unmapped", "gl_unmapped"}
    waiting = {code for h in holds.filter(reason="department_unmapped") for code in h.waits_on}
    assert waiting == {"PLANT-1", new_plant}

    report = alignment_report(tenant=tenant)
    rows = {r["code"]: r for r in report["department"]["jaggaer_without_qbo"]}
    assert rows["PLANT-1"]["held_records"] == holds.filter(waits_on__contains=["PLANT-1"]).count() > 0
    assert rows[new_plant]["held_records"] > 0 and rows[new_plant]["state"] == "unmapped"
    assert "Corporate" in {q["name"] for q in report["department"]["qbo_unused"]}

    corporate = QboCatalogItem.objects.get(tenant=tenant, kind="department", name="Corporate")
    mapping_set(tenant=tenant, kind="department", code="PLANT-1", qbo_id=corporate.qbo_id)
    mapping_set(tenant=tenant, kind="department", code=new_plant, qbo_id=corporate.qbo_id)
    held_before = {h.source_id for h in holds.filter(reason="department_unmapped")}
    run = _probe(tenant, qbo_client, jaggaer_client, {"PLANT-1", new_plant})
    remaining = Hold.objects.for_tenant(tenant).filter(entity="probe").exclude(reason__in=REASONS)
    assert all(h.reason == "gl_unmapped" for h in remaining)
    assert run.counts["probe"]["created"] == len(held_before - {h.source_id for h in remaining}) > 0
    assert all(r["held_records"] == 0 for r in alignment_report(tenant=tenant)["department"]["jaggaer_without_qbo"])

"""Replay of a record held on an unmapped code: map the code, replay -> written once; replay again -> nothing.

Until the purchase order and invoice steps are registered, a test-only step plays their part: suppliers
that post to a department, held while the department is not mapped (the engine's real hold path).
"""

import pytest

from audit.models import Action
from core.outcomes import Outcome
from sync.mappings.resolver import MappingResolver
from sync.models import Hold, Mapping, QboCatalogItem, VendorLink
from sync.pipeline.engine import Record, Result
from sync.pipeline.vendors import VendorStep
from sync.runs import replay
from tests.sync.helpers import SUPPLIERS, case_ids, qbo_writes

pytestmark = pytest.mark.django_db

PLANT = case_ids("department_without_qbo", "departments")[0]      # a JAGGAER department QBO does not have
SUPPLIER = sorted(SUPPLIERS)[0]


class DepartmentVendorStep(VendorStep):
    name = "suppliers_by_department"

    def prepare(self, ctx):
        super().prepare(ctx)
        self.resolver = MappingResolver(ctx.tenant)

    def plan(self, ctx, page, record: Record):
        refs = self.resolver.resolve({"department": {PLANT}})
        if not isinstance(refs, dict):
            return Result(record, Outcome.HELD, hold=refs)
        return super().plan(ctx, page, record)


@pytest.fixture
def probe_step(monkeypatch):
    steps = dict(replay.STEPS, suppliers_by_department=DepartmentVendorStep)
    monkeypatch.setattr(replay, "STEPS", steps)
    monkeypatch.setattr(replay, "STEP_NAMES", tuple(steps))
    return DepartmentVendorStep


def _replay(alice, tenant):
    response = alice.client.post(f"/api/v1/tenants/{tenant.id}/records/suppliers_by_department/{SUPPLIER}/replay")
    assert response.status_code == 200, response.content
    [record] = response.json()["records"]
    return record


def test_a_record_held_on_an_unmapped_code_is_written_once_after_the_mapping_is_fixed(
        alice, sync_now, probe_step, qbo_sandbox, tenant):
    sync_now(entities=["catalogs"])
    assert Mapping.objects.get(tenant=tenant, kind="department", code=PLANT).state == "unmapped"

    qbo_sandbox.log.clear()
    held = _replay(alice, tenant)
    assert (held["outcome"], held["reason"]) == ("held", "department_unmapped")
    hold = Hold.objects.for_tenant(tenant).get(entity="suppliers_by_department", source_id=SUPPLIER)
    assert hold.waits_on == [PLANT]
    listed = alice.client.get(f"/api/v1/tenants/{tenant.id}/holds", {"waits_on": PLANT}).json()["results"]
    assert [h["source_id"] for h in listed] == [SUPPLIER]
    assert qbo_writes(qbo_sandbox) == 0

    department = QboCatalogItem.objects.filter(tenant=tenant, kind="department", active=True, present=True).first()
    mapped = alice.client.put(f"/api/v1/tenants/{tenant.id}/mappings/department/{PLANT}",
                              {"qbo_id": department.qbo_id}, format="json")
    assert mapped.status_code == 200 and mapped.json()["state"] == "mapped"

    qbo_sandbox.log.clear()
    written = _replay(alice, tenant)
    assert written["outcome"] == "created" and written["qbo_id"]
    assert qbo_writes(qbo_sandbox) == 1
    assert not Hold.objects.for_tenant(tenant).filter(source_id=SUPPLIER).exists()
    assert VendorLink.objects.for_tenant(tenant).get(jaggaer_company_id=SUPPLIER).qbo_vendor_id == written["qbo_id"]

    qbo_sandbox.log.clear()
    again = _replay(alice, tenant)
    assert again["outcome"] == "unchanged"
    assert qbo_writes(qbo_sandbox) == 0
    actions = list(Action.objects.for_tenant(tenant).order_by("id").values_list("action", flat=True))
    assert actions == ["record.replay", "mapping.set", "record.replay", "record.replay"]

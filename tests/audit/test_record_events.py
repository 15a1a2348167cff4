"""The audit entry point: bulk rows in one INSERT, one row at a time, and refusal of unknown outcomes."""

import uuid

import pytest

import audit
from audit.models import RecordEvent

pytestmark = pytest.mark.django_db


def test_record_events_writes_many_rows_in_one_insert(tenant, django_assert_num_queries):
    run_id = uuid.uuid4()
    events = [{"tenant_id": tenant.pk, "run_id": run_id, "entity": "suppliers", "source_id": f"C-{n}",
               "outcome": "created", "qbo_id": str(n), "message": "Created."} for n in range(250)]
    with django_assert_num_queries(1):
        assert audit.record_events(events) == 250
    assert RecordEvent.objects.for_tenant(tenant).filter(run_id=run_id).count() == 250


def test_record_writes_one_row_with_empty_strings_for_missing_values(tenant):
    row = audit.record(tenant_id=tenant.pk, entity="suppliers", source_id="C-1", outcome="failed",
                       reason="invalid_record", message="Required field 'companyName' is missing.",
                       qbo_error_code=None, intuit_tid=None)
    row.refresh_from_db()
    assert (row.outcome, row.reason, row.qbo_error_code, row.intuit_tid) == ("failed", "invalid_record", "", "")


def test_an_unknown_outcome_is_refused(tenant):
    with pytest.raises(ValueError):
        audit.record_events([{"tenant_id": tenant.pk, "entity": "x", "source_id": "1", "outcome": "maybe"}])
    assert not RecordEvent.objects.exists()

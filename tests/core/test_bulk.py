"""core.bulk on PostgreSQL: one statement per call, every column type the link tables use, conflicts updated or
kept, and the tenancy rules. The SQLite fallback runs in a subprocess with its own database file."""

import datetime as dt
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import DataError, IntegrityError
from django.db.models import F

from connections.models import JaggaerConnection
from core import bulk
from core.tenancy import ScopeMissing, no_scope, tenant_scope
from sync.models import Hold, PoLineBilling, PurchaseOrderLink, SyncRun, VendorLink

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _hold(tenant, source_id, **values):
    defaults = {"reason": "gl_unmapped", "detail": "GL 6100 is not mapped.", "waits_on": ["6100"],
                "record": {"invoiceId": source_id, "lines": [{"amount": "12.50", "gl": "6100"}]},
                "source_digest": "d1"}
    return Hold(tenant=tenant, entity="invoices", source_id=source_id, **(defaults | values))


HOLD_UPDATES = ["reason", "detail", "waits_on", "record", "source_digest", "last_run", "last_held_at"]


def test_upsert_inserts_every_row_in_one_statement(tenant, django_assert_num_queries):
    run = SyncRun.objects.create(tenant=tenant, trigger="api")
    rows = [_hold(tenant, f"INV-{n}", last_run=run if n % 2 else None) for n in range(300)]
    with django_assert_num_queries(1):
        assert bulk.upsert(Hold, rows, unique_fields=["tenant", "entity", "source_id"],
                           update_fields=HOLD_UPDATES) == 300
    stored = {h.source_id: h for h in Hold.objects.for_tenant(tenant)}
    assert len(stored) == 300
    odd, even = stored["INV-1"], stored["INV-2"]
    assert (odd.last_run_id, even.last_run_id) == (run.pk, None)
    assert odd.waits_on == ["6100"]
    assert odd.record == {"invoiceId": "INV-1", "lines": [{"amount": "12.50", "gl": "6100"}]}
    assert odd.first_held_at == odd.last_held_at and odd.first_held_at.tzinfo is not None


def test_upsert_updates_the_named_fields_of_a_conflicting_row_and_keeps_the_rest(tenant, django_assert_num_queries):
    bulk.upsert(Hold, [_hold(tenant, "INV-1")], unique_fields=["tenant", "entity", "source_id"],
                update_fields=HOLD_UPDATES)
    first = Hold.objects.get(tenant=tenant, source_id="INV-1")
    time.sleep(0.01)   # timestamps of the second call must differ from the first's
    changed = _hold(tenant, "INV-1", reason="department_unmapped", detail="", waits_on=[],
                    record={"nested": {"list": [1, 2.5, None, True], "text": "Zürich ☃"}}, source_digest="d2")
    with django_assert_num_queries(1):
        bulk.upsert(Hold, [changed, _hold(tenant, "INV-2")], unique_fields=["tenant", "entity", "source_id"],
                    update_fields=HOLD_UPDATES)
    again = Hold.objects.get(pk=first.pk)
    assert (again.reason, again.detail, again.waits_on, again.source_digest) == ("department_unmapped", "", [], "d2")
    assert again.record == {"nested": {"list": [1, 2.5, None, True], "text": "Zürich ☃"}}
    assert again.first_held_at == first.first_held_at        # auto_now_add: kept
    assert again.last_held_at > first.last_held_at            # auto_now: set again
    assert Hold.objects.for_tenant(tenant).count() == 2


def test_upsert_leaves_fields_it_does_not_update_and_sets_updated_at(tenant):
    bulk.upsert(VendorLink, [VendorLink(tenant=tenant, jaggaer_company_id="C-1", qbo_vendor_id="56",
                                        display_name="Acme", source_digest="a")],
                unique_fields=["tenant", "jaggaer_company_id"], update_fields=["qbo_vendor_id", "source_digest"])
    attention_at = dt.datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    VendorLink.objects.filter(tenant=tenant).update(attention="merged", attention_at=attention_at)
    before = VendorLink.objects.get(tenant=tenant)
    bulk.upsert(VendorLink, [VendorLink(tenant=tenant, jaggaer_company_id="C-1", qbo_vendor_id="57",
                                        display_name="Renamed", source_digest="b")],
                unique_fields=["tenant", "jaggaer_company_id"], update_fields=["qbo_vendor_id", "source_digest"])
    after = VendorLink.objects.get(pk=before.pk)
    assert (after.qbo_vendor_id, after.source_digest, after.display_name) == ("57", "b", "Acme")
    assert (after.attention, after.attention_at) == ("merged", attention_at)
    assert after.created_at == before.created_at and after.updated_at > before.updated_at


def test_upsert_of_one_key_twice_in_a_call_keeps_the_last(tenant):
    rows = [_hold(tenant, "INV-1", detail="first"), _hold(tenant, "INV-2"), _hold(tenant, "INV-1", detail="last")]
    assert bulk.upsert(Hold, rows, unique_fields=["tenant", "entity", "source_id"], update_fields=HOLD_UPDATES) == 2
    assert Hold.objects.get(tenant=tenant, source_id="INV-1").detail == "last"


def test_decimals_and_nulls_keep_every_digit(tenant, django_assert_num_queries):
    rows = [PoLineBilling(tenant=tenant, jaggaer_po_id="PO-1", po_line="1", jaggaer_invoice_id="I-1",
                          invoice_line="1", quantity=None, amount=Decimal("12345678901234567890.123456789012345678")),
            {"tenant": tenant, "jaggaer_po_id": "PO-1", "po_line": "2", "jaggaer_invoice_id": "I-1",
             "invoice_line": "2", "quantity": Decimal("0.000000000000000001"), "amount": Decimal("-0.10")}]
    with django_assert_num_queries(1):
        bulk.insert(PoLineBilling, rows, ignore_conflicts=True)
    stored = {b.invoice_line: b for b in PoLineBilling.objects.for_tenant(tenant)}
    assert stored["1"].quantity is None
    assert stored["1"].amount == Decimal("12345678901234567890.123456789012345678")
    assert (stored["2"].quantity, stored["2"].amount) == (Decimal("0.000000000000000001"), Decimal("-0.10"))


def test_insert_ignoring_conflicts_keeps_the_stored_row(tenant, django_assert_num_queries):
    link = dict(tenant_id=tenant.pk, jaggaer_po_id="PO-1", po_number="4500001", qbo_po_id="88",
                lines={"1": "1", "2": "2"}, line_totals={"1": "10.00"})
    bulk.insert(PurchaseOrderLink, [link], ignore_conflicts=True)
    seen = [dict(tenant_id=tenant.pk, jaggaer_po_id="PO-1", po_number="4500001-changed"),
            dict(tenant_id=tenant.pk, jaggaer_po_id="PO-2", po_number="4500002"),
            dict(tenant_id=tenant.pk, jaggaer_po_id="PO-2", po_number="4500002-twin")]
    with django_assert_num_queries(1):
        bulk.insert(PurchaseOrderLink, seen, ignore_conflicts=True, unique_fields=["tenant", "jaggaer_po_id"])
    stored = {p.jaggaer_po_id: p for p in PurchaseOrderLink.objects.for_tenant(tenant)}
    assert (stored["PO-1"].po_number, stored["PO-1"].lines, stored["PO-1"].qbo_po_id) == (
        "4500001", {"1": "1", "2": "2"}, "88")
    assert (stored["PO-2"].po_number, stored["PO-2"].lines, stored["PO-2"].line_totals) == ("4500002", {}, {})


def test_a_plain_insert_fails_on_a_conflict_and_writes_nothing(tenant):
    bulk.insert(VendorLink, [dict(tenant=tenant, jaggaer_company_id="C-1", qbo_vendor_id="1", display_name="A")])
    with pytest.raises(IntegrityError):
        bulk.insert(VendorLink, [dict(tenant=tenant, jaggaer_company_id="C-2", qbo_vendor_id="2", display_name="B"),
                                 dict(tenant=tenant, jaggaer_company_id="C-1", qbo_vendor_id="3", display_name="C")])


def test_an_over_long_value_fails_instead_of_being_cut(tenant):
    with pytest.raises(DataError):
        bulk.upsert(VendorLink, [VendorLink(tenant=tenant, jaggaer_company_id="C" * 101, qbo_vendor_id="1",
                                            display_name="A")],
                    unique_fields=["tenant", "jaggaer_company_id"], update_fields=["qbo_vendor_id"])


def test_a_null_in_a_required_column_fails(tenant):
    with pytest.raises(IntegrityError):
        bulk.insert(Hold, [_hold(tenant, "INV-1", record=None)])


def test_an_upsert_needs_a_scope_and_rows_of_the_scopes_tenant(tenant, outsider_tenant):
    rows = [_hold(tenant, "INV-1")]
    kwargs = {"unique_fields": ["tenant", "entity", "source_id"], "update_fields": HOLD_UPDATES}
    with no_scope(), pytest.raises(ScopeMissing):
        bulk.upsert(Hold, rows, **kwargs)
    with tenant_scope(outsider_tenant), pytest.raises(bulk.TenantMismatch):
        bulk.upsert(Hold, [_hold(outsider_tenant, "INV-9"), *rows], **kwargs)
    with tenant_scope(outsider_tenant), pytest.raises(bulk.TenantMismatch):
        bulk.insert(Hold, rows)
    assert not Hold.objects.exists()
    with tenant_scope(tenant):
        assert bulk.upsert(Hold, rows, **kwargs) == 1
    with no_scope():     # an insert changes no stored row: like Model.save, it needs no scope
        assert bulk.insert(Hold, [_hold(outsider_tenant, "INV-2")], ignore_conflicts=True) == 1
    assert Hold.objects.count() == 2


def test_a_conflict_target_without_the_tenant_is_refused(tenant):
    with pytest.raises(ValueError, match="tenant"):
        bulk.upsert(VendorLink, [VendorLink(tenant=tenant, jaggaer_company_id="C-1", qbo_vendor_id="1")],
                    unique_fields=["jaggaer_company_id"], update_fields=["qbo_vendor_id"])


def test_what_it_cannot_write_faithfully_is_refused(tenant):
    with pytest.raises(TypeError, match="CredentialField"):
        bulk.insert(JaggaerConnection, [JaggaerConnection(tenant=tenant, api_base_url="https://j.example")])
    with pytest.raises(TypeError, match="expressions"):
        bulk.insert(Hold, [_hold(tenant, "INV-1", source_digest=F("reason"))])
    with pytest.raises(TypeError, match="no field"):
        bulk.insert(Hold, [{"tenant": tenant, "entity": "invoices", "source_id": "1", "colour": "red"}])
    with pytest.raises(ValueError, match="no field"):
        bulk.upsert(Hold, [_hold(tenant, "INV-1")], unique_fields=["tenant", "entity", "source_id"],
                    update_fields=["colour"])
    assert not Hold.objects.exists()


def test_no_rows_send_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert bulk.upsert(Hold, [], unique_fields=["tenant", "entity", "source_id"], update_fields=["reason"]) == 0
        assert bulk.insert(Hold, [], ignore_conflicts=True) == 0


SQLITE_SCRIPT = r"""
import datetime as dt, time
from decimal import Decimal
import django
django.setup()
from django.db import connection
from core import bulk
from core.tenancy import unscoped
from sync.models import Hold, PoLineBilling, SyncRun
from tenants.models import Partner, Tenant

with connection.schema_editor() as editor:
    for model in (Partner, Tenant, SyncRun, Hold, PoLineBilling):
        editor.create_model(model)
with unscoped("the check builds its own rows"):
    tenant = Tenant.objects.create(partner=Partner.objects.create(name="P"), name="T", slug="t")
    keys = {"unique_fields": ["tenant", "entity", "source_id"],
            "update_fields": ["reason", "waits_on", "record", "last_held_at"]}
    row = dict(tenant=tenant, entity="invoices", source_id="I-1", reason="a", waits_on=["6100"],
               record={"x": [1, {"y": None}]}, source_digest="d")
    bulk.upsert(Hold, [row], **keys)
    first = Hold.objects.get()
    time.sleep(0.01)
    bulk.upsert(Hold, [row | {"reason": "b", "record": {"z": 1}}, row | {"reason": "c", "waits_on": []}], **keys)
    again = Hold.objects.get()
    assert (again.reason, again.waits_on, again.record) == ("c", [], {"x": [1, {"y": None}]}), again.__dict__
    assert again.first_held_at == first.first_held_at and again.last_held_at > first.last_held_at
    billing = dict(tenant=tenant, jaggaer_po_id="PO", po_line="1", jaggaer_invoice_id="I", invoice_line="1",
                   quantity=None, amount=Decimal("1.25"))
    bulk.insert(PoLineBilling, [billing, billing | {"invoice_line": "2", "quantity": Decimal("2")}],
                ignore_conflicts=True)
    bulk.insert(PoLineBilling, [billing | {"amount": Decimal("9")}], ignore_conflicts=True)
    assert sorted((b.invoice_line, b.quantity, b.amount) for b in PoLineBilling.objects.all()) == [
        ("1", None, Decimal("1.25")), ("2", Decimal("2"), Decimal("1.25"))]
print("sqlite ok")
"""


def test_on_sqlite_the_same_calls_fall_back_to_bulk_create(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QBO_", "HTTP_", "REDIS"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}",
                "CELERY_BROKER_URL": ""})
    result = subprocess.run([sys.executable, "-c", SQLITE_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "sqlite ok" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]


def test_rows_alike_in_every_column_are_each_inserted(tenant, django_assert_num_queries):
    from audit.models import RecordEvent

    event = {"tenant": tenant, "entity": "invoices", "source_id": "I-1", "outcome": "held", "data": {"n": 1}}
    with django_assert_num_queries(1):
        assert bulk.insert(RecordEvent, [event, dict(event), dict(event)]) == 3
    assert list(RecordEvent.objects.for_tenant(tenant).values_list("source_id", "run_id", "data")) == [
        ("I-1", None, {"n": 1})] * 3


def test_a_column_of_one_value_for_every_row_is_written_to_every_row(tenant):
    rows = [PoLineBilling(tenant=tenant, jaggaer_po_id="PO-1", po_line="1", jaggaer_invoice_id="I-1",
                          invoice_line=str(n), quantity=None, amount=Decimal("2.50")) for n in range(3)]
    bulk.insert(PoLineBilling, rows)
    assert sorted(PoLineBilling.objects.for_tenant(tenant).values_list("invoice_line", "quantity", "amount")) == [
        (str(n), None, Decimal("2.50")) for n in range(3)]


def test_json_columns_keep_every_character_their_encoder_and_sql_nulls(tenant, django_assert_num_queries):
    """A JSON column goes as one JSON array: quotes, backslashes, control characters and non-ASCII text arrive
    as they were, a nested null stays JSON null, a Python None is SQL NULL, and the field's encoder is used."""
    from audit.models import Action

    tricky = {"name": 'O\'Brien "Tools" \\ Co', "path": "C:\\temp\\new", "tab": "a\tb\nc", "nul": None,
              "text": "Müller ✓ 東京", "list": [1, "two", None, {"x": '"'}], "brace": "{a,b}"}
    rows = [{"tenant": tenant, "actor_kind": "system", "actor_label": "t", "action": f"a.{n}",
             "before": before, "after": after, "data": data}
            for n, (before, after, data) in enumerate([
                (None, tricky, {"amount": Decimal("12.50"), "at": dt.date(2026, 12, 6)}),
                ({}, [], {"empty": ""}),
                (tricky, None, {}),
            ])]
    with django_assert_num_queries(1):
        assert bulk.insert(Action, rows) == 3
    stored = {a.action: a for a in Action.objects.filter(tenant=tenant)}
    assert (stored["a.0"].before, stored["a.0"].after) == (None, tricky)
    assert stored["a.0"].data == {"amount": "12.50", "at": "2026-12-06"}
    assert (stored["a.1"].before, stored["a.1"].after, stored["a.1"].data) == ({}, [], {"empty": ""})
    assert (stored["a.2"].before, stored["a.2"].after) == (tricky, None)
    assert Action.objects.filter(tenant=tenant, before__isnull=True).count() == 1     # SQL NULL, not JSON null
    assert Action.objects.filter(tenant=tenant, after__isnull=True).count() == 1


def test_a_none_in_a_required_json_column_fails(tenant):
    with pytest.raises(IntegrityError):
        bulk.insert(Hold, [_hold(tenant, "INV-1", record=None)])


TRICKY_TEXT = ['O\'Brien "Tools" \\ Co', "C:\\temp\\new", "a\tb\nc\r", "{a,b}", "NULL", "null", "", " padded ",
               "Müller ✓ 東京 🚚", "\\u0000 spelled out", "x" * 200]


def test_text_columns_keep_every_character(tenant, django_assert_num_queries):
    """A text column goes as one JSON array of strings: quotes, backslashes, braces, commas, control characters,
    the word NULL, empty and full-length values and non-ASCII text arrive as they were."""
    from audit.models import RecordEvent

    rows = [{"tenant": tenant, "entity": "invoices", "source_id": value, "outcome": "held", "message": value * 3}
            for value in TRICKY_TEXT]
    with django_assert_num_queries(1) as captured:
        assert bulk.insert(RecordEvent, rows) == len(rows)
    assert "jsonb_array_elements_text" in captured.captured_queries[0]["sql"]
    assert sorted(RecordEvent.objects.for_tenant(tenant).values_list("source_id", "message")) == sorted(
        (value, value * 3) for value in TRICKY_TEXT)


def test_a_none_in_a_required_text_column_fails(tenant):
    from audit.models import RecordEvent

    rows = [{"tenant": tenant, "entity": "invoices", "source_id": f"I-{n}", "outcome": "held",
             "qbo_id": None if n == 1 else "Q"} for n in range(3)]
    with pytest.raises(IntegrityError):
        bulk.insert(RecordEvent, rows)


def test_text_column_upserts_match_conflicts_on_the_strings_sent(tenant):
    """The conflict target compares the strings as sent: a JSON-escaped key finds its stored row."""
    rows = [VendorLink(tenant=tenant, jaggaer_company_id=value, qbo_vendor_id=f"V{n}", display_name=value)
            for n, value in enumerate(TRICKY_TEXT[:9])]
    with tenant_scope(tenant):
        bulk.upsert(VendorLink, rows, unique_fields=["tenant", "jaggaer_company_id"], update_fields=["qbo_vendor_id"])
        again = [VendorLink(tenant=tenant, jaggaer_company_id=r.jaggaer_company_id,
                            qbo_vendor_id=f"{r.qbo_vendor_id}-new", display_name="ignored") for r in rows]
        bulk.upsert(VendorLink, again, unique_fields=["tenant", "jaggaer_company_id"], update_fields=["qbo_vendor_id"])
    stored = dict(VendorLink.objects.for_tenant(tenant).values_list("jaggaer_company_id", "qbo_vendor_id"))
    assert stored == {value: f"V{n}-new" for n, value in enumerate(TRICKY_TEXT[:9])}
    assert VendorLink.objects.for_tenant(tenant).get(jaggaer_company_id="{a,b}").display_name == "{a,b}"


def test_a_nul_character_in_a_text_column_is_refused_and_writes_nothing(tenant):
    """PostgreSQL's text cannot hold NUL: the column goes as an array and the driver refuses it, as it always did."""
    from audit.models import RecordEvent

    rows = [{"tenant": tenant, "entity": "invoices", "source_id": f"I-{n}", "outcome": "held",
             "message": "before\x00after" if n == 1 else "fine"} for n in range(3)]
    with pytest.raises(DataError, match="NUL"):
        bulk.insert(RecordEvent, rows)
    assert not RecordEvent.objects.for_tenant(tenant).exists()


def test_text_choices_and_over_long_text_in_a_text_column(tenant):
    """Text choices (str subclasses) are written as their values; a value longer than the column fails as in an
    INSERT, never cut."""
    from audit.models import RecordEvent
    from core.outcomes import Outcome

    rows = [{"tenant": tenant, "entity": "invoices", "source_id": f"I-{n}", "outcome": outcome}
            for n, outcome in enumerate([Outcome.CREATED, Outcome.HELD, "failed"])]
    bulk.insert(RecordEvent, rows)
    assert sorted(RecordEvent.objects.for_tenant(tenant).values_list("outcome", flat=True)) == [
        "created", "failed", "held"]
    with pytest.raises(DataError):
        bulk.insert(RecordEvent, [{"tenant": tenant, "entity": "invoices", "source_id": "x" * 201, "outcome": "held"},
                                  {"tenant": tenant, "entity": "invoices", "source_id": "y", "outcome": "held"}])

"""The support search (any number a record is known by, from the admin home) and one record's page."""

import re

import pytest
from django.db import connection

from audit.models import RecordEvent
from sync.models import BillLink, Hold, RecordIdentifier
from sync.records.identifiers import identifiers_of
from sync.records.selectors import record_search
from sync.runs.lifecycle import sync_request, sync_run_perform
from tests.connections.support import configured_jaggaer, connected_qbo
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def synced(tenant, qbo_app, jaggaer_app):
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app)
    run = sync_run_perform(run_id=sync_request(tenant=tenant, enqueue=False).pk)
    assert run.status == "succeeded", run.error_message
    return tenant


def held_invoice_with_a_po(tenant) -> Hold:
    holds = [h for h in Hold.objects.filter(tenant=tenant, entity="invoices", reason="gl_unmapped")
             if any(isinstance(line, dict) and line.get("poNumber") for line in h.record.get("lineList") or [])]
    assert holds, "the small dataset holds an invoice on a PO for an unmapped GL code"
    return holds[0]


def test_a_held_invoice_is_found_by_each_of_its_numbers_exact_match_first(synced, support_admin_client):
    hold = held_invoice_with_a_po(synced)
    raw = hold.record
    po_number = next(line["poNumber"] for line in raw["lineList"] if line.get("poNumber"))
    for number in (raw["invoiceNumber"], raw["supplierInvoiceNumber"].lower(), f"  {po_number} ", hold.source_id,
                   raw["supplier"]["companyName"]):
        page = support_admin_client.get("/admin/tenants/tenant/search/", {"q": number})
        assert page.status_code == 200
        html = page.content.decode()
        record = f"/admin/tenants/tenant/{synced.pk}/records/invoices/{hold.source_id}/"
        assert record in html, number
    # Exact matches come before the records a value only begins: "INV-2026-0000" begins many invoice numbers.
    found = record_search(query=raw["invoiceNumber"])
    assert found[0].source_id == hold.source_id and found[0].exact
    prefix = record_search(query=raw["invoiceNumber"][:-1])
    assert len(prefix) > 1 and all(not f.exact for f in prefix[1:])
    # The PO itself is found by its number too, and an invoice written is found by its QuickBooks Id.
    assert any(f.entity == "purchase_orders" for f in record_search(query=po_number))
    bill = BillLink.objects.filter(tenant=synced).first()
    assert any(f.entity == "invoices" and f.source_id == bill.jaggaer_invoice_id and f.exact
               for f in record_search(query=bill.qbo_id))
    assert support_admin_client.get("/admin/tenants/tenant/search/", {"q": "no-such-number-777"}).content.decode(
        ).count("Nothing is known by") == 1


def test_the_admin_home_has_the_search_box(support_admin_client):
    html = support_admin_client.get("/admin/").content.decode()
    assert 'action="/admin/tenants/tenant/search/"' in html and 'name="q"' in html


def test_the_search_looks_up_an_index_and_never_scans_the_audit(tenant):
    other = TenantFactory()
    with connection.cursor() as cursor:   # 30,000 numbers and audit rows of another tenant
        cursor.execute("""INSERT INTO sync_recordidentifier (tenant_id, entity, source_id, kind, value, created_at)
                          SELECT %s, 'invoices', 'INV-' || i, 'document_number', 'inv-2026-' || i, now()
                          FROM generate_series(1, 30000) AS i""", [other.pk])
        cursor.execute("""INSERT INTO audit_recordevent (tenant_id, entity, source_id, qbo_id, outcome, reason,
                          message, qbo_error_code, intuit_tid, data, created_at)
                          SELECT %s, 'invoices', 'INV-' || i, '', 'created', '', '', '', '', '{}', now()
                          FROM generate_series(1, 30000) AS i""", [other.pk])
        cursor.execute("ANALYZE sync_recordidentifier; ANALYZE audit_recordevent")
    assert [f.source_id for f in record_search(query="INV-2026-12345")] == ["INV-12345"]
    value = "inv-2026-12345"
    query = RecordIdentifier.objects.filter(value=value) | RecordIdentifier.objects.filter(value__startswith=value)
    sql, params = query.order_by().values_list("tenant_id", "entity", "source_id").query.sql_with_params()
    story = RecordEvent.objects.filter(tenant=other, entity="invoices", source_id="INV-12345").order_by("-created_at")
    story_sql, story_params = story.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN {story_sql}", story_params)
        story_plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "sync_recordid_value" in plan and "Seq Scan" not in plan, plan
    assert re.search(r"Index Scan|Bitmap Index Scan", story_plan) and "Seq Scan" not in story_plan, story_plan


def test_identifiers_of_a_malformed_record_are_whatever_is_readable():
    assert identifiers_of("invoices", {"invoiceId": "I-1", "invoiceNumber": 17, "supplier": "x",
                                       "lineList": [None, {"poNumber": True}, {"poNumber": " 45 00 "}]}) == {
        ("jaggaer_id", "i-1"), ("document_number", "17"), ("po_number", "45 00")}
    assert identifiers_of("invoices", ["not", "a", "record"]) == set()


def test_the_record_page_tells_what_a_held_invoice_waits_on_and_links_to_the_mapping(synced, support_admin_client):
    hold = held_invoice_with_a_po(synced)
    url = f"/admin/tenants/tenant/{synced.pk}/records/invoices/{hold.source_id}/"
    html = support_admin_client.get(url).content.decode()
    code = hold.waits_on[0]
    assert "Held: GL code not mapped" in html
    assert f"Waits on GL code {code} being mapped" in html
    back = url.replace("/", "%2F")
    assert f'/admin/sync/mapping/tenant/{synced.pk}/?q={code}&amp;back={back}#mapping-gl_account-{code}' in html
    assert 'value="Replay"' in html and 'class="mlc-event" data-outcome="held"' in html
    assert re.search(r'<time datetime="[0-9T:-]+Z" title="[0-9 :-]+ UTC">', html)
    assert support_admin_client.get(url.replace(hold.source_id, "INV-NOPE")).status_code == 404
    assert support_admin_client.get(url + "replay/").status_code == 405


def test_the_record_page_replays_and_forgets_through_the_services(synced, support_admin_client):
    link = BillLink.objects.filter(tenant=synced).first()
    url = f"/admin/tenants/tenant/{synced.pk}/records/invoices/{link.jaggaer_invoice_id}/"
    html = support_admin_client.get(url).content.decode()
    assert "Written to QuickBooks" in html and 'value="Forget link"' in html
    answer = support_admin_client.post(url + "replay/", follow=True)
    assert "replay of 1 record(s) queued" in answer.content.decode()
    answer = support_admin_client.post(url + "forget-link/", follow=True)
    assert "Link forgotten" in answer.content.decode()
    assert not BillLink.objects.filter(pk=link.pk).exists()
    html = support_admin_client.get(url).content.decode()
    assert 'data-action="link.forget"' in html and 'data-action="record.replay"' in html


def test_a_number_with_like_wildcards_matches_itself_only(tenant):
    from sync.records.identifiers import identifiers_save

    identifiers_save(tenant_id=tenant.pk, entity="invoices", records=[
        ("INV-1", {("document_number", "A_1%")}), ("INV-2", {("document_number", "AB1X")}),
        ("INV-3", {("document_number", "A_1%-2")})])
    assert [(f.source_id, f.exact) for f in record_search(query="a_1%")] == [("INV-1", True), ("INV-3", False)]

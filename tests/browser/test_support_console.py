"""A support person at work in the admin, in a real browser: a held invoice, its GL code mapped, the invoice
replayed and written; the tenant's dashboard chart drawn."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from audit.models import RecordEvent
from sync.models import BillLink, Hold, SyncRun, VendorLink
from sync.runs.lifecycle import sync_request, sync_run_perform
from tests.connections.support import configured_jaggaer, connected_qbo
from tests.sync.helpers import CASES, case_ids

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INVOICE = CASES["invoice_gl_without_qbo"]["invoices"][0]
GL_CODE = CASES["invoice_gl_without_qbo"]["gl"][0]           # also the catalog case gl_without_qbo
SUPPLIER = case_ids("duplicate_supplier_case")[1]             # same name as another supplier: held
PASSWORD = "pw-for-sam-the-support-admin"


@pytest.fixture
def synced(tenant, qbo_app, jaggaer_app):
    """Alice's tenant connected to both sandboxes after a first full sync, as a worker runs it."""
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app)
    run = sync_run_perform(run_id=sync_request(tenant=tenant, enqueue=False).pk)
    assert run.status == "succeeded", run.error_message
    return tenant


@pytest.fixture
def support_admin(django_user_model):
    call_command("setup_roles", verbosity=0)
    user = django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Support admin"))
    return user


def log_in(page, next_url: str) -> None:
    page.goto(f"/admin/login/?next={next_url}")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_url}")


def messages(page) -> str:
    return page.locator("ul.messagelist").inner_text()


def map_gl_code_in_the_editor(page, tenant) -> None:
    """From the tenants list to the tenant's mapping editor; map the unmapped GL code to an expense account."""
    page.goto("/admin/tenants/tenant/")
    row = page.locator("#result_list tbody tr", has_text=tenant.name)
    assert int(row.locator("td.field-held").inner_text()) >= 1
    row.get_by_role("link", name="mappings").click()
    code_row = page.locator(f'tr.mlc-mapping-row[data-code="{GL_CODE}"]')
    assert code_row.get_attribute("data-state") == "unmapped"
    assert page.locator('table[data-kind="gl_account"] tr.mlc-mapping-row').first.get_attribute(
        "data-state") == "unmapped"   # unmapped codes come first
    select = code_row.locator("select")
    options = select.locator("option").evaluate_all("els => els.map(e => [e.value, e.textContent])")
    account = next(value for value, label in options if value and "(Expense)" in label)
    select.select_option(account)
    page.get_by_role("button", name="Save mappings").click()
    assert f"GL code {GL_CODE} →" in messages(page) and "(mapped)" in messages(page)
    assert page.locator(f'tr.mlc-mapping-row[data-code="{GL_CODE}"]').get_attribute("data-state") == "mapped"


def replay_from_the_audit_rows(page, tenant, source_id: str, reason: str) -> SyncRun:
    """Select the record's audit row, run the replay action, open the replay's run page; it succeeded."""
    page.goto(f"/admin/audit/recordevent/?tenant__id__exact={tenant.pk}&reason={reason}&q={source_id}")
    page.locator("#result_list tbody tr", has_text=source_id).first.locator("input.action-select").check()
    page.select_option("select[name=action]", "replay")
    page.locator("button[name=index]").first.click()
    assert re.search(r"replay of 1 record\(s\) queued as run", messages(page))
    # The replay ran (a worker's job; in tests, in process): its run page shows the record written.
    page.locator("ul.messagelist a").first.click()
    assert page.locator("div.field-status").inner_text().strip().lower().endswith("succeeded")
    assert "1 written" in page.locator("#mlc-run-records").inner_text()
    return SyncRun.objects.get(tenant=tenant, trigger="replay")


def test_a_support_admin_maps_the_gl_code_of_a_held_invoice_and_replays_it(page, synced, support_admin):
    tenant = synced
    hold = Hold.objects.get(tenant=tenant, entity="invoices", source_id=INVOICE)
    assert hold.reason == "gl_unmapped" and hold.waits_on == [GL_CODE]
    assert not BillLink.objects.filter(tenant=tenant, jaggaer_invoice_id=INVOICE).exists()

    log_in(page, "/admin/tenants/tenant/")
    map_gl_code_in_the_editor(page, tenant)
    replay = replay_from_the_audit_rows(page, tenant, INVOICE, "gl_unmapped")

    written = RecordEvent.objects.get(run_id=replay.pk, source_id=INVOICE)
    assert written.outcome == "created" and written.qbo_id
    assert BillLink.objects.get(tenant=tenant, jaggaer_invoice_id=INVOICE).qbo_id == written.qbo_id
    assert not Hold.objects.filter(tenant=tenant, source_id=INVOICE).exists()
    page.goto(f"/admin/audit/recordevent/?q={INVOICE}&outcome__exact=created")
    assert written.qbo_id in page.locator("#result_list").inner_text()


def test_a_support_admin_maps_a_gl_code_and_replays_a_held_supplier_once_it_is_fixed(page, synced, support_admin,
                                                                                      jaggaer_app):
    """The same console path for a hold a mapping does not release: a supplier held for a duplicate name."""
    tenant = synced
    assert Hold.objects.get(tenant=tenant, entity="suppliers", source_id=SUPPLIER).reason == "duplicate_supplier_name"

    log_in(page, "/admin/tenants/tenant/")
    map_gl_code_in_the_editor(page, tenant)
    jaggaer_app.app.rename_supplier(SUPPLIER, "Acme Castings West Ltd")    # the customer fixes it in JAGGAER
    replay = replay_from_the_audit_rows(page, tenant, SUPPLIER, "duplicate_supplier_name")

    written = RecordEvent.objects.get(run_id=replay.pk, source_id=SUPPLIER)
    assert written.outcome == "created" and written.qbo_id
    assert VendorLink.objects.get(tenant=tenant, jaggaer_company_id=SUPPLIER).qbo_vendor_id == written.qbo_id
    assert not Hold.objects.filter(tenant=tenant, source_id=SUPPLIER).exists()
    page.goto(f"/admin/audit/recordevent/?q={SUPPLIER}&outcome__exact=created")
    assert written.qbo_id in page.locator("#result_list").inner_text()


def test_the_dashboard_chart_renders(page, synced, support_admin, artifacts):
    tenant = synced
    url = f"/admin/tenants/tenant/{tenant.pk}/dashboard/"
    log_in(page, url)
    chart = page.locator("svg.outcomes-chart")
    chart.wait_for()
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    bars = page.locator("svg.outcomes-chart rect.bar")
    assert bars.count() >= 2      # today's written and held records at least
    drawn = sum(float(bars.nth(i).get_attribute("height")) for i in range(bars.count()))
    assert drawn > 0
    assert page.locator("#mlc-unaligned").inner_text().count(GL_CODE) == 1
    shot = artifacts / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

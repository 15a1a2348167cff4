"""The console's pages: held records in words and grouped by reason, and every page's query count is the same
with 5 rows as with 50."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

import audit
from sync.models import Hold
from sync.records.identifiers import identifiers_save
from tests.admin.support import populate

pytestmark = pytest.mark.django_db


def test_holds_show_reasons_in_words_grouped_with_the_fix_linked(tenant, support_admin_client):
    populate(tenant, n=2)
    Hold.objects.create(tenant=tenant, entity="invoices", source_id="INV-9", reason="currency_unsupported",
                        waits_on=[], record={}, source_digest="d")
    html = support_admin_client.get("/admin/sync/hold/").content.decode()
    assert "GL code not mapped" in html and "Foreign currency, multicurrency off" in html
    reasons = re.findall(r'<td class="field-reason_label">([^<]*)</td>', html)
    assert sorted(reasons) == ["Foreign currency, multicurrency off", "GL code not mapped", "GL code not mapped"]
    summary = html.split('id="mlc-holds-by-reason"')[1].split("</div>")[0]
    assert '?reason__exact=gl_unmapped" data-reason="gl_unmapped">GL code not mapped</a> (2)' in summary
    assert "Waits on GL code 7000 being mapped" in html
    back = f"back=%2Fadmin%2Ftenants%2Ftenant%2F{tenant.pk}%2Frecords%2Fsuppliers%2FS-0%2F"
    assert f"/admin/sync/mapping/tenant/{tenant.pk}/?q=7000&amp;{back}#mapping-gl_account-7000" in html
    assert f"/admin/tenants/tenant/{tenant.pk}/records/invoices/INV-9/" in html
    assert "[&quot;7000&quot;]" not in html and '["7000"]' not in html
    assert re.search(r'<time datetime="[0-9T:-]+Z" title="[0-9 :-]+ UTC">[0-9 :-]+ [A-Za-z0-9+-]+</time>', html)
    filtered = support_admin_client.get("/admin/sync/hold/", {"reason__exact": "currency_unsupported"})
    assert "INV-9" in filtered.content.decode() and "S-0" not in filtered.content.decode().split("result_list")[1]


def test_a_hold_page_has_no_save_and_offers_replay(tenant, support_admin_client):
    populate(tenant)
    hold = Hold.objects.get(tenant=tenant, source_id="S-0")
    html = support_admin_client.get(f"/admin/sync/hold/{hold.pk}/change/").content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert 'value="Replay"' in html
    assert f'/admin/tenants/tenant/{tenant.pk}/records/suppliers/S-0/replay/' in html
    assert "Waits on GL code 7000 being mapped" in html


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _grow_one_record(tenant, n: int, run) -> None:
    audit.record_events([{"tenant_id": tenant.pk, "entity": "suppliers", "source_id": "S-0", "outcome": "held",
                          "reason": "gl_unmapped", "message": f"try {i}", "run_id": run.pk} for i in range(n)])
    audit.record_events([{"tenant_id": tenant.pk, "entity": "invoices", "source_id": f"I-{i}", "outcome": "failed",
                          "reason": f"reason_{i}", "run_id": run.pk} for i in range(n)])
    identifiers_save(tenant_id=tenant.pk, entity="suppliers",
                     records=[(f"S-{i}", {("supplier_name", f"acme {i}")}) for i in range(n)])


@pytest.mark.parametrize("url", [
    "/admin/sync/hold/",
    "/admin/tenants/tenant/",
    "/admin/tenants/tenant/search/?q=acme",
    "/admin/tenants/tenant/{tenant}/records/suppliers/S-0/",
    "/admin/",
    "/admin/sync/syncrun/{run}/change/",
    "/admin/tenants/tenant/{tenant}/change/",
    "/admin/audit/apicall/?failed=yes",
    "/admin/audit/recordevent/",
])
def test_a_console_page_makes_as_many_queries_for_50_rows_as_for_5(url, tenant, support_admin_client,
                                                                   django_assert_max_num_queries):
    run = populate(tenant, n=5)["run"]
    _grow_one_record(tenant, 5, run)
    url = url.format(tenant=tenant.pk, run=run.pk)
    few = _count(support_admin_client, url)
    populate(tenant, n=45)
    _grow_one_record(tenant, 45, run)
    with django_assert_max_num_queries(few):
        support_admin_client.get(url)


def test_the_mapping_editor_offers_expense_accounts_in_a_searchable_choice(tenant, support_admin_client):
    from sync.models import QboCatalogItem

    populate(tenant)
    for qbo_id, name, account_type, classification in (("901", "Checking", "Bank", "Asset"),
                                                       ("902", "Sales", "Income", "Revenue"),
                                                       ("903", "Equipment", "Fixed Asset", "Asset"),
                                                       ("904", "Materials", "Cost of Goods Sold", "Expense")):
        QboCatalogItem.objects.create(tenant=tenant, kind="gl_account", qbo_id=qbo_id, name=name,
                                      account_type=account_type, classification=classification)
    html = support_admin_client.get(f"/admin/sync/mapping/tenant/{tenant.pk}/").content.decode()
    gl_select = html.split('data-kind="gl_account"')[1].split("</select>")[0]
    offered = set(re.findall(r'<option value="(\d+)"', gl_select))
    assert {"903", "904", "100"} <= offered and not offered & {"901", "902"}
    assert 'class="mlc-choice"' in gl_select and "select2.full.min.js" in html


def test_a_run_page_counts_per_step_groups_by_reason_and_refreshes_while_running(tenant, support_admin_client):
    from sync.models import SyncRun

    run = populate(tenant)["run"]
    run.counts = {"catalogs": {"gl_account": 4}, "suppliers": {"created": 3, "held": 1, "failed": 1},
                  "invoices": {"created": 7, "unchanged": 2}}
    run.status = SyncRun.Status.RUNNING
    run.save()
    _grow_one_record(tenant, 3, run)
    html = support_admin_client.get(f"/admin/sync/syncrun/{run.pk}/change/").content.decode()
    counts = html.split('id="mlc-run-counts"')[1].split("</table>")[0]
    assert re.findall(r'<tr data-step="(\w+)">', counts) == ["catalogs", "suppliers", "invoices"]
    assert '<tr data-step="invoices"><td>invoices</td><td>7</td><td>2</td><td>0</td><td>0</td></tr>' in counts
    assert "<th>step</th><th>created</th><th>unchanged</th><th>held</th><th>failed</th></tr>" in counts
    assert '<tr data-step="catalogs"><td>catalogs</td><td colspan="4">gl account 4</td></tr>' in counts
    groups = html.split('id="mlc-run-groups"')[1].split("</table>")[0]
    assert 'data-outcome="held" data-reason="gl_unmapped"' in groups
    assert "<td>GL code not mapped</td><td>4</td>" in groups
    assert f"?run={run.pk}&amp;outcome__exact=held&amp;reason=gl_unmapped" in groups
    assert '<meta http-equiv="refresh" content="5">' in html and "now at <strong>invoices</strong>" in html
    assert '{&quot;suppliers&quot;' not in html and 'name="_save"' not in html
    run.status = SyncRun.Status.SUCCEEDED
    run.save()
    done = support_admin_client.get(f"/admin/sync/syncrun/{run.pk}/change/").content.decode()
    assert 'http-equiv="refresh"' not in done


def test_the_home_puts_tenants_needing_attention_first_then_runs_and_holds(tenant, outsider_tenant,
                                                                          support_admin_client):
    from connections.models import ConnectionStatus, QboConnection

    populate(tenant)
    populate(outsider_tenant)
    QboConnection.objects.filter(tenant=outsider_tenant).update(status=ConnectionStatus.NEEDS_REAUTHORIZATION)
    Hold.objects.filter(tenant=tenant).update(first_held_at="2020-01-01T00:00:00Z")   # nothing new for tenant
    html = support_admin_client.get("/admin/").content.decode()
    attention = html.split('id="mlc-attention"')[1].split("</table>")[0]
    assert escape(outsider_tenant.name) in attention and "QuickBooks needs re-authorization" in attention
    assert f"/admin/tenants/tenant/{outsider_tenant.pk}/qbo-authorize/" in attention
    assert f'data-tenant="{tenant.pk}"' not in attention
    assert html.index('id="mlc-attention"') < html.index('id="mlc-today-runs"') < html.index('id="mlc-home-holds"')
    assert html.index('id="mlc-home-holds"') < html.index('class="app-sync')
    holds = html.split('id="mlc-home-holds"')[1].split("</table>")[0]
    assert "GL code not mapped</a></td><td>2</td><td>2</td>" in holds
    assert "View site" not in html


def test_the_tenant_page_shows_connections_schedule_runs_holds_and_records_not_events(tenant, support_admin_client):
    populate(tenant)
    for _ in range(3):   # the same record held by three runs: one held record
        audit.record_events([{"tenant_id": tenant.pk, "entity": "invoices", "source_id": "INV-7", "outcome": "held",
                              "reason": "gl_unmapped"}])
    html = support_admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    panel = html.split('id="mlc-tenant-panel"')[1]
    assert "mlc-badge" in panel.split("</p>")[0] and 'value="sync_now"' in panel
    assert f"/admin/sync/mapping/tenant/{tenant.pk}/" in panel
    assert "GL code not mapped</a></td><td>1</td>" in panel.split('id="mlc-tenant-holds"')[1]
    assert "1 written, 2 held, 1 failed (records, not audit rows)" in panel
    assert 'class="outcomes-chart"' in panel
    assert '<select name="time_zone"' in html and '<option value="America/Chicago"' in html
    answer = support_admin_client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", {
        "name": tenant.name, "slug": tenant.slug, "time_zone": "Mars/Olympus", "sync_hour": 2, "is_active": "on"})
    assert answer.status_code == 200 and "Select a valid choice" in answer.content.decode()


def test_api_calls_filter_failed_ones_with_the_status_in_view(tenant, support_admin_client):
    from audit.models import ApiCall

    populate(tenant)
    now = ApiCall.objects.first().created_at
    ApiCall.objects.create(tenant=tenant, system="qbo", method="POST", path="/v3/company/1/batch", status=500,
                           code="InternalServerError", created_at=now)
    ApiCall.objects.create(tenant=tenant, system="jaggaer", method="GET", path="/j1p/x", status=None,
                           code="timeout", created_at=now)
    html = support_admin_client.get("/admin/audit/apicall/", {"failed": "yes"}).content.decode()
    rows = re.findall(r'<td class="field-status">([^<]*)</td>', html)
    assert sorted(rows) == ["-", "500"]
    header = re.findall(r'class="sortable column-(\w+)', html)
    assert header.index("status") < header.index("short_path")


@pytest.mark.parametrize("url,fields", [("/admin/sync/hold/", "tenant_id,entity,source_id,reason"),
                                        ("/admin/audit/recordevent/", "created_at,tenant_id,run_id,entity"),
                                        ("/admin/audit/apicall/", "created_at,tenant_id,run_id,system")])
def test_lists_export_the_selected_rows_as_csv(url, fields, tenant, support_admin_client):
    populate(tenant, n=2)
    page = support_admin_client.get(url)
    ids = [str(obj.pk) for obj in page.context["cl"].result_list]
    action = next(name for name, _ in page.context["action_form"].fields["action"].choices if "csv" in name)
    answer = support_admin_client.post(url, {"action": action, "_selected_action": ids, "index": 0})
    assert answer["Content-Type"].startswith("text/csv")
    lines = b"".join(answer.streaming_content).decode().splitlines()
    assert lines[0].startswith(fields) and len(lines) == len(ids) + 1


def test_reauthorizing_from_the_admin_comes_back_to_the_tenant_page_saying_how_it_went(tenant, support_admin_client,
                                                                                        qbo_app):
    from urllib.parse import urlsplit

    from tests.connections.test_oauth_qbo_flow import consent

    start = support_admin_client.post(f"/admin/tenants/tenant/{tenant.pk}/qbo-authorize/")
    assert start.status_code == 302 and start["Location"].startswith(qbo_app.url)
    back = support_admin_client.get(consent(start["Location"]))
    assert back.status_code == 302
    location = urlsplit(back["Location"])
    assert location.path == f"/admin/tenants/tenant/{tenant.pk}/change/" and "status=connected" in location.query
    page = support_admin_client.get(f"{location.path}?{location.query}").content.decode()
    assert "QuickBooks is connected." in page

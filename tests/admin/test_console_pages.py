"""The console's pages: held records in words and grouped by reason, and every page's query count is the same
with 5 rows as with 50."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

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
    assert f"/admin/sync/mapping/tenant/{tenant.pk}/?{back}#mapping-gl_account-7000" in html
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


def _grow_one_record(tenant, n: int) -> None:
    audit.record_events([{"tenant_id": tenant.pk, "entity": "suppliers", "source_id": "S-0", "outcome": "held",
                          "reason": "gl_unmapped", "message": f"try {i}"} for i in range(n)])
    identifiers_save(tenant_id=tenant.pk, entity="suppliers",
                     records=[(f"S-{i}", {("supplier_name", f"acme {i}")}) for i in range(n)])


@pytest.mark.parametrize("url", [
    "/admin/sync/hold/",
    "/admin/tenants/tenant/",
    "/admin/tenants/tenant/search/?q=acme",
    "/admin/tenants/tenant/{tenant}/records/suppliers/S-0/",
    "/admin/",
])
def test_a_console_page_makes_as_many_queries_for_50_rows_as_for_5(url, tenant, support_admin_client,
                                                                   django_assert_max_num_queries):
    populate(tenant, n=5)
    _grow_one_record(tenant, 5)
    url = url.format(tenant=tenant.pk)
    few = _count(support_admin_client, url)
    populate(tenant, n=45)
    _grow_one_record(tenant, 45)
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

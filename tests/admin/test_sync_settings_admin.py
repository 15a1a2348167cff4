"""Support admins set a tenant's AP account and department policy in the admin, audited; only AP accounts."""

import pytest

from audit.models import Action
from sync.models import QboCatalogItem, SyncSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def settings_row(tenant):
    row = SyncSettings.objects.create(tenant=tenant)
    ap = QboCatalogItem.objects.create(tenant=tenant, kind="gl_account", qbo_id="33", name="Accounts Payable (A/P)",
                                       account_type="Accounts Payable", account_sub_type="AccountsPayable",
                                       classification="Liability")
    expense = QboCatalogItem.objects.create(tenant=tenant, kind="gl_account", qbo_id="57", name="Raw materials",
                                            account_type="Expense", classification="Expense")
    return row, ap, expense


def test_a_support_admin_sets_the_ap_account_and_policy(support_admin_client, settings_row, tenant):
    row, ap, _ = settings_row
    response = support_admin_client.post(f"/admin/sync/syncsettings/{row.pk}/change/",
                                         {"ap_account": ap.pk, "department_policy": "class_per_line"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.ap_account == ap and row.department_policy == "class_per_line"
    action = Action.objects.get(tenant=tenant, action="sync_settings.update")
    assert action.after == {"ap_account_id": "33", "department_policy": "class_per_line"}
    assert action.before["ap_account_id"] is None


def test_an_expense_account_is_not_offered_as_the_ap_account(support_admin_client, settings_row):
    row, _, expense = settings_row
    response = support_admin_client.post(f"/admin/sync/syncsettings/{row.pk}/change/",
                                         {"ap_account": expense.pk, "department_policy": "hold"})
    assert response.status_code == 200  # the form answers with its error
    assert b"Select a valid choice" in response.content
    row.refresh_from_db()
    assert row.ap_account is None

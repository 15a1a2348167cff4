"""Which QBO accounts may be posted to is one rule (QboCatalogQuerySet), the same for auto-matching,
a person's mapping, the admin's choices, the alignment report and the AP account."""

import pytest

from core.exceptions import ApplicationError
from sync.mappings.admin import mapping_choices
from sync.mappings.catalogs import mappings_refresh
from sync.mappings.selectors import alignment_report
from sync.mappings.services import mapping_set, sync_settings_update
from sync.models import JaggaerCatalogItem, Kind, Mapping, QboCatalogItem

pytestmark = pytest.mark.django_db

ACCOUNTS = [  # qbo_id, number, name, classification, account_sub_type
    ("10", "6100", "Raw materials", "Expense", "SuppliesMaterials"),
    ("11", "1200", "Accounts Receivable (A/R)", "Asset", "AccountsReceivable"),
    ("12", "2000", "Accounts Payable (A/P)", "Liability", "AccountsPayable"),
    ("13", "2010", "Trade payables", "Liability", "AccountsPayable"),
    ("14", "6200", "Freight", "Expense", "ShippingFreightDelivery"),
]


@pytest.fixture
def catalog(tenant):
    for qbo_id, number, name, classification, subtype in ACCOUNTS:
        QboCatalogItem.objects.create(tenant=tenant, kind=Kind.GL_ACCOUNT, qbo_id=qbo_id, number=number, name=name,
                                      classification=classification, account_sub_type=subtype)
    QboCatalogItem.objects.create(tenant=tenant, kind=Kind.GL_ACCOUNT, qbo_id="15", number="6300", name="Old",
                                  classification="Expense", active=False)
    for code in ("6100", "1200", "2000"):
        JaggaerCatalogItem.objects.create(tenant=tenant, kind=Kind.GL_ACCOUNT, code=code, name=f"GL {code}")
    return tenant


def test_auto_matching_never_maps_a_code_to_an_ar_or_ap_account(catalog):
    mappings_refresh(tenant=catalog, kind=Kind.GL_ACCOUNT)
    by_code = {m.code: m for m in Mapping.objects.for_tenant(catalog).select_related("qbo_item")}
    assert by_code["6100"].state == Mapping.State.MAPPED and by_code["6100"].qbo_item.qbo_id == "10"
    assert by_code["1200"].state == Mapping.State.UNMAPPED and by_code["1200"].qbo_item is None
    assert by_code["2000"].state == Mapping.State.UNMAPPED and by_code["2000"].qbo_item is None


@pytest.mark.parametrize("qbo_id", ["11", "12"])
def test_a_person_cannot_map_a_code_to_an_ar_or_ap_account(catalog, qbo_id):
    with pytest.raises(ApplicationError) as refused:
        mapping_set(tenant=catalog, kind=Kind.GL_ACCOUNT, code="1200", qbo_id=qbo_id)
    assert refused.value.code == "qbo_item_unusable"


def test_the_admin_offers_exactly_the_postable_accounts(catalog):
    offered = {qbo_id for qbo_id, _ in mapping_choices(tenant=catalog, kind=Kind.GL_ACCOUNT)}
    assert offered == {"10", "14"}
    assert set(QboCatalogItem.objects.for_tenant(catalog).postable(Kind.GL_ACCOUNT)
               .values_list("qbo_id", flat=True)) == offered


def test_the_alignment_report_lists_only_postable_accounts_as_unused(catalog):
    mappings_refresh(tenant=catalog, kind=Kind.GL_ACCOUNT)
    unused = {row["qbo_id"] for row in alignment_report(tenant=catalog)[Kind.GL_ACCOUNT]["qbo_unused"]}
    assert unused == {"14"}


def test_the_ap_account_must_be_an_active_accounts_payable_liability(catalog):
    assert sync_settings_update(tenant=catalog, ap_account_id="13").ap_account.qbo_id == "13"
    for wrong in ("10", "11", "15"):
        with pytest.raises(ApplicationError) as refused:
            sync_settings_update(tenant=catalog, ap_account_id=wrong)
        assert refused.value.code in ("invalid_ap_account", "qbo_item_not_found")
    assert set(QboCatalogItem.objects.for_tenant(catalog).ap_accounts().values_list("qbo_id", flat=True)) == {
        "12", "13"}

"""The mapping editor: choices from the tenant's imported QuickBooks catalog, unmapped first, held counts."""

import pytest
from django.urls import reverse

from audit.models import Action
from sync.models import Hold, JaggaerCatalogItem, Mapping, QboCatalogItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(tenant, outsider_tenant):
    def item(t, kind, qbo_id, name, **kw):
        return QboCatalogItem.objects.create(tenant=t, kind=kind, qbo_id=qbo_id, name=name, **kw)

    made = {
        "travel": item(tenant, "gl_account", "61", "Travel", number="6100", account_type="Expense"),
        "tools": item(tenant, "gl_account", "62", "Tools", number="6200", account_type="Expense"),
        "retired": item(tenant, "gl_account", "63", "Retired", number="6300", active=False),
        "gone": item(tenant, "gl_account", "64", "Gone", number="6400", present=False),
        "ap": item(tenant, "gl_account", "33", "Accounts Payable", account_type="Accounts Payable",
                   account_sub_type="AccountsPayable"),
        "plant": item(tenant, "department", "5", "Plant 1"),
        "elsewhere": item(outsider_tenant, "gl_account", "99", "Outsider expense", number="6999"),
    }
    JaggaerCatalogItem.objects.create(tenant=tenant, kind="gl_account", code="6100", name="Travel")
    Mapping.objects.create(tenant=tenant, kind="gl_account", code="6100", qbo_item=made["travel"], state="mapped")
    Mapping.objects.create(tenant=tenant, kind="gl_account", code="6300", qbo_item=made["retired"], state="stale",
                           state_detail="QuickBooks account 'Retired' is inactive.")
    Mapping.objects.create(tenant=tenant, kind="gl_account", code="7000", state="unmapped")
    Mapping.objects.create(tenant=tenant, kind="department", code="P1", state="unmapped")
    for n, codes in enumerate([["7000"], ["7000"], ["6300"], ["8000"]]):
        Hold.objects.create(tenant=tenant, entity="invoices", source_id=f"INV-{n}", reason="gl_unmapped",
                            waits_on=codes, record={}, source_digest="d")
    return made


def page(tenant):
    return reverse("admin:sync_mapping_tenant", args=[tenant.pk])


def rows_of(response, kind):
    return [(r["code"], r["state"], r["held"]) for r in response.context["rows"] if r["kind"] == kind]


def test_unmapped_codes_come_first_with_the_held_records_waiting_on_each(superuser_client, tenant, catalog):
    response = superuser_client.get(page(tenant))
    # 8000 has no mapping row yet: only a held record knows of it.
    assert rows_of(response, "gl_account") == [("7000", "unmapped", 2), ("8000", "unmapped", 1),
                                               ("6300", "stale", 1), ("6100", "mapped", 0)]
    assert rows_of(response, "department") == [("P1", "unmapped", 0)]


def test_choices_are_the_tenants_usable_items_of_the_same_kind(superuser_client, tenant, catalog):
    response = superuser_client.get(page(tenant))
    forms = {(r["kind"], r["code"]): r["form"] for r in response.context["rows"]}
    gl_choices = [value for value, _ in forms[("gl_account", "7000")].fields["qbo_id"].choices]
    assert gl_choices == ["", "61", "62"]       # not inactive, gone, AP, a department or another tenant's
    assert [v for v, _ in forms[("department", "P1")].fields["qbo_id"].choices] == ["", "5"]
    assert forms[("gl_account", "6100")].initial["qbo_id"] == "61"
    assert forms[("gl_account", "6300")].initial["qbo_id"] == ""   # a stale item is not offered as if usable


def post_data(response, changes: dict) -> dict:
    """The editor's form as the browser would send it, with `changes` {(kind, code): qbo_id} applied."""
    formset = response.context["formset"]
    data = {f"form-{k}": v for k, v in formset.management_form.initial.items()}
    for form in formset.forms:
        key = (form.initial["kind"], form.initial["code"])
        data[form.add_prefix("kind")], data[form.add_prefix("code")] = key
        data[form.add_prefix("qbo_id")] = changes.get(key, form.initial["qbo_id"])
    return data


def test_saving_maps_the_changed_codes_through_the_service_and_audits_each(superuser_client, tenant, catalog):
    response = superuser_client.get(page(tenant))
    data = post_data(response, {("gl_account", "7000"): "62", ("gl_account", "8000"): "61"})
    saved = superuser_client.post(page(tenant), data, follow=True)
    assert saved.status_code == 200
    mapped = {m.code: m for m in Mapping.objects.filter(tenant=tenant, kind="gl_account")}
    assert mapped["7000"].state == "mapped" and mapped["7000"].qbo_item == catalog["tools"]
    assert mapped["7000"].source == "person" and mapped["8000"].qbo_item == catalog["travel"]
    assert mapped["6100"].source == "auto" and mapped["6300"].state == "stale"   # unchanged rows untouched
    actions = {a.target_id: a for a in Action.objects.filter(action="mapping.set", target_type="mapping.gl_account")}
    assert set(actions) == {"7000", "8000"}
    assert actions["7000"].before == {"qbo_id": None, "qbo_name": None, "state": "unmapped", "source": "auto"}
    assert actions["7000"].after == {"qbo_id": "62", "qbo_name": "Tools", "state": "mapped", "source": "person"}
    assert actions["8000"].before is None and actions["7000"].actor_label == "root"
    assert rows_of(superuser_client.get(page(tenant)), "gl_account")[0] == ("6300", "stale", 1)


def test_an_item_of_another_tenant_is_refused_and_nothing_changes(superuser_client, tenant, catalog):
    response = superuser_client.get(page(tenant))
    data = post_data(response, {("gl_account", "7000"): catalog["elsewhere"].qbo_id})
    answer = superuser_client.post(page(tenant), data)
    assert answer.status_code == 200 and "Select a valid choice" in answer.content.decode()
    assert Mapping.objects.get(tenant=tenant, code="7000").state == "unmapped"
    assert not Action.objects.filter(action="mapping.set").exists()


def test_clearing_a_mapping_unmaps_it(superuser_client, tenant, catalog):
    response = superuser_client.get(page(tenant))
    superuser_client.post(page(tenant), post_data(response, {("gl_account", "6100"): ""}))
    mapping = Mapping.objects.get(tenant=tenant, code="6100")
    assert mapping.qbo_item is None and mapping.state == "unmapped" and mapping.source == "person"
    cleared = Action.objects.get(action="mapping.clear")
    assert (cleared.target_id, cleared.before["qbo_id"], cleared.after["qbo_id"]) == ("6100", "61", None)


def test_the_editor_filters_on_the_server_by_state_and_by_code_or_name(superuser_client, tenant, catalog):
    def codes(query: str) -> list[tuple[str, str]]:
        response = superuser_client.get(f"{page(tenant)}?{query}")
        assert response.status_code == 200
        return [(r["kind"], r["code"]) for r in response.context["rows"]]

    assert ("gl_account", "6100") not in codes("state=unmapped")
    assert {("gl_account", "7000"), ("gl_account", "8000"), ("gl_account", "6300"),
            ("department", "P1")} <= set(codes("state=unmapped"))
    assert codes("state=stale") == [("gl_account", "6300")]
    assert codes("q=trav") == [("gl_account", "6100")]              # the JAGGAER name, any case
    assert codes("q=700") == [("gl_account", "7000")]
    assert codes("state=nonsense") == codes("")                       # an unknown state is no filter
    assert "No department code matches the filter." in superuser_client.get(f"{page(tenant)}?q=700").content.decode()


def test_saving_under_a_filter_saves_the_rows_it_shows(superuser_client, tenant, catalog):
    filtered = f"{page(tenant)}?q=7000"
    response = superuser_client.get(filtered)
    assert [r["code"] for r in response.context["rows"]] == ["7000"]
    saved = superuser_client.post(filtered, post_data(response, {("gl_account", "7000"): "62"}), follow=True)
    assert saved.status_code == 200 and saved.redirect_chain[-1][0].endswith("?q=7000")
    mapped = {m.code: m for m in Mapping.objects.filter(tenant=tenant, kind="gl_account")}
    assert mapped["7000"].qbo_item == catalog["tools"] and mapped["6100"].source == "auto"


def test_a_long_list_shows_its_first_rows_of_each_kind_and_says_how_many_more(superuser_client, tenant, catalog,
                                                                              monkeypatch):
    from sync.mappings import admin as mappings_admin

    monkeypatch.setattr(mappings_admin, "ROWS_PER_KIND", 2)
    response = superuser_client.get(page(tenant))
    gl_rows = [r for r in response.context["rows"] if r["kind"] == "gl_account"]
    assert len(gl_rows) == 2 and "2 more GL account code(s) match" in response.content.decode()
    narrowed = superuser_client.get(f"{page(tenant)}?q=6300")
    assert [r["code"] for r in narrowed.context["rows"]] == ["6300"]

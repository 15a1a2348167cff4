"""Every admin page renders for support staff, shows no secret, and costs the same queries for 1 row or many."""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.tokens import JaggaerTokenProvider
from tests.admin.support import more_tenants, populate
from tests.connections.support import assert_no_secret, configured_jaggaer, connected_qbo

pytestmark = pytest.mark.django_db

MODELS = sorted(admin.site._registry, key=lambda m: m._meta.label)
OURS = [m for m in MODELS if m._meta.app_label in {"tenants", "connections", "sync", "audit"}]


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def pages(tenant) -> list[str]:
    """Every changelist, the change and history page of one row of each, and the console's own views."""
    found = []
    for model in MODELS:
        found.append(changelist(model))
        obj = model.objects.order_by("pk").first()
        if obj is not None:
            info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            found += [reverse(f"{info}_change", args=[obj.pk]), reverse(f"{info}_history", args=[obj.pk])]
    found += [reverse("admin:tenants_tenant_dashboard", args=[tenant.pk]),
              reverse("admin:sync_mapping_tenant", args=[tenant.pk]),
              reverse("admin:connections_jaggaerconnection_add"),
              "/admin/", "/admin/tenants/tenant/?connections=attention&held=yes",
              "/admin/audit/recordevent/?outcome__exact=held&reason=gl_unmapped&entity=suppliers",
              "/admin/audit/recordevent/?q=S-0", "/admin/sync/hold/?mapping=gl_account"]
    return found


def test_no_admin_page_shows_a_secret(superuser_client, tenant, jaggaer_app, qbo_app, secret_guard):
    jaggaer = configured_jaggaer(tenant, jaggaer_app)
    JaggaerTokenProvider(jaggaer).access_token()
    connected_qbo(tenant, qbo_app)
    populate(tenant, n=2)
    secrets = secret_guard.secrets()
    assert len(secrets) >= 5
    checked = pages(tenant)
    for page in checked:
        response = superuser_client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(response.content, secrets, page)
    for model in ("jaggaerconnection", "qboconnection", "tenant", "action", "apicall", "syncrun"):
        assert any(re.search(rf"/{model}/[^/]+/change/$", page) for page in checked), model


def test_the_page_scan_does_see_a_secret(superuser_client, tenant, jaggaer_app, secret_guard):
    """Control for the scan above: a secret that does reach a page is caught."""
    tenant.name = f"Acme {jaggaer_app.app.issue_token()}"
    tenant.save()
    response = superuser_client.get(changelist(tenant._meta.model))
    with pytest.raises(AssertionError, match="a secret"):
        assert_no_secret(response.content, secret_guard.secrets(), "the tenants list")


# What makes a browser fetch from elsewhere on its own (a link a person clicks is not that).
FETCHES = [r"""\ssrc\s*=\s*["']?(https?:)?//""", r"""<link[^>]+href\s*=\s*["']?(https?:)?//""",
           r"""url\(\s*["']?(https?:)?//""", r"@import"]


def test_no_page_of_the_console_loads_anything_from_another_host(superuser_client, tenant):
    populate(tenant, n=2)
    for page in pages(tenant):
        html = superuser_client.get(page).content.decode()
        for loads in FETCHES:
            assert not re.search(loads, html, re.IGNORECASE), (page, re.search(loads, html, re.IGNORECASE))


@pytest.mark.parametrize("model", OURS, ids=lambda m: m._meta.label)
def test_an_admin_list_costs_the_same_queries_for_one_row_or_many(superuser_client, tenant, model,
                                                                 django_assert_max_num_queries):
    populate(tenant)
    url = changelist(model)
    superuser_client.get(url)   # warm the session and content-type caches
    with CaptureQueriesContext(connection) as one:
        assert superuser_client.get(url).status_code == 200
    more_tenants(4)
    populate(tenant, n=5)
    # The tenant list filter lists tenants in one query however many there are: same count either way.
    with django_assert_max_num_queries(len(one)):
        response = superuser_client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) > 1


@pytest.mark.parametrize("view", ["admin:tenants_tenant_dashboard", "admin:sync_mapping_tenant"])
def test_the_dashboard_and_the_mapping_editor_cost_the_same_for_one_code_or_many(
        superuser_client, tenant, view, django_assert_max_num_queries):
    populate(tenant)
    url = reverse(view, args=[tenant.pk])
    superuser_client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert superuser_client.get(url).status_code == 200
    populate(tenant, n=12)
    with django_assert_max_num_queries(len(one)):
        assert superuser_client.get(url).status_code == 200

"""Partner isolation on every endpoint under /api/v1/tenants/{tenant_id}/, found from the URL conf.

New endpoints are covered as soon as they are routed: nobody has to remember to add them here.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

DUMMY = {"default": "1", "entity": "supplier", "system": "qbo"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return sorted(m.upper() for m in actions)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    names = getattr(view_class, "http_method_names", ["get"])
    skipped = {"options", "head", "trace"}
    return sorted(m.upper() for m in names if m not in skipped and hasattr(view_class, m))


def _concrete(route: str, tenant_id: str) -> str:
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<tenant_id>[^)]*\)|<(?:\w+:)?tenant_id>", tenant_id, path)

    def fill(match):
        name = match.group(1) or match.group(2)
        return DUMMY.get(name, DUMMY["default"])

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>", fill, path)
    path = path.replace("\\.", ".").replace("/?", "/").replace("\\", "")
    return "/" + path


def tenant_routes():
    routes = []
    for route, callback in _walk(get_resolver().url_patterns):
        if "tenant_id" in route and "format" not in route:
            for method in _methods(callback):
                routes.append((route, method))
    return routes


ROUTES = tenant_routes()


def test_the_walk_finds_the_tenant_endpoints():
    assert len(ROUTES) >= 4


@pytest.mark.parametrize("route, method", ROUTES)
def test_an_outsider_gets_404_on_every_tenant_endpoint(bob, tenant, route, method):
    path = _concrete(route, str(tenant.id))
    response = bob.client.generic(method, path, "{}", content_type="application/json")
    assert response.status_code == 404, (method, path, response.content[:300])
    assert response.json()["error"]["code"] == "not_found"
    tenant.refresh_from_db()
    assert tenant.is_active


OWNER_ROUTES = [(r, m) for r, m in ROUTES if len(re.findall(r"\(\?P<|<(?:\w+:)?\w+>", r)) == 1]


@pytest.mark.parametrize("route, method", OWNER_ROUTES)
def test_the_owner_reaches_the_same_endpoints(alice, tenant, route, method):
    """Control for the test above: the 404 comes from the scoping, not from a broken route."""
    path = _concrete(route, str(tenant.id))
    response = alice.client.generic(method, path, "{}", content_type="application/json")
    assert response.status_code != 404, (method, path, response.content[:300])
    assert response.status_code < 500


# ---------------------------------------------------------------------------- real ids of another tenant

def _bobs_rows(outsider_tenant) -> dict[str, str]:
    """Real rows of Bob's tenant, one per kind of id an address can carry."""
    from sync.models import BillLink, Kind, Mapping, PurchaseOrderLink, SyncRun, VendorLink

    run = SyncRun.objects.create(tenant=outsider_tenant, status=SyncRun.Status.FAILED)
    Mapping.objects.create(tenant=outsider_tenant, kind=Kind.GL_ACCOUNT, code="BOB-6100")
    VendorLink.objects.create(tenant=outsider_tenant, jaggaer_company_id="BOB-C-1", qbo_vendor_id="901",
                              display_name="Bob's supplier")
    PurchaseOrderLink.objects.create(tenant=outsider_tenant, jaggaer_po_id="BOB-PO-1", po_number="BOB-4500")
    BillLink.objects.create(tenant=outsider_tenant, jaggaer_invoice_id="BOB-INV-1", invoice_number="BOB-1",
                            qbo_entity="Bill", qbo_id="902")
    return {"run_id": str(run.pk), "code": "BOB-6100", "kind:mappings": "gl_account"}


REAL_ID_LINKS = {"supplier": "BOB-C-1", "purchase_order": "BOB-PO-1", "invoice": "BOB-INV-1"}

# Addresses whose extra parts name a stored row. `records/{entity}/{source_id}/replay` names a JAGGAER
# record (read from the tenant's own JAGGAER), and PUT on a mapping code creates the caller's own mapping:
# neither reads a stored row by the address, so neither is in this walk.
REAL_ID_ROUTES = [(r, m) for r, m in ROUTES if len(re.findall(r"\(\?P<|<(?:\w+:)?\w+>", r)) > 1
                  and "/replay" not in r.replace("replay-failed", "") and not (m == "PUT" and "mappings/" in r)]


def _concrete_with(route: str, tenant_id: str, values: dict[str, str]) -> list[str]:
    path = _concrete(route, tenant_id)
    if "links/" in route:
        return [re.sub(r"links/[^/]+/[^/]+$", f"links/{kind}/{source_id}", path)
                for kind, source_id in REAL_ID_LINKS.items()]
    if "mappings/" in route:
        return [re.sub(r"mappings/[^/]+/[^/]+$", f"mappings/gl_account/{values['code']}", path)]
    return [re.sub(r"syncs/[^/]+", f"syncs/{values['run_id']}", path)]


def test_the_real_id_walk_covers_every_address_with_an_id_of_its_own():
    assert {tuple(sorted({m for r2, m in REAL_ID_ROUTES if r2 == r})) for r, _ in REAL_ID_ROUTES}
    assert any("syncs/" in r for r, _ in REAL_ID_ROUTES) and any("links/" in r for r, _ in REAL_ID_ROUTES)
    assert any("mappings/" in r for r, _ in REAL_ID_ROUTES)


@pytest.mark.parametrize("route, method", REAL_ID_ROUTES)
def test_another_tenants_real_ids_are_404_under_the_callers_own_tenant(alice, tenant, outsider_tenant, route,
                                                                     method):
    from sync.models import BillLink, Mapping, PurchaseOrderLink, SyncRun, VendorLink

    values = _bobs_rows(outsider_tenant)
    before = {model.__name__: model.objects.filter(tenant=outsider_tenant).count()
              for model in (SyncRun, Mapping, VendorLink, PurchaseOrderLink, BillLink)}
    for path in _concrete_with(route, str(tenant.id), values):
        response = alice.client.generic(method, path, "{}", content_type="application/json")
        assert response.status_code == 404, (method, path, response.content[:300])
    after = {model.__name__: model.objects.filter(tenant=outsider_tenant).count()
             for model in (SyncRun, Mapping, VendorLink, PurchaseOrderLink, BillLink)}
    assert after == before
    assert SyncRun.objects.get(pk=values["run_id"]).cancel_requested is False

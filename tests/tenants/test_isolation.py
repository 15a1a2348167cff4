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

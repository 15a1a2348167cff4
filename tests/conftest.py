"""Shared fixtures: Alice's partner (the caller), and Bob, the outsider every permission test tries."""

import pytest
from rest_framework.test import APIClient

from core.tenancy import unscoped
from tenants.models import PartnerAPIKey
from tests.factories import PartnerFactory, TenantFactory

pytest_plugins = ["sandbox.testing"]   # fixtures: sandboxes, qbo_sandbox, jaggaer_sandbox, qbo_tokens

LONG_MARKERS = ("long", "workers", "browser", "demo")


def _database_use(item: pytest.Item) -> int:
    """pytest-django's order: tests in a rolled-back transaction (0), then those that commit and empty the
    tables afterwards (1), then those without the database (2)."""
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    if (marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))) \
            or "transactional_db" in fixtures or "live_server" in fixtures:
        return 1
    return 0 if marker or "db" in fixtures else 2


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests start first, so that with several workers (`make test` runs pytest-xdist) none is left running
    one alone at the end: the long ones without the database before everything, the others first in
    pytest-django's group (a test that empties the tables never runs before one in a rolled-back transaction)."""
    def key(item: pytest.Item) -> tuple[int, bool]:
        long = any(item.get_closest_marker(name) for name in LONG_MARKERS)
        use = _database_use(item)
        return (-1 if long and use == 2 else use, not long)

    items.sort(key=key)


@pytest.fixture(autouse=True)
def _tests_read_every_tenant():
    """A test reads and arranges any tenant's rows directly. What it calls enters its own scope as in
    production: each request starts with none, and runs and tasks enter their tenant's
    (tests/test_tenant_scope.py tests the scope itself)."""
    with unscoped("tests"):
        yield


class PartnerContext:
    def __init__(self, partner, key: str):
        self.partner = partner
        self.key = key
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")


def _partner_context(name: str) -> PartnerContext:
    partner = PartnerFactory(name=name)
    _, key = PartnerAPIKey.objects.create_key(partner=partner, name=f"{name} key")
    return PartnerContext(partner, key)


@pytest.fixture
def alice(db) -> PartnerContext:
    return _partner_context("Alice Portal")


@pytest.fixture
def bob(db) -> PartnerContext:
    """The outsider: a partner with its own tenant, who must never see Alice's."""
    return _partner_context("Bob Portal")


@pytest.fixture
def tenant(alice):
    return TenantFactory(partner=alice.partner, name="Acme Manufacturing", slug="acme-mfg")


@pytest.fixture
def outsider_tenant(bob):
    return TenantFactory(partner=bob.partner, name="Bob's Customer", slug="bobs-customer")


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()

"""Fixtures of the partner API tests: the connection fixtures and a tenant connected to both sandboxes."""

import pytest

from tests.connections.support import (  # noqa: F401  (fixtures)
    configured_jaggaer,
    connected_qbo,
    fast_http,
    jaggaer_app,
    qbo_app,
    secret_guard,
)


@pytest.fixture
def connected(tenant, qbo_app, jaggaer_app):  # noqa: F811
    """Alice's tenant with both connections stored, as onboarding leaves them."""
    connected_qbo(tenant, qbo_app)
    configured_jaggaer(tenant, jaggaer_app)
    return tenant

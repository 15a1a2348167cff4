"""The sync tests' clients and sync runner, for the reports."""

from tests.admin.conftest import read_only_client, roles, superuser_client  # noqa: E402,F401  (fixtures)
from tests.connections.support import fast_http, qbo_app  # noqa: E402,F401  (fixtures)
from tests.sync.conftest import (  # noqa: F401  (fixtures)
    jaggaer_client,
    jaggaer_sandbox,
    make_jaggaer_client,
    make_qbo_client,
    qbo_client,
    qbo_sandbox,
    run_sync,
    sandboxes,
)
from tests.webhooks.conftest import receiver  # noqa: F401  (fixture)

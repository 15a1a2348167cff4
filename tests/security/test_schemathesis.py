"""Schemathesis over the whole OpenAPI schema: generated requests (fixed seed) against the WSGI app, with a real
API key and a real tenant, its runs and connections; no answer may be a 5xx.

Requests go through Django's WSGI handler in this process, inside the test's transaction (as Django's test
client does, the handler's connection closing is switched off meanwhile). JAGGAER is the sandbox over real HTTP;
QuickBooks is not connected, so sync and replay requests end quickly.
"""

from __future__ import annotations

from collections import Counter

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import DatabaseError, close_old_connections, connection, transaction
from hypothesis import HealthCheck, Phase

from config.wsgi import application
from connections.models import JaggaerConnection, QboConnection
from sync.models import SyncRun
from tests.admin.support import populate
from tests.connections.support import configured_jaggaer, fast_http, jaggaer_app  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.long]
SEED = 20261206
EXAMPLES_PER_OPERATION = 60
MINIMUM_REQUESTS = 2000


@pytest.fixture
def wsgi_in_test_transaction():
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(alice, tenant, jaggaer_app, settings):  # noqa: F811
    settings.HTTP_MAX_ATTEMPTS = 1
    settings.HTTP_CONNECT_TIMEOUT = 1.0
    settings.HTTP_READ_TIMEOUT = 5.0
    settings.QBO_CLIENT_ID = "schemathesis-client"
    settings.QBO_CLIENT_SECRET = "schemathesis-secret"
    populate(tenant, n=3)
    QboConnection.objects.filter(tenant=tenant).delete()
    JaggaerConnection.objects.filter(tenant=tenant).delete()
    configured_jaggaer(tenant, jaggaer_app)
    run = SyncRun.objects.for_tenant(tenant).first()
    return {"tenant": tenant, "run": run, "key": alice.key}


def _database_broken() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as e:
        return str(e).splitlines()[0]
    return ""


def test_no_generated_request_gets_a_5xx(world, wsgi_in_test_transaction):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_in_test_transaction)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    headers = {"Authorization": f"Api-Key {world['key']}"}
    fixed = {"tenant_id": str(world["tenant"].pk), "run_id": str(world["run"].pk)}
    sent: list[str] = []
    statuses: Counter[int] = Counter()
    problems: list[str] = []

    for operation in operations:
        @hypothesis.seed(SEED)
        @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, database=None, deadline=None,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                             print_blob=False)
        @hypothesis.given(case=operation.as_strategy())
        def exercise(case):
            for name, value in fixed.items():
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
            # Each request runs in a savepoint rolled back afterwards: every one starts from the same world.
            savepoint = transaction.savepoint()
            status, text, broken = 0, "", ""
            try:
                response = case.call(headers=headers)
                status, text = response.status_code, response.text[:200]  # a streamed answer queries while read
                broken = _database_broken()
            except Exception as e:  # noqa: BLE001  (an error raised while streaming is a server error too)
                broken = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            finally:
                transaction.savepoint_rollback(savepoint)
            sent.append(case.operation.label)
            statuses[status // 100 * 100] += 1
            if status in (401, 403):
                problems.append(f"{case.method} {case.formatted_path} -> {status}: the real key was refused")
            if status >= 500 or broken:
                problems.append(f"{case.method} {case.formatted_path} -> {status}"
                                     f"{f' ({broken})' if broken else ''}: {text} query={case.query} "
                                     f"body={str(case.body)[:200]}")

        exercise()

    assert not problems, "\n".join(problems[:20])
    assert len(sent) >= MINIMUM_REQUESTS, f"{len(sent)} requests"
    assert len(set(sent)) == len(operations)
    assert statuses[200] >= 500, statuses      # the real tenant and key let many requests through to the work

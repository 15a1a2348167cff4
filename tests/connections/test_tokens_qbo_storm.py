"""The refresh storm: 20 threads and 2 processes want a token for one realm at the same moment, the
access token is about to expire, and the sandbox retires each refresh token the instant a new one is
issued. Exactly one refresh reaches Intuit and every caller ends up with the same, working token."""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db
from django.db import connections

from connections.clients.http import StaticTokenProvider
from connections.clients.qbo import QboClient
from connections.models import QboConnection
from connections.tokens import QboTokenProvider
from core.tenancy import tenant_scope
from tests.connections.support import (
    assert_no_secret,
    connected_qbo,
    qbo_settings_for,
    token_calls,
)

THREADS = 20
PROCESSES = 2

WORKER = r"""
import hashlib, json, os, sys, time
import django
django.setup()
from connections.clients.http import StaticTokenProvider
from connections.clients.qbo import QboClient
from connections.models import QboConnection
from connections.tokens import QboTokenProvider
from core.tenancy import tenant_scope, unscoped

with unscoped("a worker process finds its connection"):
    connection = QboConnection.objects.get(pk=int(sys.argv[1]))
scope = tenant_scope(connection.tenant_id)      # as a run does, for its whole length
scope.__enter__()
provider = QboTokenProvider(connection)
print("ready", flush=True)
go = sys.argv[2]
deadline = time.time() + 60
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.002)
token = provider.access_token()
client = QboClient(api_base=sys.argv[3], realm_id=connection.realm_id, tokens=StaticTokenProvider(token))
valid = bool(client.company_info().get("CompanyName"))
print(json.dumps({"sha": hashlib.sha256(token.encode()).hexdigest(), "refreshes": provider.refresh_calls,
                  "valid": valid}), flush=True)
"""


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_a_refresh_storm_ends_with_one_refresh_and_one_token_for_all(tenant, qbo_app, secret_guard, tmp_path):
    connection = connected_qbo(tenant, qbo_app, expires_in=30)      # inside the 10-minute margin: all refresh
    old_refresh = connection.refresh_token
    qbo_app.faults.set_latency(300)                                  # a slow Intuit: the callers pile up

    go = Path(tmp_path) / "go"
    env = {**os.environ, **qbo_settings_for(qbo_app.url),
           "DJANGO_SETTINGS_MODULE": "config.settings_test",
           "DATABASE_URL": f"postgres://{db.settings_dict['USER']}@{db.settings_dict['HOST']}:"
                           f"{db.settings_dict['PORT']}/{db.settings_dict['NAME']}",
           "CREDENTIALS_KEY": settings.CREDENTIALS_KEY, "LOG_LEVEL": "INFO"}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(connection.pk), str(go), qbo_app.url],
                                cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(PROCESSES)]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()

        start = threading.Event()
        results: list = []
        errors: list = []

        def caller():
            try:
                with tenant_scope(tenant):      # a new thread starts with no scope, as a worker's run enters one
                    provider = QboTokenProvider(QboConnection.objects.get(pk=connection.pk))
                    start.wait(30)
                    token = provider.access_token()
                    client = QboClient(api_base=qbo_app.url, realm_id=connection.realm_id,
                                       tokens=StaticTokenProvider(token))
                    results.append({"sha": sha(token), "refreshes": provider.refresh_calls,
                                    "valid": bool(client.company_info().get("CompanyName"))})
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=caller) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)                  # every thread has its connection row and waits at the start line
        go.touch()
        start.set()
        for thread in threads:
            thread.join(60)
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
            assert_no_secret(out + err, secret_guard.secrets(), "a worker process's output")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        qbo_app.faults.set_latency(0)

    assert errors == []
    assert len(results) == THREADS + PROCESSES
    stored = QboConnection.objects.get(pk=connection.pk)
    assert stored.refresh_token != old_refresh
    assert {r["sha"] for r in results} == {sha(stored.access_token)}
    assert all(r["valid"] for r in results)
    assert sum(r["refreshes"] for r in results) == 1
    assert token_calls(qbo_app) == 1 and token_calls(qbo_app, 200) == 1

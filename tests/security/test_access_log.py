"""Access logs never keep an OAuth code, a state or a token-looking query value; admin side effects are POSTs."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.urls import reverse

from config.logging import redact_access_line
from connections.models import QboOAuthState

ROOT = Path(__file__).resolve().parents[2]
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(("line", "kept", "gone"), [
    ('"GET /oauth/qbo/callback?code=AB11-secret-code&state=st4te-value&realmId=9130355 HTTP/1.1" 302 0',
     ["realmId=9130355", "code=***", "state=***"], ["AB11-secret-code", "st4te-value"]),
    (f'"GET /x?next=/admin/&id_token={JWT} HTTP/1.1" 200 5', ["next=/admin/", "id_token=***"], [JWT]),
    (f'"GET /x?page=2&v={JWT} HTTP/1.1" 200 5', ["page=2", "v=***"], [JWT]),
    ('"GET /x?ref=Q29tcGxldGVseVJhbmRvbVZhbHVlVGhhdElzTG9uZzEyMzQ HTTP/1.1" 200 5', ["ref=***"],
     ["Q29tcGxldGVseVJhbmRvbVZhbHVlVGhhdElzTG9uZzEyMzQ"]),
    ('"GET /api/v1/tenants?name=acme&page_size=50 HTTP/1.1" 200 5', ["name=acme&page_size=50"], []),
], ids=["oauth-callback", "named-token", "jwt-anywhere", "long-random", "ordinary"])
def test_the_filter_masks_secret_looking_values(line, kept, gone):
    redacted = redact_access_line(line)
    for text in kept:
        assert text in redacted
    for text in gone:
        assert text not in redacted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_runserver_access_log_has_no_code_or_state(tmp_path):
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "ENVIRONMENT": "development",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'access.sqlite3'}", "CELERY_BROKER_URL": "", "REDIS_URL": "",
           "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                               f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/oauth/qbo/callback?code=QB-AUTH-CODE-4711&"
                             f"state=STATE-VALUE-0815&realmId=9130355000000001", timeout=5, allow_redirects=False)
                requests.get(f"http://127.0.0.1:{port}/nowhere?session_id=S3SSION&x={JWT}", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        time.sleep(0.5)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert "/oauth/qbo/callback?code=***&state=***&realmId=9130355000000001" in output, output
    for secret in ("QB-AUTH-CODE-4711", "STATE-VALUE-0815", "S3SSION", JWT):
        assert secret not in output


@pytest.mark.django_db
def test_qbo_authorize_in_the_admin_starts_nothing_on_get(client, django_user_model, tenant):
    django_user_model.objects.create_superuser("root", password="pw-access-log-1")
    client.login(username="root", password="pw-access-log-1")
    url = reverse("admin:tenants_tenant_qbo_authorize", args=[tenant.pk])
    for method in ("get", "head"):
        assert getattr(client, method)(url).status_code == 200
    assert not QboOAuthState.objects.exists()

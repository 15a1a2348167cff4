"""README's curl walkthrough runs as written: the block after the walkthrough marker is run by bash against a
live server and the sandboxes, and each answer it prints is checked."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from sync.models import Mapping, SyncRun
from tenants.models import Partner, Tenant

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- walkthrough:"


def walkthrough_block() -> str:
    text = (ROOT / "README.md").read_text()
    after = text[text.index(MARKER):]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, "no sh block after the walkthrough marker"
    return match.group(1)


def test_the_block_is_found_and_changes_nothing_by_accident():
    block = walkthrough_block()
    assert "create_partner" in block and "/alignment" in block
    assert block.index('"entities": ["catalogs"]') < block.index("/alignment")      # catalogs before alignment
    assert "DELETE" not in block and "/replay" not in block                        # nothing changed by accident
    assert "..." not in block                                                        # no placeholder values


@pytest.mark.django_db(transaction=True)
def test_the_readme_walkthrough_runs(live_server, qbo_app, jaggaer_app, settings):
    settings.QBO_REDIRECT_URI = f"{live_server.url}/oauth/qbo/callback"
    database = dict(connection.settings_dict)
    url = (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/"
           f"{database['NAME']}")
    env = {**os.environ, "API": f"{live_server.url}/api/v1", "JAGGAER_URL": jaggaer_app.url, "DATABASE_URL": url,
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough_block()], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr[-3000:]}"

    partner = Partner.objects.get(name="Acme Portal")
    tenant = Tenant.objects.get(partner=partner, slug="dayton-castings")
    assert f"tenant {tenant.pk}" in output
    assert "jaggaer ping ok: True" in output
    assert "consent: connected" in output and "qbo ping ok: True" in output
    assert "catalogs: succeeded" in output
    assert JaggaerConnection.objects.get(tenant=tenant).status == ConnectionStatus.CONNECTED
    assert QboConnection.objects.get(tenant=tenant).status == ConnectionStatus.CONNECTED
    code = re.search(r"mapping (\S+): mapped", output).group(1)
    assert Mapping.objects.get(tenant=tenant, kind="gl_account", code=code).state == "mapped"
    assert "sync: succeeded" in output
    runs = SyncRun.objects.filter(tenant=tenant).order_by("created_at")
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    held = int(re.search(r"held: (\d+)", output).group(1))
    assert held > 0                      # the sandbox's dataset holds some records back, each with its reason
    assert "Date (UTC),Time (UTC),Run" in output

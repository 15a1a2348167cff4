import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tenants.models import Partner

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_documents_auth_errors_and_tenants(anon_client):
    response = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["PartnerApiKey"]["name"] == "Authorization"
    assert "Error" in schema["components"]["schemas"]
    operation = schema["paths"]["/api/v1/tenants"]["post"]
    assert operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "401" in operation["responses"]
    assert {"PartnerApiKey": []} in operation["security"]


def test_the_swagger_ui_is_served_locally(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    assert b"cdn.jsdelivr" not in response.content


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_the_database_is_unreachable():
    script = (
        "import django, json; django.setup();"
        "from django.test import Client; r = Client().get('/healthz');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": "postgres://postgres@127.0.0.1:1/unreachable"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    status, _, body = out.stdout.strip().partition(" ")
    assert status == "503", out.stderr[-2000:]
    assert json.loads(body)["checks"]["database"]["ok"] is False


def test_healthz_reports_the_broker_and_is_503_when_it_is_down(client):
    assert client.get("/healthz").json()["checks"]["broker"]["ok"] is True
    script = (
        "import django, json; django.setup();"
        "from django.test import Client; r = Client().get('/healthz');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    from django.db import connection

    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    status, _, body = out.stdout.strip().partition(" ")
    assert status == "503", out.stderr[-2000:]
    checks = json.loads(body)["checks"]
    assert checks["broker"]["ok"] is False
    assert checks["database"]["ok"] is True


def test_create_partner_prints_a_working_key_on_the_last_line(capsys):
    call_command("create_partner", "Acme Portal", "--return-origin", "https://portal.acme.example")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    partner = Partner.objects.get(name="Acme Portal")
    assert partner.return_url_origins == ["https://portal.acme.example"]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/tenants").status_code == 200


def test_create_partner_refuses_a_duplicate_name():
    from django.core.management.base import CommandError

    call_command("create_partner", "Twice")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_partner", "Twice")


@pytest.mark.long
def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/tenants/{tenant_id}/syncs" in (tmp_path / "schema.yaml").read_text()

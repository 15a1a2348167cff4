"""Production refuses to start with the repository's keys, weak keys, SQLite or DEBUG; each with a one-line reason."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "Zq8vN3xR7pL2mW9tK4yB6cH1jF5gD0sA-secret-key-for-tests"
STRONG_CREDENTIALS = "Xk2Lp9Qw4Er7Ty1Ui8Op3As6Df0Gh5Jk-credentials-key-test"


def start(code: str = "import django; django.setup(); print('started')", **overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY", "CREDENTIALS_KEY"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "ENVIRONMENT": "production", "DEBUG": "false",
                "SECRET_KEY": STRONG_SECRET, "CREDENTIALS_KEY": STRONG_CREDENTIALS,
                "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/mlc_production_check",
                "QBO_REDIRECT_URI": "https://connector.example.com/oauth/qbo/callback"})
    env.update(overrides)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    return last.removeprefix("django.core.exceptions.ImproperlyConfigured: ")


def test_a_strong_configuration_starts():
    result = start()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"SECRET_KEY": "dev-only-secret-key-not-for-production-use-0000000000000000"},
     "SECRET_KEY is the repository's development key"),
    ({"CREDENTIALS_KEY": "dev-only-credentials-key-not-for-production-use-000000000"},
     "CREDENTIALS_KEY is the repository's development key"),
    ({"CREDENTIALS_KEY": "x"}, "CREDENTIALS_KEY is 1 characters long; production needs at least 32"),
    ({"SECRET_KEY": "short-but-varied-Key-123"}, "SECRET_KEY is 24 characters long"),
    ({"CREDENTIALS_KEY": "ab" * 30}, "CREDENTIALS_KEY uses only 2 different characters"),
    ({"SECRET_KEY": "0123456789" * 4}, "SECRET_KEY uses only 10 different characters"),
    ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
    ({"CREDENTIALS_KEY": STRONG_SECRET}, "CREDENTIALS_KEY must differ from SECRET_KEY"),
    ({"DATABASE_URL": "sqlite:////tmp/mlc-production.sqlite3"}, "DATABASE_URL is SQLite"),
    ({"DEBUG": "true"}, "DEBUG must be false in production"),
    ({"OUTBOUND_ALLOW_PRIVATE_HOSTS": "true"}, "OUTBOUND_ALLOW_PRIVATE_HOSTS must be false in production"),
], ids=["dev-secret", "dev-credentials", "one-char-credentials", "short-secret", "low-variety-credentials",
        "digits-only-secret", "missing-secret", "same-keys", "sqlite", "debug", "allow-private-hosts"])
def test_production_refuses_with_a_one_line_reason(overrides, expected):
    message = refusal(start(**overrides))
    assert expected in message
    assert "\n" not in message


def test_development_keeps_working_with_the_embedded_defaults():
    result = start(ENVIRONMENT="development", SECRET_KEY="", CREDENTIALS_KEY="", DEBUG="true",
                   DATABASE_URL="sqlite:////tmp/mlc-development-check.sqlite3")
    assert result.returncode == 0, result.stderr


def test_production_sends_hsts_for_a_year_with_subdomains_and_no_preload():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
            "s.STAFF_REQUIRE_2FA, s.CACHES['default']['BACKEND'].rsplit('.', 1)[-1])")
    result = start(code, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["31536000", "True", "False", "True", "RedisCache"]


def test_an_unreadable_throttle_rate_is_refused_at_start_up():
    message = refusal(start(ENVIRONMENT="development", API_THROTTLE_PING="lots"))
    assert message.startswith("API_THROTTLE_PING must look like '30/minute'")


def test_production_installs_neither_the_sandboxes_nor_the_demo_and_logs_json():
    code = ("import django; django.setup(); from django.apps import apps; from django.conf import settings as s; "
            "print(apps.is_installed('sandbox'), apps.is_installed('demo'), s.LOG_FORMAT, "
            "s.STORAGES['staticfiles']['BACKEND'].rsplit('.', 1)[-1], "
            "'whitenoise.middleware.WhiteNoiseMiddleware' in s.MIDDLEWARE)")
    result = start(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "json", "CompressedManifestStaticFilesStorage", "True"]
    development = start(code, ENVIRONMENT="development")
    assert development.stdout.split()[:3] == ["True", "True", "plain"]


def test_a_weak_metrics_token_is_refused_in_production():
    message = refusal(start(METRICS_TOKEN="metrics"))
    assert message.startswith("METRICS_TOKEN is 7 characters long")


def test_no_variable_lets_production_call_the_loopback_sandboxes():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "from connections.clients.outbound import JAGGAER_POLICY as p; "
            "print(getattr(s, 'OUTBOUND_ALLOW_LOOPBACK_SANDBOXES', False), "
            "p.url_problem('http://127.0.0.1:8102') is None, p.url_problem('https://127.0.0.1:8102') is None)")
    result = start(code, OUTBOUND_ALLOW_LOOPBACK_SANDBOXES="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "False"]
    boot = start(code, DJANGO_SETTINGS_MODULE="config.settings_production_boot_test",
                 SANDBOX_QBO_URL="http://127.0.0.1:8101")
    assert boot.returncode == 0, boot.stderr
    assert boot.stdout.split() == ["True", "True", "True"]
    private = start("import django; django.setup(); from connections.clients.outbound import JAGGAER_POLICY as p; "
                    "print(p.url_problem('http://10.0.0.5'))",
                    DJANGO_SETTINGS_MODULE="config.settings_production_boot_test",
                    SANDBOX_QBO_URL="http://127.0.0.1:8101")
    assert "never calls" in private.stdout, private.stdout + private.stderr

"""`python manage.py demo` end to end, in a subprocess, as `make demo` runs it: SQLite, no broker, no Redis.

The demo has its own checks (exit status 0 only when all pass); these tests hold it to its word: the exit
status, the lines a newcomer is promised, its own database file, and a failed check turning into a
non-zero exit that names it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.demo

ROOT = Path(__file__).resolve().parent.parent


def run_demo(tmp_path: Path, *args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, Path, Path]:
    var = tmp_path / "var"
    var.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QBO_", "HTTP_", "REDIS"))}
    elsewhere = tmp_path / "from-database-url.sqlite3"
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{elsewhere}",   # what the demo must leave alone: it makes its own file
        "CELERY_BROKER_URL": "",
        "COLUMNS": "132",
    })
    demo_db = var / "demo.sqlite3"
    result = subprocess.run([sys.executable, "manage.py", "demo", "--database-file", str(demo_db), *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return result, demo_db, elsewhere


def test_the_demo_passes_every_check_and_says_so(tmp_path):
    result, demo_db, elsewhere = run_demo(tmp_path)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    for promised in (
        "A partner portal onboards its customer through the REST API",
        "POST  /api/v1/tenants  201",
        "/connections/qbo/authorize  201",
        "/oauth/qbo/callback  200",
        "ping jaggaer", "ping qbo",
        "alignment report",
        "first sync: succeeded",
        "second sync: succeeded",
        "Where to look next",
        "http://127.0.0.1:8000/admin/", "http://127.0.0.1:8000/api/docs/", "make serve",
    ):
        assert promised in out, f"missing {promised!r}"
    assert out.count("0 duplicate vendors, 0 duplicate bills") >= 2   # after each sync, computed from QBO
    for line in ("only the changes moved", "the 429 storm was absorbed", "the expired access token was refreshed",
                 "was released and written as a bill"):
        assert re.search(rf"✔ pass [^\n]*{re.escape(line)}", out), f"{line!r} did not pass"
    assert "FAIL" not in out
    passed = re.search(r"(\d+) of (\d+) checks passed in ([\d.]+) s", out)
    assert passed and passed.group(1) == passed.group(2) and int(passed.group(1)) >= 15, out[-2000:]
    assert float(passed.group(3)) < 120
    for table in ("created", "updated", "unchanged", "held", "failed"):
        assert table in out
    assert re.search(r"requests: QuickBooks \d+ .*JAGGAER \d+ .*time [\d.]+ s", out)
    # its own fresh SQLite file; DATABASE_URL's database is never created
    assert demo_db.exists() and not elsewhere.exists()


def test_a_failed_check_ends_the_demo_with_a_non_zero_exit_naming_it(tmp_path):
    result, _, _ = run_demo(tmp_path, "--dataset", "small", "--time-budget", "0.5")
    assert result.returncode != 0
    assert "✘ FAIL the demo took under 0.5 s" in result.stdout
    assert "demo failed: the demo took under 0.5 s" in result.stderr
    # every other check still passed: only the impossible time budget failed
    passed = re.search(r"(\d+) of (\d+) checks passed", result.stdout)
    assert passed and int(passed.group(1)) == int(passed.group(2)) - 1

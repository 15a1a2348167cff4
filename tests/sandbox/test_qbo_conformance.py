"""The shared conformance tool (real intuit-oauth and python-quickbooks clients) against our QBO sandbox."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.common.http import SandboxServer
from sandbox.qbo.app import QboApp
from sandbox.qbo.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


def _shared_tool() -> Path:
    """../shared/tools/qbo_conformance.py: the nearest `shared/` beside the checkout or one of its parents."""
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "tools" / "qbo_conformance.py"
        if candidate.exists():
            return candidate
    return Path("../shared/tools/qbo_conformance.py")


TOOL = Path(os.environ.get("QBO_CONFORMANCE_TOOL") or _shared_tool())

pytestmark = [
    pytest.mark.skipif(not TOOL.exists(), reason=f"conformance tool not found at {TOOL}"),
    pytest.mark.skipif(importlib.util.find_spec("quickbooks") is None or importlib.util.find_spec("intuitlib") is None,
                       reason="python-quickbooks and intuit-oauth are not installed (requirements-dev.txt)"),
    pytest.mark.long,
]


def test_the_conformance_tool_reports_no_failure_and_no_warning():
    # A fresh company with QBO's limits, including its 10 requests/second per realm and app, so the
    # tool's 80-request burst meets a 429 the way it would at Intuit.
    server = SandboxServer(QboApp()).start()
    try:
        server.app.set_limits(requests_per_second=10)
        expired = server.app.issue_tokens(access_lifetime=0)["access_token"]
        u = server.url
        cmd = [sys.executable, str(TOOL), "--api-base", u, "--authorize-url", u + "/connect/oauth2",
               "--token-url", u + "/oauth2/v1/tokens/bearer", "--revoke-url", u + "/v2/oauth2/tokens/revoke",
               "--client-id", DEFAULT_CLIENT_ID, "--client-secret", DEFAULT_CLIENT_SECRET,
               "--redirect-uri", "https://app.example/callback", "--insecure-http", "--expired-token", expired,
               "--timeout", "30"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    finally:
        server.stop()
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[-1].endswith(" 0 failed"), done.stdout
    assert not [ln for ln in lines if ln.startswith(("FAIL", "WARN"))], done.stdout
    assert int(lines[-1].split()[0]) >= 31, done.stdout

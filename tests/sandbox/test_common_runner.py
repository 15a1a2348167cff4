"""start_sandboxes, the pytest fixtures, and `manage.py sandbox` run as a real process."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandbox.runner import start_sandboxes

ROOT = Path(__file__).resolve().parents[2]


def test_start_sandboxes_runs_both_on_free_ports_with_one_dataset():
    sb = start_sandboxes("small", seed=42)
    try:
        assert sb.qbo_url != sb.jaggaer_url
        assert sb.qbo.find("Vendor", DisplayName="harbor springs inc.")
        assert sb.jaggaer is not None and sb.jaggaer_server.url == sb.jaggaer_url
        tokens = sb.qbo.issue_tokens()
        realm = tokens["realm_id"]
        resp = requests.get(f"{sb.qbo_url}/v3/company/{realm}/companyinfo/{realm}", params={"minorversion": "75"},
                            headers={"Authorization": "Bearer " + tokens["access_token"]})
        assert resp.status_code == 200
        sb.qbo.create("Vendor", {"DisplayName": "Gone After Reset"})
        sb.qbo_server.faults.inject("500")
        sb.reset("small", seed=42)
        assert sb.qbo.find("Vendor", DisplayName="Gone After Reset") == []
        assert sb.qbo_server.faults.rules() == [] and sb.qbo_server.log.entries() == []
    finally:
        sb.stop()


def test_qbo_limits_can_be_switched_off_for_a_benchmark():
    sb = start_sandboxes(None, qbo_limits={"requests_per_minute": None, "concurrent": None,
                                           "batches_per_minute": None})
    try:
        assert vars(sb.qbo.realm().limits)["requests_per_minute"] is None
        assert sb.qbo.create_realm().limits.concurrent is None                 # realms made later too
        assert sb.qbo.find("Account", Name="Accounts Payable (A/P)")           # empty company: starter chart
    finally:
        sb.stop()


def test_the_fixtures_hand_out_reset_servers(qbo_sandbox, jaggaer_sandbox):
    assert qbo_sandbox.url.startswith("http://127.0.0.1:") and jaggaer_sandbox.url != qbo_sandbox.url
    assert qbo_sandbox.log.entries() == [] and qbo_sandbox.faults.rules() == []
    assert len(qbo_sandbox.app.state("Vendor")) == 5


_TGKILL = {"x86_64": 234, "aarch64": 131}     # Linux's tgkill: a signal to one thread of a process


def _ctrl_c_to_a_server_thread(pid: int) -> None:
    """Ctrl-C as the kernel may deliver it: to a thread other than the main one (here, one of the servers')."""
    import ctypes

    tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    assert tids, "the sandbox runs its servers on threads"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(_TGKILL[os.uname().machine], pid, tids[0], signal.SIGINT) == 0


@pytest.mark.parametrize("ctrl_c_to", ["process", "server thread"])
def test_manage_py_sandbox_prints_urls_and_credentials_and_stops_on_ctrl_c(ctrl_c_to):
    if ctrl_c_to == "server thread" and (sys.platform != "linux" or os.uname().machine not in _TGKILL):
        pytest.skip("a signal to one thread needs Linux's tgkill")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}   # SIGABRT prints every thread's stack
    proc = subprocess.Popen([sys.executable, "manage.py", "sandbox", "--qbo-port", "0", "--jaggaer-port", "0",
                             "--dataset", "small"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "ml-sandbox-client / ml-sandbox-secret" in text, text
        assert "ml-sandbox-jaggaer / ml-sandbox-jaggaer-secret" in text, text
        qbo_url = re.search(r"QBO sandbox\s+(http://127\.0\.0\.1:\d+)", text).group(1)
        resp = requests.get(qbo_url + "/connect/oauth2", allow_redirects=False, params={
            "client_id": "ml-sandbox-client", "response_type": "code", "redirect_uri": "https://x.example/cb",
            "scope": "com.intuit.quickbooks.accounting", "state": "s"})
        assert resp.status_code == 302
        if ctrl_c_to == "process":
            proc.send_signal(signal.SIGINT)
        else:
            _ctrl_c_to_a_server_thread(proc.pid)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            pytest.fail("the sandbox did not stop on Ctrl-C; where it was:\n" + proc.communicate(timeout=10)[0][-6000:])
        assert code == 0, proc.stdout.read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""The production stack booted the way an operator runs it: `bin/ml-connector migrate|check|web|worker|beat`
in production settings, on PostgreSQL and each supported broker, with QuickBooks and JAGGAER at the sandboxes.

A partner onboards a tenant over HTTP (gunicorn), beat's dispatcher starts the tenant's daily sync, a
SIGTERM stops the worker in the middle of it (the run stops between batches and a new run continues it once
a worker is back), nothing is duplicated in QuickBooks, the admin's CSS is served, /metrics and
/healthz/ready answer, every process writes JSON log lines with the ids, and all of it stops cleanly.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from audit.models import RecordEvent
from core.tenancy import unscoped
from demo.portal import follow_browser_redirects
from sync.models import SyncRun
from tenants.models import Tenant
from tests.connections.support import JAGGAER_CLIENT_ID, JAGGAER_CLIENT_SECRET, QBO_CLIENT_ID, QBO_CLIENT_SECRET
from tests.sync.workers import BROKERS, Broker, use_broker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "bin" / "ml-connector")
SECRET_KEY = "Pq7Zt2Vw9Ks4Lm1Nx8Bc3Hd6Fg0Jr5Ty-boot-test-secret-key"
CREDENTIALS_KEY = "Wk3Ez8Rq1Yu6Io9Pa2Sd5Fg7Hj0Kl4Zx-boot-test-credentials"
METRICS_TOKEN = "Mt5Rb8Qw2Ez7Xc1Vn4Lp9Ks3Hd6Gf0Ja-boot-test-metrics"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """The processes of one deployment, each started by the entry script, each with its own log file."""

    def __init__(self, env: dict, log_dir: Path):
        self.env, self.log_dir, self.procs = env, log_dir, {}

    def run(self, command: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([SCRIPT, command, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, name: str, command: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([SCRIPT, command, *args], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs[name] = (proc, log)
        return proc

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()

    def stop(self, name: str, timeout: float = 60) -> int:
        proc, log = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name, timeout=20)


def _json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def _no_duplicates(qbo_sandbox):
    app = qbo_sandbox.app
    names = Counter(v["DisplayName"].casefold() for v in app.state("Vendor"))
    assert [n for n, c in names.items() if c > 1] == []
    bills = Counter((b.get("DocNumber"), b["VendorRef"]["value"]) for b in app.state("Bill"))
    assert [b for b, c in bills.items() if c > 1] == []
    pos = Counter(p.get("DocNumber") for p in app.state("PurchaseOrder"))
    assert [p for p, c in pos.items() if c > 1] == []
    return len(names)


@pytest.fixture(params=BROKERS)
def stack(request, tmp_path, qbo_sandbox, jaggaer_sandbox):
    broker = Broker(request.param)
    use_broker(broker.url, broker.options)
    broker.flush()
    from django.db import connection

    db = connection.settings_dict
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings_production_boot_test",
        "ENVIRONMENT": "production", "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY, "CREDENTIALS_KEY": CREDENTIALS_KEY, "METRICS_TOKEN": METRICS_TOKEN,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        **broker.env,
        "SANDBOX_QBO_URL": qbo_sandbox.url, "QBO_CLIENT_ID": QBO_CLIENT_ID, "QBO_CLIENT_SECRET": QBO_CLIENT_SECRET,
        "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false", "STATIC_ROOT": str(tmp_path / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CELERY_WORKER_CONCURRENCY": "1", "SYNC_DISPATCH_INTERVAL_SECONDS": "2", "OPS_HEARTBEAT_SECONDS": "2",
        "HTTP_BACKOFF_BASE": "0.01", "HTTP_BACKOFF_CAP": "0.05", "HTTP_THROTTLE_DEFAULT_WAIT": "0.05",
    })
    running = Stack(env, tmp_path)
    running.url = f"http://127.0.0.1:{port}"
    running.broker = broker
    yield running
    running.stop_all()
    broker.flush()
    use_broker(None)


def _get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=30, **kwargs)   # the machine may be busy with other work


def _up(url: str) -> bool:
    try:
        return _get(url).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_production_stack_boots_syncs_on_schedule_and_stops_cleanly(stack, alice, qbo_sandbox,
                                                                         jaggaer_sandbox):
    # -- one-shot steps: migrate, then the deployment checks
    migrated = stack.run("migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    checked = stack.run("check")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-3000:]
    assert "database: ok" in checked.stdout and "broker: ok" in checked.stdout

    # -- the web: collectstatic, then gunicorn on $PORT
    stack.start("web", "web")
    wait_for(lambda: _up(f"{stack.url}/healthz/live"), timeout=90, what="gunicorn")

    # -- a partner onboards its customer over HTTP
    api = requests.Session()
    api.headers.update({"Authorization": f"Api-Key {alice.key}", "Accept": "application/json"})
    created = api.post(f"{stack.url}/api/v1/tenants", json={"name": "Boot Test Co", "slug": "boot-test",
                                                             "time_zone": "UTC", "sync_hour": 2}, timeout=30)
    assert created.status_code == 201, created.text
    tenant_id = created.json()["id"]
    base = f"{stack.url}/api/v1/tenants/{tenant_id}"
    jaggaer = api.put(f"{base}/connections/jaggaer", json={"api_base_url": jaggaer_sandbox.url,
                                                           "client_id": JAGGAER_CLIENT_ID,
                                                           "client_secret": JAGGAER_CLIENT_SECRET}, timeout=30)
    assert jaggaer.status_code == 200, jaggaer.text
    start = api.post(f"{base}/connections/qbo/authorize", json={}, timeout=30)
    assert start.status_code in (200, 201), start.text
    _hops, answer = follow_browser_redirects(start.json()["authorization_url"])
    assert isinstance(answer, dict) and answer.get("status") == "connected", answer
    assert api.post(f"{base}/connections/jaggaer/ping", timeout=30).json()["ok"] is True

    # -- the tenant's daily hour has come; beat's dispatcher (not a direct call) queues its run
    with unscoped("the test moves the tenant's next daily run to now"):
        Tenant.objects.filter(pk=tenant_id).update(next_sync_at=timezone.now())
    vendors_before = len(qbo_sandbox.app.state("Vendor"))
    qbo_sandbox.faults.set_latency(150)   # slow enough for the SIGTERM to come in the middle of the run
    stack.start("worker", "worker")
    stack.start("beat", "beat")

    def scheduled_run():
        with unscoped("the test watches the tenant's runs"):
            return SyncRun.objects.filter(tenant_id=tenant_id, trigger="schedule").order_by("created_at").first()

    first = wait_for(scheduled_run, timeout=120, what="beat's dispatcher to queue the scheduled run")
    with unscoped("the test watches the run's audit rows"):
        wait_for(lambda: RecordEvent.objects.filter(run_id=first.pk, entity="suppliers").exists(), timeout=120,
                 interval=0.05,
                 what="the first batch of the scheduled run")

    # -- SIGTERM: the run stops between batches, the worker exits cleanly, a new run continues it
    assert stack.stop("worker", timeout=60) == 0, stack.log("worker")[-3000:]
    with unscoped("the test reads the runs"):
        first.refresh_from_db()
        assert first.status == "cancelled" and first.error_code == "worker_stopped", \
            (first.status, first.error_code, stack.log("worker")[-4000:])
        follow = SyncRun.objects.filter(tenant_id=tenant_id, trigger="schedule").exclude(pk=first.pk).get()
        assert follow.status == "queued"
    qbo_sandbox.faults.set_latency(0)
    stack.start("worker2", "worker")

    def finished():
        with unscoped("the test watches the run"):
            run = SyncRun.objects.get(pk=follow.pk)
        return run if run.status not in ("queued", "running") else None

    done = wait_for(finished, timeout=240, what="the continuing run")
    assert done.status == "succeeded", (done.error_code, done.error_message, stack.log("worker2")[-3000:])
    # What the stopped run created is not created again: each vendor once, and as many as both runs counted.
    created = done.counts["suppliers"].get("created", 0) + first.counts.get("suppliers", {}).get("created", 0)
    assert created > 0
    assert _no_duplicates(qbo_sandbox) == vendors_before + created

    # -- the admin's CSS is served (WhiteNoise, collected at start-up, hashed names)
    login = _get(f"{stack.url}/admin/login/")
    assert login.status_code == 200
    css = re.findall(r'href="(/static/[^"]+\.css)"', login.text)
    assert css, login.text[:1000]
    sheet = _get(stack.url + css[0])
    assert sheet.status_code == 200 and sheet.headers["Content-Type"].startswith("text/css")
    assert re.search(r"\.[0-9a-f]{12}\.css$", css[0])

    # -- /metrics (behind its token) shows the runs of every process; /healthz/ready sees worker and beat
    assert _get(f"{stack.url}/metrics").status_code == 404
    scraped = _get(f"{stack.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    assert re.search(r'mlc_sync_runs_total\{status="succeeded",trigger="schedule"\} 1\.0', scraped.text) or \
        re.search(r'mlc_sync_runs_total\{trigger="schedule",status="succeeded"\} 1\.0', scraped.text), scraped.text
    assert 'mlc_sync_records_total{entity="suppliers"' in scraped.text
    assert "django_http_requests_total_by_method_total" in scraped.text
    assert re.search(r'django_db_execute_total\{alias="default",vendor="postgresql"\} [1-9]', scraped.text)
    answers = []

    def ready():
        answers.append(_get(f"{stack.url}/healthz/ready"))
        return answers[-1].status_code == 200

    wait_for(ready, timeout=60, interval=1, what=f"/healthz/ready: {answers[-1].text if answers else ''}")
    assert {name for name, c in answers[-1].json()["checks"].items() if c["ok"]} >= \
        {"database", "broker", "redis", "worker", "beat"}

    # -- JSON lines with the ids; the access log has no OAuth code or state
    worker_lines = _json_lines(stack.log("worker2"))
    run_lines = [line for line in worker_lines if line.get("run_id") == str(follow.pk)]
    assert run_lines and all(line["tenant"] == tenant_id for line in run_lines), worker_lines[-5:]
    web = stack.log("web")
    assert "/oauth/qbo/callback" in web
    assert "code=" not in web and "state=" not in web
    assert re.search(r"request_id=[0-9a-f]{32}", web)

    # -- everything stops cleanly on SIGTERM
    for name in ("web", "beat", "worker2"):
        assert stack.stop(name) == 0, stack.log(name)[-3000:]

"""A fleet of tenants' daily runs: real Celery workers on the real broker, the real dispatcher, the sandboxes.

    python bench/fleet_bench.py [--tenants 200] [--onboarding K] [--workers 2] [--pool threads]
                                [--concurrency 64] [--latency 150 | --latency 100-400] [--json var/fleet.json]

Each tenant has its own QBO realm at Intuit's per-realm limits, created through the QBO sandbox's public control
API with a company seeded from a generated dataset, and reads one JAGGAER sandbox (the `small` dataset at
`--scale`: every small tenant sees the same suppliers, POs and invoices and the same daily changes). `--onboarding
K` adds K tenants whose first load of the `demo` dataset (a second JAGGAER server) starts with the daily runs.

Steps: the sandboxes in a process of their own; a scratch PostgreSQL database (`--database-url`, emptied); every
small tenant's first load through the workers at no latency (not measured); then measured rounds, each with fresh
worker processes: `no-change` (nothing changed anywhere), `daily` (about `--changes` of JAGGAER's records changed,
the bench's mutation helper), and with K > 0 `daily+onboarding` (changed again, and the K first loads due at the
same moment). In each round every tenant is made due and the real dispatcher (`dispatch_due_syncs`) queues the runs.

Printed and written as JSON per round: dispatch to all-done; due-to-done p50/p95/p99 of the small tenants; runs a
minute per worker process; QBO requests per run (reads, fixed whatever changed, and writes per changed record);
429s; the busiest realm-minute against the realm's budget; worker CPU core-seconds and RSS per run and per process;
PostgreSQL connections (most at once) and transactions per run; the machine's load beside them (the machine may be
shared: its load average and the CPU other processes used are recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench.procstat import machine_busy, proc_children, proc_stat  # noqa: E402 (after the path is set)

REAL_LIMITS = {"requests_per_minute": 500, "concurrent": 10, "batches_per_minute": 40, "requests_per_second": 10}


# ============================================================================ the sandboxes' process

def serve(args) -> None:
    """The QBO sandbox (realms come through its control API) and two JAGGAER sandboxes; commands on stdin."""
    from sandbox_proc import mutate

    from sandbox.common.http import SandboxServer
    from sandbox.datagen import load_dataset
    from sandbox.jaggaer.app import JaggaerApp
    from sandbox.qbo.app import QboApp

    qbo = QboApp()
    qbo.reset(None)
    qbo_server = SandboxServer(qbo).start()
    small = JaggaerApp()
    small.reset(load_dataset("small", args.seed, args.scale))
    small_server = SandboxServer(small).start()
    demo = JaggaerApp()
    demo.reset(load_dataset(args.onboarding_dataset, args.seed, 1.0))
    demo_server = SandboxServer(demo).start()
    print(json.dumps({"qbo_url": qbo_server.url, "jaggaer_url": small_server.url, "onboarding_url": demo_server.url,
                      "pid": os.getpid()}), flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            try:
                if words[0] == "mutate":
                    answer = mutate(small, float(words[1]))
                elif words[0] == "log":
                    answer = {"entries": [[e["path"], e["endpoint"], e["status"], e["at"]]
                                          for e in qbo_server.log.entries()]}
                elif words[0] == "clear":
                    qbo_server.log.clear()
                    answer = {"cleared": True}
                else:
                    answer = {"error": f"unknown command {words[0]!r}"}
            except Exception as e:  # noqa: BLE001 - reported to the caller
                answer = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(answer), flush=True)
    finally:
        for server in (qbo_server, small_server, demo_server):
            server.stop()


class Sandboxes:
    def __init__(self, args):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--scale", str(args.scale), "--seed", str(args.seed),
             "--onboarding-dataset", args.onboarding_dataset],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "ERROR"})
        self.info = json.loads(self.proc.stdout.readline())
        self.qbo_url, self.jaggaer_url = self.info["qbo_url"], self.info["jaggaer_url"]
        self.onboarding_url = self.info["onboarding_url"]

    def command(self, text: str) -> dict:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        import requests

        response = requests.request(method, f"{self.qbo_url}/_sandbox/{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        try:
            self.command("quit")
        except Exception:  # noqa: BLE001
            pass
        self.proc.wait(timeout=30)


# ============================================================================ workers and processes

class Workers:
    """`count` Celery worker processes (no -Q: every configured queue), with their pool processes if prefork."""

    def __init__(self, count: int, pool: str, concurrency: int, env: dict, log_dir: Path, tag: str,
                 bulk_worker: bool = False):
        """With `bulk_worker`, the `count` processes consume `sync,default` and one more process, at a lower
        CPU priority (nice 10), consumes `bulk` alone."""
        self.procs = []
        self.logs = []
        specs = [([], []) for _ in range(count)]
        if bulk_worker:
            specs = [(["-Q", "sync,default"], []) for _ in range(count)] + [(["-Q", "bulk"], ["nice", "-n", "10"])]
        for n, (queues, prefix) in enumerate(specs):
            log_path = log_dir / f"worker-{tag}-{n}.log"
            log = open(log_path, "w")  # noqa: SIM115
            pool_args = ["-P", pool] + ([] if pool == "solo" else ["-c", str(concurrency)])
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "celery", "-A", "config", "worker", *queues, *pool_args,
                 "-n", f"fleet{tag}{n}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat",
                 "-l", "INFO"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(proc)
            self.logs.append((log_path, log))
        deadline = time.monotonic() + 120
        for (path, _), proc in zip(self.logs, self.procs, strict=True):
            while "ready." not in path.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"a worker did not start:\n{path.read_text()[-3000:]}")
                time.sleep(0.2)
        self.rss_max: dict[int, float] = {}

    def pids(self) -> list[int]:
        out = []
        for proc in self.procs:
            out.append(proc.pid)
            out += proc_children(proc.pid)
        return out

    def cpu(self) -> float:
        return sum(proc_stat(pid)[0] for pid in self.pids())

    def sample_rss(self) -> None:
        for pid in self.pids():
            rss = proc_stat(pid)[1]
            self.rss_max[pid] = max(rss, self.rss_max.get(pid, 0.0))

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        for _, log in self.logs:
            log.close()


# ============================================================================ our side

def setup_django(args, sb: Sandboxes, prefix: str) -> dict:
    from sandbox.qbo.app import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
    from sandbox.qbo.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    url = sb.qbo_url
    qbo = {"QBO_CLIENT_ID": DEFAULT_CLIENT_ID, "QBO_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
           "QBO_REDIRECT_URI": "http://127.0.0.1/oauth/qbo/callback", "QBO_AUTHORIZE_URL": url + AUTHORIZE_PATH,
           "QBO_TOKEN_URL": url + TOKEN_PATH, "QBO_REVOKE_URL": url + REVOKE_PATH, "QBO_API_BASE": url}
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": args.database_url, "LOG_LEVEL": "WARNING",
           "DEBUG": "false", "OUTBOUND_ALLOW_PRIVATE_HOSTS": "true", "CELERY_BROKER_URL": args.broker_url,
           "CELERY_BROKER_KEY_PREFIX": prefix, **qbo}
    os.environ.update(env)
    from sync_bench import _ensure_database

    _ensure_database(args.database_url)
    import django

    django.setup()
    from django.apps import apps
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    ours = [m._meta.db_table for app in ("tenants", "connections", "sync", "audit")
            for m in apps.get_app_config(app).get_models()]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(ours)} CASCADE")
    return env


def make_tenants(sb: Sandboxes, count: int, *, dataset: str, scale: float, jaggaer_url: str, label: str,
                 realm_base: int) -> list:
    import datetime as dt

    from django.utils import timezone

    from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
    from sandbox.jaggaer.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from tenants.models import Partner, Tenant

    partner = Partner.objects.create(name=f"Fleet {label}")
    now = timezone.now()
    later = now + dt.timedelta(days=365)
    tenants = Tenant.objects.bulk_create([
        Tenant(partner=partner, name=f"Fleet {label} {n}", slug=f"fleet-{label}-{n}", next_sync_at=later)
        for n in range(count)])
    qbo_rows, jaggaer_rows = [], []
    for n, tenant in enumerate(tenants):
        realm_id = str(realm_base + n)
        sb.control("POST", "realms", {"realm_id": realm_id, "dataset": {"name": dataset, "scale": scale},
                                      "limits": REAL_LIMITS})
        tokens = sb.control("POST", "tokens/issue", {"realm_id": realm_id})
        qbo_rows.append(QboConnection(
            tenant=tenant, realm_id=realm_id, access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"], access_token_expires_at=now + dt.timedelta(seconds=3600),
            refresh_token_expires_at=now + dt.timedelta(days=100), last_refreshed_at=now, connected_at=now,
            status=ConnectionStatus.CONNECTED))
        jaggaer_rows.append(JaggaerConnection(tenant=tenant, api_base_url=jaggaer_url, client_id=DEFAULT_CLIENT_ID,
                                              client_secret=DEFAULT_CLIENT_SECRET, status=ConnectionStatus.CONNECTED))
    QboConnection.objects.bulk_create(qbo_rows, batch_size=500)
    JaggaerConnection.objects.bulk_create(jaggaer_rows, batch_size=500)
    return tenants


def _pg(sql: str, params=()) -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def pg_connections() -> int:
    return _pg("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND pid <> pg_backend_pid()")[0][0]


def pg_transactions() -> int:
    return _pg("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")[0][0]


def pg_size_mb() -> float:
    return _pg("SELECT pg_database_size(current_database())")[0][0] / 2**20


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def run_round(name: str, *, args, sb: Sandboxes, env: dict, small: list, onboarding: list, log_dir: Path) -> dict:
    from django.utils import timezone

    from core.tenancy import unscoped
    from sync.models import SyncRun
    from sync.runs.schedule import dispatch_due_syncs
    from tenants.models import Tenant

    mutation = sb.command(f"mutate {args.changes}") if name != "no-change" else {}
    low, _, high = args.latency.partition("-")
    sb.control("POST", "latency", {"ms": float(low), "max_ms": float(high) if high else None})
    workers = Workers(args.workers, args.pool, args.concurrency, env, log_dir, name.replace("+", "-"),
                      bulk_worker=args.bulk_worker)
    try:
        sb.command("clear")
        due = small + onboarding
        with unscoped("the bench makes every tenant due"):
            Tenant.objects.filter(pk__in=[t.pk for t in due]).update(next_sync_at=timezone.now())
        time.sleep(1.0)
        load_before = os.getloadavg()
        busy0, total0 = machine_busy()
        cpu0, xact0 = workers.cpu(), pg_transactions()
        started = timezone.now()
        t0 = time.perf_counter()
        with unscoped("the bench dispatches"):
            dispatched = dispatch_due_syncs()
        dispatch_s = time.perf_counter() - t0
        connections_max, small_ids = 0, {t.pk for t in small}
        deadline = t0 + args.timeout
        while True:
            workers.sample_rss()
            connections_max = max(connections_max, pg_connections())
            with unscoped("the bench watches every run"):
                open_runs = SyncRun.objects.filter(created_at__gte=started, status__in=["queued", "running"]).count()
            if open_runs == 0 or time.perf_counter() > deadline:
                break
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        cpu = workers.cpu() - cpu0
        busy1, total1 = machine_busy()
        xacts = pg_transactions() - xact0
        load_after = os.getloadavg()
        with unscoped("the bench reads every run"):
            runs = list(SyncRun.objects.filter(created_at__gte=started).select_related("tenant__qbo_connection"))
    finally:
        workers.stop()
    small_runs = [r for r in runs if r.tenant_id in small_ids]
    due_to_done = [(r.finished_at - started).total_seconds() for r in small_runs if r.finished_at]
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    changed = []
    for r in small_runs:
        changed.append(sum(v for counts in r.counts.values() if isinstance(counts, dict)
                           for k, v in counts.items() if k in ("created", "updated") and isinstance(v, int)))
    # QBO requests, from the sandbox's log, per realm
    entries = sb.command("log")["entries"]
    small_realms = {r.tenant.qbo_connection.realm_id for r in small_runs}
    per_realm: dict[str, dict[str, int]] = {}
    minutes: dict[tuple[str, int], int] = {}
    throttled = 0
    for path, endpoint, status, at in entries:
        if "/v3/company/" not in path:
            continue
        realm = path.split("/v3/company/")[1].split("/")[0]
        kind = endpoint.split("/{realm}")[-1].split("?")[0]
        kind = "/query" if kind.startswith("/query") else kind
        kind = f"{'GET' if kind in ('/cdc', '/preferences', '/query') else 'POST'} {kind}"
        per_realm.setdefault(realm, {})
        per_realm[realm][kind] = per_realm[realm].get(kind, 0) + 1
        minutes[(realm, int(at // 60))] = minutes.get((realm, int(at // 60)), 0) + 1
        throttled += status == 429
    small_requests = [sum(per_realm.get(realm, {}).values()) for realm in small_realms]
    reads = sum(n for realm in small_realms for k, n in per_realm.get(realm, {}).items() if k.startswith("GET"))
    writes = sum(n for realm in small_realms for k, n in per_realm.get(realm, {}).items() if k.startswith("POST"))
    by_kind: dict[str, int] = {}
    for realm in small_realms:
        for kind, n in per_realm.get(realm, {}).items():
            by_kind[kind] = by_kind.get(kind, 0) + n
    processes = len(workers.rss_max)
    n_runs = max(1, len(runs))
    busy = busy1 - busy0
    return {
        "round": name, "tenants": len(small), "onboardings": len(onboarding), "mutation": mutation,
        "dispatch": dispatched, "dispatch_seconds": round(dispatch_s, 2),
        "dispatch_to_all_done_s": round(wall, 1), "statuses": statuses,
        "small_due_to_done_s": {"p50": round(percentile(due_to_done, 50), 1),
                                "p95": round(percentile(due_to_done, 95), 1),
                                "p99": round(percentile(due_to_done, 99), 1),
                                "max": round(max(due_to_done, default=0), 1)},
        "onboarding_done_s": sorted(round((r.finished_at - started).total_seconds(), 1) for r in runs
                                    if r.tenant_id not in small_ids and r.finished_at),
        "worker_processes": processes,
        "runs_per_min_per_process": round(len(runs) / (wall / 60) / max(1, processes), 1),
        "qbo_requests_per_small_run": {
            "mean": round(statistics.mean(small_requests), 2) if small_requests else 0,
            "max": max(small_requests, default=0),
            "reads_fixed": round(reads / max(1, len(small_runs)), 2),
            "writes": round(writes / max(1, len(small_runs)), 2),
            "changed_records_per_run": round(statistics.mean(changed), 1) if changed else 0,
            "writes_per_changed_record": round(writes / max(1, sum(changed)), 3),
            "by_kind": by_kind},
        "qbo_429s": throttled,
        "busiest_realm_minute": {"requests": max(minutes.values(), default=0),
                                 "budget": REAL_LIMITS["requests_per_minute"]},
        "worker_cpu_core_s": round(cpu, 1), "cpu_core_s_per_run": round(cpu / n_runs, 3),
        "worker_rss_mb_per_process": {"max": round(max(workers.rss_max.values(), default=0), 1),
                                      "sum": round(sum(workers.rss_max.values()), 1)},
        "rss_mb_per_concurrent_slot": round(sum(workers.rss_max.values())
                                            / max(1, args.workers * args.concurrency), 2),
        "pg_connections_max": connections_max, "pg_transactions_per_run": round(xacts / n_runs, 1),
        "machine": {"load_avg_before": [round(x, 2) for x in load_before],
                    "load_avg_after": [round(x, 2) for x in load_after],
                    "busy_core_s": round(busy, 1),
                    "cores": os.cpu_count(), "wall_core_s": round((total1 - total0), 1),
                    "other_processes_core_s": round(busy - cpu, 1)},
    }


def print_round(r: dict) -> None:
    q = r["qbo_requests_per_small_run"]
    d = r["small_due_to_done_s"]
    m = r["machine"]
    print(f"\n== {r['round']}: {r['tenants']} tenants + {r['onboardings']} onboardings, "
          f"{r['worker_processes']} worker processes")
    print(f"  dispatch {r['dispatch_seconds']} s; dispatch to all done {r['dispatch_to_all_done_s']} s; "
          f"statuses {r['statuses']}")
    print(f"  small tenants due-to-done p50 {d['p50']} s, p95 {d['p95']} s, p99 {d['p99']} s, max {d['max']} s")
    if r["onboarding_done_s"]:
        print(f"  onboardings done after {r['onboarding_done_s']} s")
    print(f"  runs/min per worker process {r['runs_per_min_per_process']}")
    print(f"  QBO requests per small run: mean {q['mean']}, max {q['max']} (reads {q['reads_fixed']}, writes "
          f"{q['writes']}; {q['changed_records_per_run']} records changed a run, "
          f"{q['writes_per_changed_record']} writes per changed record) {q['by_kind']}")
    print(f"  429s {r['qbo_429s']}; busiest realm-minute {r['busiest_realm_minute']['requests']} of "
          f"{r['busiest_realm_minute']['budget']}")
    print(f"  worker CPU {r['worker_cpu_core_s']} core-s = {r['cpu_core_s_per_run']} a run; RSS per process max "
          f"{r['worker_rss_mb_per_process']['max']} MB, all {r['worker_rss_mb_per_process']['sum']} MB "
          f"({r['rss_mb_per_concurrent_slot']} MB a slot)")
    print(f"  PostgreSQL: {r['pg_connections_max']} connections at most, {r['pg_transactions_per_run']} "
          f"transactions a run")
    print(f"  machine: {m['cores']} cores, load {m['load_avg_before']} -> {m['load_avg_after']}, busy "
          f"{m['busy_core_s']} of {m['wall_core_s']} core-s, of which other processes {m['other_processes_core_s']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--onboarding", type=int, default=0, help="big tenants' first loads during a daily round")
    parser.add_argument("--onboarding-dataset", default="demo")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--pool", default="threads", choices=["threads", "prefork", "solo", "gevent"])
    parser.add_argument("--concurrency", type=int, default=64, help="slots per worker process")
    parser.add_argument("--bulk-worker", action="store_true",
                        help="one more worker process, at nice 10, for the bulk queue alone (the others: sync)")
    parser.add_argument("--db-pool", type=int, default=8, help="PostgreSQL connections per worker process (threads)")
    parser.add_argument("--latency", default="150", help="QBO latency in ms: 150, or a range 100-400")
    parser.add_argument("--scale", type=float, default=1.0, help="the small tenants' JAGGAER dataset scale")
    parser.add_argument("--changes", type=float, default=0.05, help="fraction of JAGGAER records changed a day")
    parser.add_argument("--rounds", default="no-change,daily",
                        help="rounds to measure, of no-change, daily, daily+onboarding (added when --onboarding > 0); "
                             "each daily round changes JAGGAER again, so compare onboarding on/off from two "
                             "invocations with the same rounds")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mlc_bench_fleet")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--json", default=str(ROOT / "var" / "fleet_bench.json"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    prefix = f"mlc-fleet-{uuid.uuid4().hex[:8]}:"
    log_dir = Path(args.json).parent / "fleet_logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    sb = Sandboxes(args)
    results = {"args": {k: v for k, v in vars(args).items() if k != "serve"}, "rounds": []}
    try:
        env = setup_django(args, sb, prefix)
        worker_env = {**os.environ, **env, "LOG_LEVEL": "WARNING", "DJANGO_ALLOW_ASYNC_UNSAFE": "true"}
        if args.pool in ("threads", "gevent"):
            worker_env["DB_POOL_MAX_SIZE"] = str(args.db_pool)
        realm_base = 9_400_000_000_000_000 + int(time.time()) % 1_000_000 * 1000
        t = time.perf_counter()
        small = make_tenants(sb, args.tenants, dataset="small", scale=args.scale, jaggaer_url=sb.jaggaer_url,
                             label="small", realm_base=realm_base)
        onboarding = make_tenants(sb, args.onboarding, dataset=args.onboarding_dataset, scale=1.0,
                                  jaggaer_url=sb.onboarding_url, label="onboarding",
                                  realm_base=realm_base + 500_000) if args.onboarding else []
        print(f"{len(small)} tenants and {len(onboarding)} onboardings with their realms in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
        # the small tenants' first loads (not measured): at no latency, every slot may take one
        sb.control("POST", "latency", {"ms": 0})
        warm = Workers(args.workers, args.pool, args.concurrency,
                       {**worker_env, "SYNC_BULK_SLOTS": str(max(1, args.concurrency))}, log_dir, "warmup")
        try:
            from django.utils import timezone

            from core.tenancy import unscoped
            from sync.models import SyncRun
            from sync.runs.schedule import dispatch_due_syncs
            from tenants.models import Tenant

            t = time.perf_counter()
            with unscoped("the bench's first loads"):
                Tenant.objects.filter(pk__in=[x.pk for x in small]).update(next_sync_at=timezone.now())
                dispatch_due_syncs()
                while SyncRun.objects.filter(status__in=["queued", "running"]).exists():
                    time.sleep(1)
                failed = SyncRun.objects.exclude(status="succeeded").count()
            print(f"first loads of {len(small)} tenants in {time.perf_counter() - t:.1f} s ({failed} not succeeded)",
                  flush=True)
        finally:
            warm.stop()
        rounds = [r for r in args.rounds.split(",") if r]
        if onboarding and "daily+onboarding" not in rounds:
            rounds.append("daily+onboarding")
        for name in rounds:
            result = run_round(name, args=args, sb=sb, env=worker_env, small=small,
                               onboarding=onboarding if name == "daily+onboarding" else [], log_dir=log_dir)
            print_round(result)
            results["rounds"].append(result)
        results["pg_database_mb"] = round(pg_size_mb(), 1)
    finally:
        sb.stop()
        try:
            import redis

            client = redis.Redis.from_url(args.broker_url)
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
        except Exception:  # noqa: BLE001
            pass
    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()

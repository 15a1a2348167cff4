"""End-to-end speed of the sync: JAGGAER sandbox -> our pipeline (PostgreSQL) -> QBO sandbox.

    python bench/sync_bench.py [--scale 1] [--json FILE] [--naive-limit N] [--no-naive] [--profile FILE]
    python bench/sync_bench.py --throttled [--dataset demo|bench] [--throttled-minutes 3] [--json FILE]

Default mode: the sandboxes run in a child process (bench/sandbox_proc.py, `bench` dataset, QBO limits
off, no added latency), our side uses a scratch PostgreSQL database (`mlc_bench_sync`, emptied first).
It runs, for one tenant: an initial full load, a rerun with no change, and an incremental run after
about 1% of JAGGAER's records changed; then the naive baseline (bench/naive.py) into a fresh QBO realm.
For each run: records/s end to end, wall time per step, QBO HTTP requests per written record (by kind),
JAGGAER requests, database queries per record and the wall time inside them, our CPU, peak RSS of this process.
Then the issue's targets, printed beside the same figures of `--baseline` (default bench/baselines/sync_bench.json:
the figures before the one-sync work of the fleet issue).

`--throttled`: a first load of `--dataset` (default `demo`; `bench` is the onboarding measured against the
realm's floor), QBO at its real limits (500/min, 10/s, 10 in flight, 40 batches/min),
100 ms added latency on both sandboxes, our limiter in front; the run is cancelled after
`--throttled-minutes` if it has not finished. Prints requests/minute achieved against the budget, the 429s
received, and the time taken beside the realm's floor for the records written (Intuit's 40 batches of 30
writes + 460 single writes a minute).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procstat import StateSampler, machine_busy, machine_stolen, proc_stat, threads_sched  # noqa: E402 (after the path is set)

RECORD_STEPS = ("suppliers", "purchase_orders", "invoices")
WRITE_OUTCOMES = ("created", "updated")
_QUERY_ENTITY = re.compile(r"from (\w+)", re.IGNORECASE)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ============================================================================ the sandbox process

class SandboxProcess:
    def __init__(self, *, dataset: str, scale: float, limits: str, latency_ms: float = 0, realms=()):
        cmd = [sys.executable, str(ROOT / "bench" / "sandbox_proc.py"), "--dataset", dataset, "--scale",
               str(scale), "--limits", limits, "--latency-ms", str(latency_ms), "--realms", ",".join(realms)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                     env={**os.environ, "LOG_LEVEL": "WARNING"})
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the sandbox process did not start (exit {self.proc.wait()})")
        self.info = json.loads(line)
        self.qbo_url, self.jaggaer_url = self.info["qbo_url"], self.info["jaggaer_url"]

    def command(self, text: str) -> dict:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise SystemExit(f"sandbox command {text!r} failed: {answer['error']}")
        return answer

    def qbo_token(self, realm: str) -> str:
        import requests

        r = requests.post(f"{self.qbo_url}/_sandbox/tokens/issue", json={"realm_id": realm}, timeout=30)
        r.raise_for_status()
        return r.json()["access_token"]

    def jaggaer_token(self) -> str:
        import requests

        r = requests.post(f"{self.jaggaer_url}/auth/realms/J1p-integrations/protocol/openid-connect/token",
                          data={"grant_type": "client_credentials", "client_id": "ml-sandbox-jaggaer",
                                "client_secret": "ml-sandbox-jaggaer-secret"}, timeout=30)
        r.raise_for_status()
        return r.json()["access_token"]

    def stop(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            self.proc.kill()


class Sandboxes:
    """QBO and JAGGAER as the sync meets them: two systems on two hosts. Each sandbox is served by a process of its
    own (both load the same dataset; each is asked for one system only), so that serving a JAGGAER page does not
    hold back a QBO answer in one interpreter. `shared=True`: one process serves both, as before."""

    def __init__(self, *, shared: bool = False, **kwargs):
        self.qbo_side = SandboxProcess(**kwargs)
        self.jaggaer_side = self.qbo_side if shared else SandboxProcess(**kwargs)
        self.qbo_url, self.jaggaer_url = self.qbo_side.qbo_url, self.jaggaer_side.jaggaer_url
        self.info = {**self.qbo_side.info, "pids": sorted({self.qbo_side.info["pid"], self.jaggaer_side.info["pid"]})}

    def command(self, text: str) -> dict:
        return self.jaggaer_side.command(text)      # `mutate`: JAGGAER's records

    def qbo_token(self, realm: str) -> str:
        return self.qbo_side.qbo_token(realm)

    def jaggaer_token(self) -> str:
        return self.jaggaer_side.jaggaer_token()

    def stop(self) -> None:
        self.qbo_side.stop()
        if self.jaggaer_side is not self.qbo_side:
            self.jaggaer_side.stop()


# ============================================================================ our side

def setup_django(database_url: str, **env) -> None:
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url,
                       "LOG_LEVEL": "ERROR", "DEBUG": "false", "OUTBOUND_ALLOW_PRIVATE_HOSTS": "true", **env})
    _ensure_database(database_url)
    import django

    django.setup()
    from core.collector import tune_for_runs

    tune_for_runs()     # as a worker process does when it starts (config/celery.py)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.apps import apps
    from django.db import connection

    ours = [m._meta.db_table for app in ("tenants", "connections", "sync", "audit")
            for m in apps.get_app_config(app).get_models()]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(ours)} CASCADE")


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


class Meter:
    """Counts database queries (and the wall time inside them: a statement written down for the writes behind the
    run is counted as one, taking no time then; the scripts' time at the server is the writer's `busy`) and HTTP
    attempts (with their statuses)."""

    def __init__(self, sandbox_pids: list[int] = ()):
        self.sandbox_pids = list(sandbox_pids)     # the sandboxes' processes: their CPU is told apart from ours
        self.queries = 0
        self.db_seconds = 0.0
        self._lock = threading.Lock()
        self.by_statement: Counter = Counter()     # "INSERT sync_billlink" -> seconds inside such queries
        self.http = Counter()          # (system, status) -> attempts
        self.qbo_detail = Counter()    # "query Vendor", "POST batch", ... -> attempts
        self.gc_runs = [0, 0, 0]       # collections by generation, and their time (any thread)
        self.gc_seconds = 0.0
        self._gc_started: dict[int, float] = {}
        gc.callbacks.append(self.on_gc)

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started[threading.get_ident()] = time.perf_counter()
            return
        started = self._gc_started.pop(threading.get_ident(), None)
        self.gc_runs[info["generation"]] += 1
        if started is not None:
            self.gc_seconds += time.perf_counter() - started

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.queries += 1
                self.db_seconds += elapsed
                self.by_statement[statement_kind(sql)] += elapsed

    def on_connection(self, sender, connection, **kwargs) -> None:
        """A connection opened on another thread: its queries are counted too."""
        if threading.current_thread() is not threading.main_thread() and self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def on_call(self, info) -> None:
        self.http[(info.system, info.status)] += 1
        if info.system == "qbo":
            match = _QUERY_ENTITY.search(unquote(info.path))
            what = f"query {match.group(1)}" if match else f"{info.method} {info.path.split('?')[0].rsplit('/', 1)[-1]}"
            self.qbo_detail[what] += 1

    def snapshot(self, qbo, jaggaer) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = machine_busy()
        return {"cpu": usage.ru_utime + usage.ru_stime, "queries": self.queries, "db": self.db_seconds,
                "busy": busy, "total": total, "stolen": machine_stolen(), "writer": writer_seconds(),
                "sched": threads_sched(os.getpid()),
                "by_statement": Counter(self.by_statement),
                "sandbox": sum(proc_stat(pid)[0] for pid in self.sandbox_pids),
                "qbo": Counter(qbo.request_counts), "detail": Counter(self.qbo_detail),
                "jaggaer": sum(jaggaer.request_counts.values()), "http": Counter(self.http),
                "gc": (list(self.gc_runs), self.gc_seconds), "t": time.perf_counter()}


_STATEMENT = re.compile(r'^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b.*?(?:FROM|INTO|UPDATE)\s+"?(\w+)"?',
                        re.IGNORECASE | re.DOTALL)


def statement_kind(sql: str) -> str:
    """The verb and first table of a statement ("INSERT sync_billlink"), for the time inside queries by kind."""
    match = _STATEMENT.match(sql[:300])
    return f"{match.group(1).upper()} {match.group(2)}" if match else sql.split(None, 1)[0].upper()[:20]


def writer_seconds() -> dict[str, float]:
    """The writes behind the runs so far (core.metrics): busy, cpu, and waited (the run's thread waiting for them)."""
    from prometheus_client import REGISTRY

    return {part: REGISTRY.get_sample_value("mlc_sync_writer_seconds_total", {"part": part}) or 0.0
            for part in ("busy", "cpu", "waited")}


def sched_diff(a: dict, b: dict) -> dict:
    """The run's thread (this process's main thread) and all our threads alive at the end: seconds on a core
    and seconds waiting in the run queue for one, between two snapshots."""
    main = os.getpid()
    run0, wait0 = a.get(main, (0.0, 0.0))
    run1, wait1 = b.get(main, (0.0, 0.0))
    threads = [(b[t][0] - a.get(t, (0.0, 0.0))[0], b[t][1] - a.get(t, (0.0, 0.0))[1]) for t in b]
    return {"main_on_core": run1 - run0, "main_runqueue": wait1 - wait0,
            "threads_on_core": sum(r for r, _ in threads), "threads_runqueue": sum(w for _, w in threads)}


def diff(a: dict, b: dict) -> dict:
    return {"seconds": b["t"] - a["t"], "cpu_seconds": b["cpu"] - a["cpu"], "queries": b["queries"] - a["queries"],
            "writer": {part: b["writer"][part] - a["writer"][part] for part in b["writer"]},
            "by_statement": dict(b["by_statement"] - a["by_statement"]),
            "db_seconds": b["db"] - a["db"],
            "sched": sched_diff(a["sched"], b["sched"]),
            "machine_busy_core_s": b["busy"] - a["busy"], "machine_core_s": b["total"] - a["total"],
            "machine_stolen_core_s": b["stolen"] - a["stolen"],
            "sandbox_cpu_seconds": b["sandbox"] - a["sandbox"],
            "gc_collections": [n1 - n0 for n0, n1 in zip(a["gc"][0], b["gc"][0], strict=True)],
            "gc_seconds": b["gc"][1] - a["gc"][1],
            "qbo": {k: b["qbo"][k] - a["qbo"][k] for k in ("query", "batch", "single")},
            "jaggaer": b["jaggaer"] - a["jaggaer"], "qbo_detail": dict(b["detail"] - a["detail"]),
            "http_429": sum(n for (system, status), n in b["http"].items() if status == 429) -
            sum(n for (system, status), n in a["http"].items() if status == 429),
            "qbo_attempts": sum(n for (system, _), n in b["http"].items() if system == "qbo") -
            sum(n for (system, _), n in a["http"].items() if system == "qbo")}


_STEP_TIMINGS: dict = {}


def instrument_steps(meter: Meter, clients: dict, timings: dict) -> None:
    """Wrap each step's `run` to time it and count its requests and queries (once per process)."""
    from sync.pipeline import steps

    _STEP_TIMINGS["current"] = (timings, clients)

    for name, cls in list(steps.STEPS.items()):
        if getattr(cls, "_bench_timed", False):
            continue

        def run(self, ctx, _orig=cls.run, _name=name):
            timings, clients = _STEP_TIMINGS["current"]
            before = meter.snapshot(clients["qbo"], clients["jaggaer"])
            try:
                return _orig(self, ctx)
            finally:
                timings[_name] = diff(before, meter.snapshot(clients["qbo"], clients["jaggaer"]))

        steps.STEPS[name] = type(cls.__name__, (cls,), {"run": run, "_bench_timed": True})


def make_clients(sb: Sandboxes, realm: str, tenant, *, limiter=None, throttled=False):
    from connections.clients.http import HttpClient, StaticTokenProvider
    from connections.clients.jaggaer import JaggaerClient
    from connections.clients.qbo import QboClient

    kwargs = {} if throttled else {"max_attempts": 3}
    qbo = QboClient(api_base=sb.qbo_url, realm_id=realm, limiter=limiter,
                    # a long load outlives the sandboxes' access tokens: a 401 is renewed with a new one
                    tokens=StaticTokenProvider(sb.qbo_token(realm), renew_with=lambda _: sb.qbo_token(realm),
                                               system="qbo"),
                    http=HttpClient("qbo", sb.qbo_url, limiter=limiter, **kwargs), tenant_id=tenant.pk)
    jaggaer = JaggaerClient(api_base_url=sb.jaggaer_url,
                            tokens=StaticTokenProvider(sb.jaggaer_token(), renew_with=lambda _: sb.jaggaer_token(),
                                                       system="jaggaer"),
                            http=HttpClient("jaggaer", sb.jaggaer_url, **kwargs), tenant_id=tenant.pk)
    return qbo, jaggaer


def make_tenant(name: str):
    from tenants.models import Partner, Tenant

    partner = Partner.objects.create(name=f"Bench partner {name}")
    return Tenant.objects.create(partner=partner, name=f"Bench {name}", slug=f"bench-{name}-{uuid.uuid4().hex[:6]}")


def sync_once(label: str, tenant, qbo, jaggaer, meter: Meter, *, full=False, cancel_after: float | None = None,
              profile: str | None = None) -> dict:
    from django.db import connection
    from django.db.backends.signals import connection_created

    from core.tenancy import tenant_scope
    from sync.models import SyncRun
    from sync.runs.lifecycle import sync_run_create, sync_run_execute

    timings: dict = {}
    instrument_steps(meter, {"qbo": qbo, "jaggaer": jaggaer}, timings)
    run = sync_run_create(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, full=full)
    timer = None
    if cancel_after:
        def cancel():
            SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
            from django.db import connection as thread_connection
            thread_connection.close()
        timer = threading.Timer(cancel_after, cancel)
        timer.start()
    profiler = None
    if profile:
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.002)
        profiler.start()
    sampler = StateSampler(os.getpid())
    before = meter.snapshot(qbo, jaggaer)
    connection_created.connect(meter.on_connection)
    try:
        with connection.execute_wrapper(meter), tenant_scope(tenant):
            run = sync_run_execute(run=run, qbo=qbo, jaggaer=jaggaer)
    finally:
        connection_created.disconnect(meter.on_connection)
        states = sampler.stop()
    total = diff(before, meter.snapshot(qbo, jaggaer))
    total["sched"]["states"] = states
    if profiler:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        Path(profile).with_suffix(".html").write_text(profiler.output_html())
    if timer:
        timer.cancel()
    run.refresh_from_db()
    counts = {s: dict(run.counts.get(s, {})) for s in RECORD_STEPS}
    # records the run handled; `still_held` are holds it left untouched (nothing they wait on changed)
    records = sum(n for c in counts.values() for outcome, n in c.items() if outcome != "still_held")
    still_held = sum(c.get("still_held", 0) for c in counts.values())
    written = sum(c.get(o, 0) for c in counts.values() for o in WRITE_OUTCOMES)
    qbo_total = sum(total["qbo"].values())
    out = {"label": label, "status": run.status, "error": run.error_message, "records": records,
           "still_held": still_held,
           "written": written, "counts": counts, "catalogs": run.counts.get("catalogs", {}),
           "seconds": total["seconds"], "cpu_seconds": total["cpu_seconds"], "db_seconds": total["db_seconds"],
           "writer_seconds": total["writer"], "db_seconds_by_statement": total["by_statement"],
           "machine_busy_core_s": total["machine_busy_core_s"], "machine_core_s": total["machine_core_s"],
           "machine_stolen_core_s": total["machine_stolen_core_s"],
           "sandbox_cpu_seconds": total["sandbox_cpu_seconds"], "sched": total["sched"],
           "gc_collections": total["gc_collections"], "gc_seconds": total["gc_seconds"],
           "records_per_second": records / total["seconds"] if total["seconds"] else 0,
           "qbo_requests": total["qbo"], "qbo_detail": total["qbo_detail"], "qbo_requests_total": qbo_total,
           "qbo_http_attempts": total["qbo_attempts"],
           "qbo_per_written": qbo_total / written if written else None,
           "jaggaer_requests": total["jaggaer"], "db_queries": total["queries"],
           "db_queries_per_record": total["queries"] / records if records else None,
           "http_429": total["http_429"], "steps": timings, "peak_rss_mb": rss_mb(), "rss_mb": current_rss_mb()}
    return out


def print_run(r: dict) -> None:
    print(f"\n== {r['label']}: {r['status']}{' (' + r['error'] + ')' if r['error'] else ''}")
    untouched = f" (and {r['still_held']:,} holds left untouched)" if r.get("still_held") else ""
    print(f"  records {r['records']:,}{untouched}  written {r['written']:,}  in {r['seconds']:.1f} s  "
          f"=> {r['records_per_second']:,.0f} records/s end to end")
    for s in RECORD_STEPS:
        print(f"    {s:16} {r['counts'][s]}")
    q = r["qbo_requests"]
    per = f"{r['qbo_per_written']:.3f}" if r["qbo_per_written"] is not None else "n/a (nothing written)"
    print(f"  QBO requests {r['qbo_requests_total']:,} (query {q['query']:,}, batch {q['batch']:,}, single "
          f"{q['single']:,}; HTTP attempts {r['qbo_http_attempts']:,}, 429s {r['http_429']}); per written record {per}")
    print(f"    by target: {', '.join(f'{k} {v}' for k, v in sorted(r['qbo_detail'].items()))}")
    if r["written"]:      # every write in a full batch of 30 is the floor (issue #19: a first load <= 0.040)
        floor = -(-r["written"] // 30)
        print(f"    batches {q['batch']:,} against a floor of {floor:,} (30 writes each): requests per written "
              f"record {r['qbo_per_written']:.3f}, floor {floor / r['written']:.3f}")
    dbq = f"{r['db_queries_per_record']:.3f}" if r["db_queries_per_record"] is not None else "n/a"
    print(f"  JAGGAER requests {r['jaggaer_requests']:,}; database queries {r['db_queries']:,} ({dbq} per record)")
    print(f"  peak RSS {r['peak_rss_mb']:.0f} MB (now {r['rss_mb']:.0f} MB)")
    print(f"  our CPU {r['cpu_seconds']:.2f} s; inside database queries {r['db_seconds']:.2f} s (server, round "
          "trips and driver; the writes behind the run below)")
    if r.get("gc_collections") is not None:
        young, middle, full = r["gc_collections"]
        print(f"    of it the garbage collector {r['gc_seconds']:.2f} s: {young:,} young, {middle:,} middle-aged and "
              f"{full:,} full collections (thresholds {', '.join(map(str, gc.get_threshold()))}: "
              "core/collector.py)")
    top = sorted((r.get("db_seconds_by_statement") or {}).items(), key=lambda kv: -kv[1])[:8]
    if top and r["db_seconds"] >= 1:
        print(f"    most of it: {', '.join(f'{kind} {s:.2f} s' for kind, s in top)}")
    w = r.get("writer_seconds") or {}
    if w.get("busy"):
        print(f"  the writes behind the run (batch transactions, record identifiers): at the server {w['busy']:.2f} s "
              f"(from a script's sending to its answer read, both lanes), written down in {w['cpu']:.2f} s of the "
              f"run's CPU; the run's thread waited {w['waited']:.2f} s for them")
    stolen = r.get("machine_stolen_core_s") or 0.0
    others = r["machine_busy_core_s"] - r["cpu_seconds"] - r["sandbox_cpu_seconds"] - stolen
    print(f"  the machine: {r['machine_busy_core_s']:.1f} of {r['machine_core_s']:.1f} core-seconds busy "
          f"({r['machine_busy_core_s'] / max(r['machine_core_s'], 1e-9):.0%}): ours {r['cpu_seconds']:.1f}, the "
          f"sandboxes {r['sandbox_cpu_seconds']:.1f}, PostgreSQL and every other process {others:.1f}, other guests "
          f"of the hypervisor (steal) {stolen:.1f}")
    sched = r.get("sched")
    if sched:
        blocked = r["seconds"] - sched["main_on_core"] - sched["main_runqueue"]
        print(f"  the run's thread: on a core {sched['main_on_core']:.2f} s, waiting for a free core "
              f"{sched['main_runqueue']:.2f} s, blocked {blocked:.2f} s (on QBO, PostgreSQL, JAGGAER or the "
              f"interpreter's lock); all our threads waited {sched['threads_runqueue']:.2f} s for a free core")
        share = stolen / r["machine_core_s"] if r.get("machine_core_s") else 0.0
        if 0 < share < 1:
            lost = sched["main_on_core"] * share / (1 - share)
            print(f"    of 'blocked', about {lost:.2f} s its core ran another guest: the machine's cores were stolen "
                  f"{share:.1%} of the time, and a thread whose core is stolen while it runs shows neither on a core "
                  f"nor waiting for one (that share of its time on a core)")
        states = sched.get("states") or {}
        if states.get("samples"):
            print(f"  sampled every 5 ms ({states['samples']:,} looks): none of our threads on or waiting for a core "
                  f"{_none_runnable(r):.1%} of the time (waits nothing of ours overlapped), "
                  f"the run's thread on or waiting for one {states['main_runnable'] / states['samples']:.1%}")
    print("  step              seconds  our CPU   QBO q/b/s          JAGGAER  DB queries  DB seconds")
    for name, t in r["steps"].items():
        q = t["qbo"]
        print(f"    {name:16} {t['seconds']:7.2f}  {t['cpu_seconds']:7.2f}   "
              f"{q['query']:5}/{q['batch']:5}/{q['single']:4}   {t['jaggaer']:7}  {t['queries']:8}  "
              f"{t['db_seconds']:10.2f}")


# ============================================================================ modes

def bench(args) -> dict:
    naive_realm = "9130355000000777"
    sb = Sandboxes(dataset="bench", scale=args.scale, limits="off", realms=() if args.no_naive else (naive_realm,),
                   shared=args.shared_sandboxes)
    try:
        setup_django(args.database_url, REDIS_URL="")
        from connections.clients.calls import call_listeners

        meter = Meter(sandbox_pids=sb.info["pids"])
        call_listeners.append(meter.on_call)
        baseline_rss = current_rss_mb()
        tenant = make_tenant("ours")
        qbo, jaggaer = make_clients(sb, sb.info["realm"], tenant)
        results = {"machine": machine(), "scale": args.scale, "rss_before_mb": baseline_rss, "runs": []}
        print(f"scale {args.scale}: sandboxes in process{'es' if len(sb.info['pids']) > 1 else ''} "
              f"{', '.join(map(str, sb.info['pids']))}; RSS before the sync {baseline_rss:.0f} MB")
        initial = sync_once("initial full load", tenant, qbo, jaggaer, meter, profile=args.profile)
        print_run(initial)
        again = sync_once("incremental, no change", tenant, qbo, jaggaer, meter)
        print_run(again)
        changed = sb.command(f"mutate {args.change}")
        print(f"\nJAGGAER mutated: {changed}")
        incremental = sync_once(f"incremental, {args.change:.0%} changed", tenant, qbo, jaggaer, meter)
        incremental["mutations"] = changed
        print_run(incremental)
        results["runs"] = [initial, again, incremental]
        compare(results, args.baseline)
        if not args.no_naive:
            from bench.naive import NaiveSync

            naive = NaiveSync(qbo_url=sb.qbo_url, realm=naive_realm, qbo_token=sb.qbo_token(naive_realm),
                              jaggaer_url=sb.jaggaer_url, jaggaer_token=sb.jaggaer_token(),
                              limit=args.naive_limit).run()
            results["naive"] = naive_summary(naive)
            print_naive(results["naive"], initial)
            results["ratios"] = ratios(initial, results["naive"])
        return results
    finally:
        sb.stop()


# The targets for one sync, and how each run is read for them: (label, run index, target text, reader,
# test of the target or None). "Re-planned" records are those a run handled (planned, audited) at all.
def _per_written(r: dict):
    return r["qbo_per_written"]


def _machine_share(r: dict):
    return r["machine_busy_core_s"] / r["machine_core_s"] if r.get("machine_core_s") else None


def _wall_over_cpu(r: dict):
    return r["seconds"] / r["cpu_seconds"] if r["cpu_seconds"] else None


def _none_runnable(r: dict):
    """The share of the wall no thread of ours was on or waiting for a core (waits nothing of ours overlapped)."""
    states = (r.get("sched") or {}).get("states") or {}
    return states["none_runnable"] / states["samples"] if states.get("samples") else None


def _waited_for_core(r: dict):
    return (r.get("sched") or {}).get("main_runqueue")


TARGETS = [
    ("initial load: QBO requests per written record", 0, "<= 0.040 (floor ~0.034)", _per_written,
     lambda v: v is not None and v <= 0.040),
    ("initial load: QBO requests", 0, "", lambda r: r["qbo_requests_total"], None),
    ("initial load: wall s", 0, "", lambda r: r["seconds"], None),
    ("initial load: our CPU s", 0, "", lambda r: r["cpu_seconds"], None),
    ("initial load: wall / our CPU", 0, "~1 (QBO waits overlap DB writes)", _wall_over_cpu, None),
    ("initial load: no thread of ours runnable, share", 0, "", _none_runnable, None),
    ("initial load: run's thread waiting for a core s", 0, "", _waited_for_core, None),
    ("initial load: machine busy share", 0, "", _machine_share, None),
    ("initial load: records/s", 0, "", lambda r: r["records_per_second"], None),
    ("initial load: DB queries", 0, "", lambda r: r["db_queries"], None),
    ("initial load: peak RSS MB", 0, "< 300", lambda r: r["peak_rss_mb"], lambda v: v < 300),
    ("no-change rerun: records handled", 1, "near zero (holds not re-planned)", lambda r: r["records"],
     lambda v: v <= 100),
    ("no-change rerun: DB queries", 1, "", lambda r: r["db_queries"], None),
    ("no-change rerun: wall s", 1, "", lambda r: r["seconds"], None),
    ("no-change rerun: QBO requests", 1, "", lambda r: r["qbo_requests_total"], None),
    ("1% change: QBO requests", 2, "", lambda r: r["qbo_requests_total"], None),
    ("1% change: records handled", 2, "", lambda r: r["records"], None),
    ("1% change: wall s", 2, "", lambda r: r["seconds"], None),
]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return f"{v:,}"


def compare(results: dict, baseline_path: str | None) -> None:
    """Print this run's figures beside the baseline's (an earlier `--json` file of the same scale) and the
    targets; stores the comparison in the results."""
    previous = None
    if baseline_path and Path(baseline_path).exists():
        previous = json.loads(Path(baseline_path).read_text())
        if previous.get("scale") != results["scale"]:
            print(f"\n(baseline {baseline_path} is of scale {previous.get('scale')}: not compared)")
            previous = None
    rows = []
    for label, index, target, read, met in TARGETS:
        now = read(results["runs"][index])
        before = read(previous["runs"][index]) if previous else None
        rows.append({"figure": label, "target": target, "previous": before, "now": now,
                     "met": None if met is None else bool(met(now))})
    shown = os.path.relpath(baseline_path, ROOT) if previous else None
    results["comparison"] = {"baseline": shown, "rows": rows}
    width = max(len(r["figure"]) for r in rows)
    print(f"\n== beside the previous figures ({shown or 'no baseline'})")
    print(f"  {'figure':{width}}  {'previous':>10}  {'now':>10}  target")
    for r in rows:
        verdict = "" if r["met"] is None else ("  met" if r["met"] else "  NOT met")
        print(f"  {r['figure']:{width}}  {_fmt(r['previous']):>10}  {_fmt(r['now']):>10}  {r['target']}{verdict}")


def naive_summary(n) -> dict:
    written = sum(n.written.values())
    q = sum(n.qbo_requests.values())
    seconds = n.seconds["total"]
    return {"records": n.records, "written": written, "written_by_entity": dict(n.written),
            "existing": dict(n.existing), "failed": dict(n.failed), "skipped": dict(n.skipped),
            "qbo_requests": dict(n.qbo_requests), "qbo_requests_total": q, "jaggaer_requests": n.jaggaer_requests,
            "seconds": seconds, "steps": n.seconds, "records_per_second": n.records / seconds,
            "written_per_second": written / seconds, "qbo_per_written": q / written if written else None}


def ratios(ours: dict, naive: dict) -> dict:
    return {"records_per_second": ours["records_per_second"] / naive["records_per_second"],
            "written_per_second": (ours["written"] / ours["seconds"]) / naive["written_per_second"],
            "qbo_per_written": ours["qbo_per_written"] / naive["qbo_per_written"],
            "naive_requests_per_ours": naive["qbo_per_written"] / ours["qbo_per_written"]}


def print_naive(n: dict, ours: dict) -> None:
    print("\n== naive baseline (one look-up + one create per record, no batch), fresh realm")
    print(f"  records {n['records']:,}  written {n['written']:,} {n['written_by_entity']}  failed {n['failed']}  "
          f"in {n['seconds']:.1f} s => {n['records_per_second']:,.0f} records/s, {n['written_per_second']:,.0f} "
          f"written/s")
    print(f"  QBO requests {n['qbo_requests_total']:,} {n['qbo_requests']}; per written record "
          f"{n['qbo_per_written']:.3f}; JAGGAER requests {n['jaggaer_requests']:,}")
    r = ratios(ours, n)
    print(f"  ours/naive: records/s x{r['records_per_second']:.1f}, written/s x{r['written_per_second']:.1f}, "
          f"QBO requests per written record x{r['qbo_per_written']:.3f} "
          f"(naive makes {r['naive_requests_per_ours']:.1f}x as many)")


INTUIT_REQUESTS_PER_MINUTE = 500
INTUIT_BATCHES_PER_MINUTE = 40
# At Intuit's per-realm limits a realm takes at most 40 batches of 30 writes a minute, and the rest of its 500
# requests as single writes: the fastest any client can write to one company.
FLOOR_WRITES_PER_MINUTE = INTUIT_BATCHES_PER_MINUTE * 30 + INTUIT_REQUESTS_PER_MINUTE - INTUIT_BATCHES_PER_MINUTE


def floor_seconds(written: int) -> float:
    return 60 * written / FLOOR_WRITES_PER_MINUTE


def throttled(args) -> dict:
    realm = str(9_130_356_000_000_000 + int(uuid.uuid4().int % 1_000_000))
    sb = Sandboxes(dataset=args.dataset, scale=args.scale, limits="real", latency_ms=100, realms=(realm,),
                   shared=args.shared_sandboxes)
    try:
        setup_django(args.database_url)
        from django.conf import settings

        from connections.clients.calls import call_listeners
        from connections.clients.limiter import realm_limiter

        meter = Meter(sandbox_pids=sb.info["pids"])
        call_listeners.append(meter.on_call)
        tenant = make_tenant("throttled")
        limiter = realm_limiter(realm)
        qbo, jaggaer = make_clients(sb, realm, tenant, limiter=limiter, throttled=True)
        print(f"throttled: {args.dataset} dataset (scale {args.scale:g}), realm {realm}, QBO limits 500/min, 10/s, "
              f"10 in flight, 40 batches/min, "
              f"100 ms latency; limiter {'Redis' if settings.REDIS_URL else 'in-process'}; "
              f"cancelled after {args.throttled_minutes:g} min")
        r = sync_once("throttled load", tenant, qbo, jaggaer, meter, cancel_after=args.throttled_minutes * 60)
        minutes = r["seconds"] / 60
        r["requests_per_minute"] = r["qbo_http_attempts"] / minutes
        r["batches_per_minute"] = r["qbo_requests"]["batch"] / minutes
        r["limiter_waited_seconds"] = limiter.waited_seconds
        print_run(r)
        budget = settings.QBO_REQUESTS_PER_MINUTE
        r["budget_per_minute"] = budget
        if minutes < 1:
            print(f"  the run finished in {r['seconds']:.0f} s, inside one minute window: per-minute shares "
                  f"below are extrapolated; use --scale 3 or more for a run the minute budget binds")
        print(f"  achieved {r['requests_per_minute']:.0f} QBO requests/min: {r['requests_per_minute'] / budget:.0%} "
              f"of our budget of {budget} ({r['requests_per_minute'] / 500:.0%} of Intuit's 500), "
              f"{r['batches_per_minute']:.1f} batches/min averaged over the run (the limiter holds 38 per 60 s); "
              f"429s received: {r['http_429']}; "
              f"limiter waited {limiter.waited_seconds:.0f} s")
        floor = floor_seconds(r["written"])
        r["floor_seconds"] = floor
        print(f"  onboarding: {r['written']:,} records written in {r['seconds'] / 60:.1f} min; the realm's floor for "
              f"them is {floor / 60:.1f} min ({FLOOR_WRITES_PER_MINUTE:,} writes a minute: {INTUIT_BATCHES_PER_MINUTE} "
              f"batches x 30 writes + {INTUIT_REQUESTS_PER_MINUTE - INTUIT_BATCHES_PER_MINUTE} single writes); "
              f"ours takes {r['seconds'] / floor:.2f}x the floor" if floor else "  nothing was written")
        return {"machine": machine(), "throttled": r}
    finally:
        sb.stop()


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--change", type=float, default=0.01, help="fraction of records changed (incremental)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    parser.add_argument("--naive-limit", type=int, default=None,
                        help="naive baseline: at most this many records per entity (default all)")
    parser.add_argument("--profile", help="pyinstrument report of the initial load to this file (.txt, + .html)")
    parser.add_argument("--throttled", action="store_true",
                        help="a first load at Intuit's limits instead (`--dataset`, default demo), beside the floor")
    parser.add_argument("--dataset", default="demo", help="--throttled: the dataset loaded (demo or bench)")
    parser.add_argument("--throttled-minutes", type=float, default=3.0)
    parser.add_argument("--shared-sandboxes", action="store_true",
                        help="one process serves both sandboxes (by default QBO and JAGGAER have one each)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mlc_bench_sync")
    parser.add_argument("--baseline", default=str(ROOT / "bench" / "baselines" / "sync_bench.json"),
                        help="an earlier --json file of the same scale, printed beside this run's figures")
    args = parser.parse_args()
    results = throttled(args) if args.throttled else bench(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()

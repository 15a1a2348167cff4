"""How long dispatching the daily runs of N tenants takes, and how many queries it makes.

    python bench/dispatch_bench.py [--tenants 10000] [--database-url postgres://...]

Creates N connected tenants in a scratch PostgreSQL database (default `mlc_bench_dispatch`),
makes every one due, and runs the dispatcher once: one run per tenant is created, each takes
its lease, every tenant's next run moves to tomorrow, and one task per run is published to
Redis (under a scratch key prefix that is deleted afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mlc_bench_dispatch")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()

    prefix = f"mlc-bench-{uuid.uuid4().hex[:8]}:"
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": args.database_url,
                       "CELERY_BROKER_URL": args.broker_url, "CELERY_BROKER_KEY_PREFIX": prefix,
                       "LOG_LEVEL": "WARNING"})
    _ensure_database(args.database_url)

    import django

    django.setup()
    import datetime as dt

    import redis
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
    from sync.models import SyncLease, SyncRun
    from sync.runs.schedule import dispatch_due_syncs
    from tenants.models import Partner, Tenant

    call_command("migrate", verbosity=0)
    SyncLease.objects.all().delete()
    SyncRun.objects.all().delete()
    QboConnection.objects.all().delete()
    JaggaerConnection.objects.all().delete()
    Tenant.objects.all().delete()
    Partner.objects.all().delete()

    started = time.perf_counter()
    partner = Partner.objects.create(name="Bench Partner")
    zones = ["America/Chicago", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Pacific/Kiritimati"]
    tenants = Tenant.objects.bulk_create(
        [Tenant(partner=partner, name=f"Tenant {n}", slug=f"bench-{n}", time_zone=zones[n % len(zones)],
                sync_hour=2) for n in range(args.tenants)], batch_size=2000)
    QboConnection.objects.bulk_create(
        [QboConnection(tenant=t, realm_id=str(9_000_000_000 + n), status=ConnectionStatus.CONNECTED)
         for n, t in enumerate(tenants)], batch_size=2000)
    JaggaerConnection.objects.bulk_create(
        [JaggaerConnection(tenant=t, api_base_url="https://jaggaer.example", client_id="bench",
                           status=ConnectionStatus.CONNECTED) for t in tenants], batch_size=2000)
    Tenant.objects.update(next_sync_at=timezone.now() - dt.timedelta(minutes=1))
    setup = time.perf_counter() - started

    import sync.runs.schedule

    publish = {"seconds": 0.0}
    enqueue = sync.runs.schedule.runs_enqueue

    def timed_enqueue(*, run_ids):
        begun = time.perf_counter()
        enqueue(run_ids=run_ids)
        publish["seconds"] += time.perf_counter() - begun

    sync.runs.schedule.runs_enqueue = timed_enqueue
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = dispatch_due_syncs()
        elapsed = time.perf_counter() - started

    client = redis.Redis.from_url(args.broker_url)
    queued_messages = sum(client.llen(key) for key in client.scan_iter(f"{prefix}*")
                          if client.type(key) == b"list")
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)

    print(f"tenants:              {args.tenants:,} (setup {setup:.1f} s)")
    print(f"dispatch result:      {result}")
    print(f"dispatch wall time:   {elapsed:.2f} s  ({args.tenants / elapsed:,.0f} tenants/s)")
    print(f"  of which database:  {elapsed - publish['seconds']:.2f} s")
    print(f"  of which publishing {publish['seconds']:.2f} s  ({publish['seconds'] / args.tenants * 1000:.2f} ms/task)")
    print(f"database queries:     {len(queries)}")
    print(f"messages published:   {queued_messages:,}")
    print(f"runs created:         {SyncRun.objects.count():,}; leases held: "
          f"{SyncLease.objects.filter(run__isnull=False).count():,}")


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main()

"""Retention benchmark: audit pruning and the month-end CSV export on a large record-event table.

    python bench/retention_bench.py [--rows 10000000] [--tenants 1000] [--months 13]
                                    [--database-url postgres://postgres@127.0.0.1:5432/mlc_bench_retention]

1. A scratch PostgreSQL database (created if missing, migrated, our audit table emptied).
2. `--tenants` tenants, then `--rows` record events spread evenly over the last `--months` months and over
   the tenants, generated inside PostgreSQL (INSERT ... SELECT FROM generate_series, no row crosses the wire).
3. The month-end CSV of one tenant for last month, through the export's own code path (the same query and
   row writer as `GET .../audit/records.csv?since=...&until=...`), with its EXPLAIN.
4. `audit.audit_prune` with AUDIT_RETENTION_DAYS set so the oldest month goes (index-ordered batches).
Prints every figure; docs/BENCHMARKS.md keeps them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ensure_database(url: str) -> None:
    from urllib.parse import urlsplit

    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per prune statement (PRUNE_BATCH_SIZE)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mlc_bench_retention")
    args = parser.parse_args()

    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": args.database_url,
                       "CELERY_BROKER_URL": "", "REDIS_URL": ""})
    _ensure_database(args.database_url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    import audit
    from audit.api import _csv_lines
    from audit.models import RecordEvent
    from core.tenancy import tenant_scope, unscoped
    from tenants.models import Partner, Tenant

    call_command("migrate", verbosity=0)
    now = timezone.now().replace(microsecond=0)
    span = dt.timedelta(days=30.4 * args.months)

    print(f"PostgreSQL {connection.cursor().connection.info.server_version}, {args.rows:,} record events, "
          f"{args.tenants:,} tenants, {args.months} months")
    with unscoped("the benchmark builds its own data"), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(f"TRUNCATE {RecordEvent._meta.db_table}")
        partner = Partner.objects.filter(name="Retention bench").first() or Partner.objects.create(
            name="Retention bench")
        have = Tenant.objects.filter(partner=partner).count()
        Tenant.objects.bulk_create([Tenant(partner=partner, name=f"Tenant {n}", slug=f"tenant-{n}")
                                    for n in range(have, args.tenants)], batch_size=5000)
        ids = [str(t) for t in Tenant.objects.filter(partner=partner).order_by("created_at", "id")
               .values_list("pk", flat=True)[:args.tenants]]
        # Bulk load: the secondary indexes are dropped and built again after (much faster than row by row).
        table = RecordEvent._meta.db_table
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE "
                       "'%%_pkey'", [table])
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # Rows in time order (as a real table fills), each tenant's rows spread over the whole span. The
        # tenant ids exist (created above): the load skips the per-row foreign key triggers.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(f"""
            INSERT INTO {table}
                (tenant_id, run_id, entity, source_id, qbo_id, outcome, reason, message, qbo_error_code,
                 intuit_tid, data, created_at)
            SELECT t.id,
                   md5((g / 5000)::text)::uuid,
                   (ARRAY['suppliers','purchase_orders','invoices'])[1 + (g %% 3)],
                   'J' || g, (g %% 100000)::text,
                   (ARRAY['created','updated','unchanged','held','failed'])[1 + (g %% 5)],
                   CASE WHEN g %% 5 = 3 THEN 'unmapped_gl_account' ELSE '' END,
                   CASE WHEN g %% 5 = 3 THEN 'GL code 6100 has no QuickBooks account' ELSE '' END,
                   '', '', jsonb_build_object('doc_number', 'PO-' || g),
                   %(start)s::timestamptz + (g::float8 / %(rows)s) * %(span)s::interval
            FROM generate_series(0, %(rows)s - 1) AS g
            JOIN (SELECT k - 1 AS k, id FROM unnest(%(ids)s::uuid[]) WITH ORDINALITY AS u(id, k)) AS t
              ON t.k = g %% %(n)s
        """, {"ids": ids, "n": len(ids), "rows": args.rows, "start": now - span, "span": span})
        cursor.execute("SET session_replication_role = DEFAULT")
        inserted = time.perf_counter() - started
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f"ANALYZE {RecordEvent._meta.db_table}")
        loaded = time.perf_counter() - started
        cursor.execute("SELECT pg_total_relation_size(%s)", [RecordEvent._meta.db_table])
        size = cursor.fetchone()[0]
    print(f"load: {loaded:.1f} s ({inserted:.1f} s INSERT ... SELECT generate_series, then {len(indexes)} indexes "
          f"built), {args.rows / loaded:,.0f} rows/s; table + indexes {size / 2**30:.2f} GiB")

    # -- month-end CSV: one tenant, last calendar month, the export's query and row writer
    tenant = Tenant.objects.get(pk=ids[len(ids) // 2])
    first = (now.replace(day=1, hour=0, minute=0, second=0) - dt.timedelta(days=1)).replace(day=1)
    until = now.replace(day=1, hour=0, minute=0, second=0)
    with tenant_scope(tenant):
        qs = (RecordEvent.objects.for_tenant(tenant).filter(created_at__gte=first, created_at__lt=until)
              .order_by("created_at", "id")
              .values_list("created_at", "run_id", "entity", "source_id", "data", "outcome", "reason", "message",
                           "qbo_id", "qbo_error_code", "intuit_tid"))
        plan = qs.explain()
        started = time.perf_counter()
        lines = size_bytes = 0
        for line in _csv_lines(qs.iterator(chunk_size=2000)):
            lines += 1
            size_bytes += len(line.encode())
        csv_seconds = time.perf_counter() - started
    print(f"month-end CSV ({first:%Y-%m}, one tenant): {lines - 1:,} rows, {size_bytes / 1024:.0f} KiB in "
          f"{csv_seconds * 1000:.0f} ms")
    print("  plan: " + plan.splitlines()[0].strip())
    for line in plan.splitlines()[1:3]:
        print("        " + line.strip())

    # -- prune the oldest month
    days = int((span - dt.timedelta(days=30.4)) / dt.timedelta(days=1))
    settings.AUDIT_RETENTION_DAYS = days
    started = time.perf_counter()
    deleted = audit.audit_prune(now=now, batch=args.batch)
    prune_seconds = time.perf_counter() - started
    n = deleted["record_events"]
    print(f"prune (keep {days} days, batches of {args.batch:,}): {n:,} record events deleted in "
          f"{prune_seconds:.1f} s ({n / max(prune_seconds, 1e-9):,.0f} rows/s, "
          f"{prune_seconds / max(n / args.batch, 1) * 1000:.0f} ms per batch)")
    started = time.perf_counter()
    again = audit.audit_prune(now=now, batch=args.batch)
    print(f"prune again, nothing due: {again['record_events']} deleted in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    main()

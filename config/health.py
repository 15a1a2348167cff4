"""Health endpoints, one line per check, 200 when all pass and 503 when one does not (never a 500).

- `/healthz/live`: the process answers (a load balancer restarts it when not); no dependency is asked.
- `/healthz`: the dependencies answer: the database, the broker, Redis.
- `/healthz/ready`: the dependencies, and the background processes are alive: a worker answered within
  HEALTH_WORKER_MAX_AGE_SECONDS and beat ticked within HEALTH_BEAT_MAX_AGE_SECONDS. Workers write their
  heartbeat to the shared cache (Redis) when they start and after every task; beat's tick is the last
  `ops.heartbeat` task a worker took (only beat sends it, every minute), or the last periodic task beat
  recorded in django-celery-beat's table (it writes there every few minutes), whichever is newer.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.heartbeats import BEAT_HEARTBEAT_KEY, WORKER_HEARTBEAT_KEY


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> dict | None:
    if settings.TASKS_IN_PROCESS:
        return {"mode": "in-process"}
    from config.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
    return {"transport": app.conf.broker_url.split(":", 1)[0]}   # the scheme only: no host, no password


def check_redis() -> dict | None:
    if not settings.REDIS_URL:
        return {"mode": "not configured"}
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


class Stale(Exception):
    pass


def check_worker() -> dict | None:
    if settings.TASKS_IN_PROCESS:
        return {"mode": "in-process"}
    seen = cache.get(WORKER_HEARTBEAT_KEY)
    limit = settings.HEALTH_WORKER_MAX_AGE_SECONDS
    if seen is None:
        raise Stale("no worker has answered yet")
    age = time.time() - float(seen)
    if age > limit:
        raise Stale(f"no worker answered for {age:.0f} s (limit {limit} s)")
    return {"age_s": round(age, 1)}


def check_beat() -> dict | None:
    if settings.TASKS_IN_PROCESS:
        return {"mode": "in-process"}
    from django_celery_beat.models import PeriodicTask

    recorded = PeriodicTask.objects.filter(enabled=True, last_run_at__isnull=False) \
        .order_by("-last_run_at").values_list("last_run_at", flat=True).first()
    ages = [(timezone.now() - recorded) / timedelta(seconds=1)] if recorded else []
    seen = cache.get(BEAT_HEARTBEAT_KEY)
    if seen is not None:
        ages.append(time.time() - float(seen))
    limit = settings.HEALTH_BEAT_MAX_AGE_SECONDS
    if not ages:
        raise Stale("beat has not sent a periodic task yet")
    age = min(ages)
    if age > limit:
        raise Stale(f"beat sent no periodic task for {age:.0f} s (limit {limit} s)")
    return {"age_s": round(age, 1)}


CHECKS = {"database": check_database, "broker": check_broker, "redis": check_redis}
READY_CHECKS = {**CHECKS, "worker": check_worker, "beat": check_beat}


def run_checks(checks: dict) -> tuple[bool, dict]:
    results, healthy = {}, True
    for name, check in checks.items():
        started = time.monotonic()
        try:
            info = check() or {}
        except Stale as exc:
            healthy = False
            results[name] = {"ok": False, "error": str(exc)}
        except Exception as exc:  # any failure of a dependency is a 503, never a 500
            healthy = False
            results[name] = {"ok": False, "error": exc.__class__.__name__}
        else:
            results[name] = {"ok": True, **info}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return healthy, results


def _answer(checks: dict) -> JsonResponse:
    healthy, results = run_checks(checks)
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": results},
                        status=200 if healthy else 503)


@require_GET
def healthz(request):
    return _answer(CHECKS)


@require_GET
def healthz_live(request):
    return JsonResponse({"status": "ok"})


@require_GET
def healthz_ready(request):
    return _answer(READY_CHECKS)


def readiness_report(out) -> int:
    """`bin/ml-connector check`: the dependency checks, one line each; 0 when all pass."""
    healthy, results = run_checks(CHECKS)
    for name, result in results.items():
        out.write(f"{name}: {'ok' if result['ok'] else 'FAILED ' + result.get('error', '')}\n")
    return 0 if healthy else 1

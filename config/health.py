"""`/healthz`: one line per dependency, 200 when all answer, 503 when one does not."""

import time

from django.db import connections
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


CHECKS = {"database": check_database}


@require_GET
def healthz(request):
    results, healthy = {}, True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            info = check() or {}
        except Exception as exc:  # any failure of a dependency is a 503, never a 500
            healthy = False
            results[name] = {"ok": False, "error": exc.__class__.__name__}
        else:
            results[name] = {"ok": True, **info}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results}, status=200 if healthy else 503
    )


def check_broker() -> dict | None:
    from django.conf import settings

    if settings.TASKS_IN_PROCESS:
        return {"mode": "in-process"}
    from config.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


CHECKS["broker"] = check_broker

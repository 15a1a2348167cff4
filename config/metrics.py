"""`/metrics` for Prometheus: django-prometheus's HTTP and database figures and ours (core/metrics.py).

Answered only to a request carrying `Authorization: Bearer <METRICS_TOKEN>` or coming from an address in
METRICS_ALLOWED_NETWORKS; anyone else gets a 404 (the endpoint is not advertised). In multiprocess mode
(PROMETHEUS_MULTIPROC_DIR) the figures of every gunicorn and Celery process of the host are added up.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from core import metrics
from core.throttles import client_address

logger = logging.getLogger(__name__)


def metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    if settings.METRICS_ALLOWED_NETWORKS:
        try:
            address = ipaddress.ip_address(client_address(request))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(n) for n in settings.METRICS_ALLOWED_NETWORKS)
    return False


def refresh_queue_gauges() -> None:
    """Runs waiting for a worker (the database) and messages waiting in each broker queue."""
    from django.db.models import Min

    from core.tenancy import unscoped
    from sync.models import SyncRun

    with unscoped("queue gauges count every tenant's waiting runs"):
        queued = SyncRun.objects.filter(status=SyncRun.Status.QUEUED).aggregate(n=Min("created_at"))
        count = SyncRun.objects.filter(status=SyncRun.Status.QUEUED).count()
    metrics.QUEUED_RUNS.set(count)
    oldest = queued["n"]
    metrics.QUEUED_RUN_AGE.set((timezone.now() - oldest).total_seconds() if oldest else 0)
    from webhooks.models import WebhookDelivery

    with unscoped("queue gauges count every tenant's pending webhook deliveries"):
        pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        waiting = pending.aggregate(n=Min("created_at"))["n"]
        metrics.WEBHOOKS_PENDING.set(pending.count())
    metrics.WEBHOOKS_PENDING_AGE.set((timezone.now() - waiting).total_seconds() if waiting else 0)
    if settings.TASKS_IN_PROCESS:
        return
    from config.celery import app

    try:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            for queue in app.amqp.queues.values():
                try:
                    _, depth, _ = channel.queue_declare(queue=queue.name, passive=True)
                except Exception:  # noqa: BLE001 - a queue not declared yet holds nothing
                    depth = 0
                metrics.QUEUE_DEPTH.labels(queue=queue.name).set(depth)
    except Exception as exc:  # noqa: BLE001 - the broker check of /healthz says why; the scrape still answers
        logger.warning("broker queue depth unavailable: %s", exc.__class__.__name__)


@require_GET
def metrics_view(request):
    if not metrics_allowed(request):
        raise Http404
    refresh_queue_gauges()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

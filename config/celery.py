"""The Celery app. Tasks are thin: they take ids, load rows and call one service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("ml_connector")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {"sync.tasks.sync_tenant": {"queue": "sync"}}
app.autodiscover_tasks()

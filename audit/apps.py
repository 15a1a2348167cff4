from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from django.core.signals import request_finished

        # The buffered call log (fed by the HTTP layer, subscribed in ConnectionsConfig.ready) is written at
        # the end of every request and every Celery task.
        request_finished.connect(_flush, dispatch_uid="audit.api_calls_flush.request")
        try:
            from celery.signals import task_postrun
        except ImportError:  # pragma: no cover - celery is a requirement; keep the app importable without it
            return
        task_postrun.connect(_flush, dispatch_uid="audit.api_calls_flush.task", weak=False)


def _flush(**kwargs) -> None:
    from audit.services import api_calls_flush

    api_calls_flush()

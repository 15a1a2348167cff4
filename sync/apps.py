from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"

    def ready(self) -> None:
        # Register the Celery tasks in every process, so services queue them by name (sync.runs.lifecycle.task)
        # without importing the task module that imports them.
        from sync import tasks  # noqa: F401

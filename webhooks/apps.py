from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks to partners"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webhooks import tasks  # noqa: F401  (registers the delivery tasks)

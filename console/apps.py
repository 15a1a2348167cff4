from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """Admin extensions only: no models, no URLs of its own (its views hang under the models' admin URLs)."""

    name = "console"
    verbose_name = "Support console"

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandboxes (simulated QuickBooks Online and JAGGAER)"
    default_auto_field = "django.db.models.BigAutoField"

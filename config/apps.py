from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with the staff site of config/admin_site.py (second factor, POST-only actions)."""

    default_site = "config.admin_site.StaffAdminSite"

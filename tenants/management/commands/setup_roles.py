"""Create (or bring up to date) the two staff roles of the admin; README "Who can do what" is the matrix.

"Support (read-only)" may look at every page of the support console and run nothing that changes a
thing; "Support admin" may also change (map codes, edit connections, pause schedules, sync now, replay).
Neither may add or delete rows: tenants are made through the partner API, codes by the catalogs.
Neither may change a partner (its return origins decide where OAuth sends a browser back) or an API key,
nor move a tenant to another partner (the tenant's partner is read-only in the admin but for superusers).
Only models the admin shows get permissions. Run it after every deploy; it is idempotent and puts back any
permission removed by hand (and takes away any added by hand).
"""

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

READ_ONLY = "Support (read-only)"
ADMIN = "Support admin"
APPS = ["tenants", "connections", "sync", "audit", "reports"]
# Who may call the API and where a partner's customers are sent back: superusers only.
SUPERUSER_ONLY_MODELS = {"tenants.partner", "tenants.partnerapikey"}


def _shown_in_admin() -> set[str]:
    return {f"{model._meta.app_label}.{model._meta.model_name}" for model in admin.site._registry}


def role_permissions() -> dict[str, list[Permission]]:
    shown = _shown_in_admin()
    ours = [p for p in Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type")
            if f"{p.content_type.app_label}.{p.content_type.model}" in shown]
    view = [p for p in ours if p.codename.startswith("view_")]
    change = [p for p in ours if p.codename.startswith("change_")
              and f"{p.content_type.app_label}.{p.content_type.model}" not in SUPERUSER_ONLY_MODELS]
    return {READ_ONLY: view, ADMIN: view + change}


@transaction.atomic
def roles_setup() -> dict[str, int]:
    counts = {}
    for name, permissions in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
        counts[name] = len(permissions)
    return counts


class Command(BaseCommand):
    help = f'Create the staff groups "{READ_ONLY}" (view only) and "{ADMIN}" (view and change).'

    def handle(self, *args, **options):
        for name, n in roles_setup().items():
            if options["verbosity"]:
                self.stdout.write(f'"{name}": {n} permissions.')

"""python manage.py reconcile <tenant-slug> [--month 2026-11]: JAGGAER against QuickBooks for a month."""

from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor, ActorKind
from core.exceptions import ApplicationError
from core.tenancy import tenant_scope
from reports.models import ReportStatus
from reports.reconcile import reconciliation_perform, reconciliation_request
from tenants.commands import tenant_named

COMMAND_ACTOR = Actor(ActorKind.SYSTEM, "manage.py reconcile")


class Command(BaseCommand):
    help = "Reconcile one tenant's month now, in this process (the month before this one by default)."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug (unique per partner), or its id.")
        parser.add_argument("--month", default=None, help="YYYY-MM, in the tenant's time zone.")

    def handle(self, *args, tenant, month, **options):
        tenant_obj = tenant_named(tenant)
        with tenant_scope(tenant_obj):
            try:
                found = reconciliation_request(tenant=tenant_obj, actor=COMMAND_ACTOR, month=month, enqueue=False)
            except ApplicationError as e:
                raise CommandError(e.message) from None
            found = reconciliation_perform(reconciliation_id=found.pk)
        if found.status != ReportStatus.SUCCEEDED:
            raise CommandError(f"Reconciliation {found.pk} failed: {found.error_message}")
        self.stdout.write(reconciliation_text(found))


def reconciliation_text(found) -> str:
    summary = found.summary
    lines = [f"Reconciliation {found.pk} of {found.period_start:%Y-%m}: {summary['findings']} finding(s)"]
    for kind, n in summary["kinds"].items():
        lines.append(f"  {kind}: {n}")
    lines.append(f"  QuickBooks requests: {summary['requests']['qbo']}, JAGGAER pages: "
                 f"{summary['requests']['jaggaer_pages']}")
    return "\n".join(lines) + "\n"

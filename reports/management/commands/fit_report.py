"""python manage.py fit_report <tenant-slug> [--max-pages N]: what the next sync would do, with nothing written."""

from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor, ActorKind
from core.exceptions import ApplicationError
from core.tenancy import tenant_scope
from reports.fit import fit_report_perform, fit_report_request
from reports.models import ReportStatus
from tenants.commands import tenant_named

COMMAND_ACTOR = Actor(ActorKind.SYSTEM, "manage.py fit_report")


class Command(BaseCommand):
    help = "Run a fit report for one tenant now, in this process: the next sync in dry-run mode."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug (unique per partner), or its id.")
        parser.add_argument("--max-pages", type=int, default=None, help="JAGGAER pages read per entity at most.")

    def handle(self, *args, tenant, max_pages, **options):
        tenant_obj = tenant_named(tenant)
        with tenant_scope(tenant_obj):
            try:
                report = fit_report_request(tenant=tenant_obj, actor=COMMAND_ACTOR, max_pages=max_pages,
                                            enqueue=False)
            except ApplicationError as e:
                raise CommandError(e.message) from None
            report = fit_report_perform(report_id=report.pk)
        if report.status != ReportStatus.SUCCEEDED:
            raise CommandError(f"Fit report {report.pk} failed: {report.error_message}")
        self.stdout.write(fit_report_text(report))


def fit_report_text(report) -> str:
    summary = report.summary
    sample = summary["sample"]
    note = (f" (a SAMPLE: JAGGAER pages capped at {sample['max_pages']} for "
            f"{', '.join(sample['capped_entities'])})") if report.capped else ""
    lines = [f"Fit report {report.pk}{note}"]
    for entity, counts in summary["entities"].items():
        lines.append(f"  {entity}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for hold in summary["holds"]:
        lines.append(f"  held {hold['count']}: {hold['reason']}")
    for gap in summary["mapping_gaps"][:10]:
        lines.append(f"  unmapped {gap['kind']} {gap['code']} blocks {gap['records_blocked']} record(s)")
    budget = summary["budget"]
    lines.append(f"  QuickBooks: {budget['requests']} requests ({budget['reads']} reads, {budget['batches']} batches "
                 f"of {budget['writes']} writes), about {budget['seconds']} s at Intuit's limits")
    return "\n".join(lines) + "\n"

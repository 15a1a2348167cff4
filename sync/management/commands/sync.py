"""python manage.py sync <tenant-slug> [--full] [--entity ...]: one sync run in this process."""


from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.exceptions import Conflict
from core.tenancy import tenant_scope
from sync.models import SyncRun
from sync.pipeline.steps import STEP_NAMES
from sync.runs.lifecycle import sync_request, sync_run_perform
from tenants.commands import tenant_named

OUTCOMES = ("created", "updated", "unchanged", "held", "failed")


def _summary(counts: dict) -> str:
    return "  ".join(f"{k} {v}" for k, v in counts.items() if isinstance(v, int) and v)


class Command(BaseCommand):
    help = "Run a sync for one tenant now, in this process, with a progress bar per step."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug (unique per partner), or its id.")
        parser.add_argument("--full", action="store_true", help="Read everything, not only what changed.")
        parser.add_argument("--entity", action="append", choices=STEP_NAMES, dest="entities",
                            help="Run only this step (repeatable).")

    def handle(self, *args, tenant, full, entities, **options):
        tenant_obj = tenant_named(tenant)
        with tenant_scope(tenant_obj):
            self._sync(tenant_obj, full=full, entities=entities)

    def _sync(self, tenant_obj, *, full: bool, entities: list[str] | None) -> None:
        if not tenant_obj.is_active:
            raise CommandError(f"Tenant {tenant_obj.slug} is deactivated: nothing runs for it; reactivate it first.")
        console = Console(file=self.stdout._out if hasattr(self.stdout, "_out") else None)
        try:  # single flight: the same lease as runs from the API and the schedule
            run = sync_request(tenant=tenant_obj, trigger=SyncRun.Trigger.COMMAND, full=full, entities=entities,
                               enqueue=False)
        except Conflict as e:
            raise CommandError(f"{e.message} Running: {e.extra.get('run')}")
        tasks: dict[str, int] = {}
        with Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[step]:<10}"), BarColumn(),
                      TextColumn("{task.completed:>6} records  {task.fields[detail]}"), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            def report(step: str, counts: dict) -> None:
                if step not in tasks:
                    for other in tasks.values():
                        progress.update(other, total=progress.tasks[other].completed or 1)
                    tasks[step] = progress.add_task(step, total=None, step=step, detail="")
                done = sum(counts.get(k, 0) for k in OUTCOMES)
                progress.update(tasks[step], completed=done, detail=_summary(counts))

            run = sync_run_perform(run_id=run.pk, progress=report)
            for task in tasks.values():
                progress.update(task, total=progress.tasks[task].completed or 1)
        console.print(self._table(run))
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.error_code} {run.error_message}".strip())
        console.print(f"Run {run.pk} succeeded.")

    @staticmethod
    def _table(run: SyncRun) -> Table:
        table = Table(title=f"Sync of {run.tenant.slug} ({run.status})")
        table.add_column("step")
        for outcome in OUTCOMES:
            table.add_column(outcome, justify="right")
        for step, counts in run.counts.items():
            if step == "catalogs":
                continue
            table.add_row(step, *(str(counts.get(o, 0)) for o in OUTCOMES))
        catalogs = run.counts.get("catalogs")
        if catalogs:
            table.caption = "catalogs: " + _summary(catalogs)
        return table

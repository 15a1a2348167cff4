"""python manage.py demo: the whole product in one command (what `make demo` runs). See demo/scenario.py."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from demo.scenario import Options, run_demo


class Command(BaseCommand):
    help = ("Onboard a tenant through the REST API against both sandboxes, sync, change JAGGAER, inject faults, "
            "sync again and check the outcome. Uses its own fresh SQLite file; exit status 0 only when every "
            "check passed.")
    requires_system_checks = []   # the checks run against the demo's own database, after it is switched

    def add_arguments(self, parser):
        parser.add_argument("--dataset", choices=["small", "demo"], default="demo",
                            help="Sandbox data: demo (200 suppliers, 500 POs, 1,000 invoices) or small (tests).")
        parser.add_argument("--database-file", type=Path, default=settings.VAR_DIR / "demo.sqlite3",
                            help="The SQLite file the demo creates afresh (default var/demo.sqlite3).")
        parser.add_argument("--intuit-limits", action="store_true",
                            help="Run the QBO sandbox and our realm limiter at Intuit's real limits (slower).")
        parser.add_argument("--time-budget", type=float, default=120.0,
                            help="Seconds the whole demo may take (a check; 0 switches it off).")

    def handle(self, *args, dataset, database_file, intuit_limits, time_budget, **options):
        out = self.stdout._out
        # A terminal gets its own width; a pipe or a log file gets lines long enough not to wrap the tables.
        console = Console(file=out, highlight=False, width=None if out.isatty() else 132)
        checks = run_demo(Options(dataset=dataset, database_file=database_file, intuit_limits=intuit_limits,
                                  time_budget=time_budget), console)
        if checks.failed:
            names = "; ".join(f"{r.name} ({r.detail})" if r.detail else r.name for r in checks.failed)
            raise CommandError(f"demo failed: {names}")

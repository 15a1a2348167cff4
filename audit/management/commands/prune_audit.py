"""`manage.py prune_audit`: delete audit rows older than their retention period (beat runs it daily)."""

from django.core.management.base import BaseCommand, CommandError

import audit


class Command(BaseCommand):
    help = ("Delete record events and people's actions older than AUDIT_RETENTION_DAYS, and outbound calls older "
            "than API_CALL_RETENTION_DAYS, oldest first in batches of PRUNE_BATCH_SIZE rows.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Keep record events and actions this many days instead.")
        parser.add_argument("--api-call-days", type=int, help="Keep outbound calls this many days instead.")
        parser.add_argument("--batch", type=int, help="Rows deleted per statement.")

    def handle(self, *args, days=None, api_call_days=None, batch=None, **options):
        for name, value in (("--days", days), ("--api-call-days", api_call_days), ("--batch", batch)):
            if value is not None and value < 1:
                raise CommandError(f"{name} must be at least 1.")
        deleted = audit.audit_prune(days=days, api_call_days=api_call_days, batch=batch)
        self.stdout.write(", ".join(f"{name.replace('_', ' ')}: {count} deleted" for name, count in deleted.items()))

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from core.actor import Actor, ActorKind
from tenants.services import partner_create

COMMAND_ACTOR = Actor(ActorKind.SYSTEM, "manage.py create_partner")


class Command(BaseCommand):
    help = "Create a partner and print a new API key on the last line (shown once, stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The partner's company name.")
        parser.add_argument(
            "--return-origin", action="append", default=[], dest="origins",
            help="An origin (https://portal.example) the partner's portal may be sent back to after "
                 "QuickBooks authorization; repeat for several.",
        )

    def handle(self, *args, name, origins, **options):
        name = name.strip()
        if not name:
            raise CommandError("Give the partner a name, e.g. create_partner \"Acme Portal\".")
        try:
            partner, key = partner_create(name=name, return_url_origins=origins, actor=COMMAND_ACTOR)
        except IntegrityError:
            raise CommandError(f"A partner named '{name}' already exists.")
        self.stdout.write(f"Created partner '{partner.name}' ({partner.id}).")
        self.stdout.write("Its API key follows; it is shown only this once:")
        self.stdout.write(key)

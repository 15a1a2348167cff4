"""Re-encrypt every stored credential under the current CREDENTIALS_KEY, in one transaction.

Deploy the new key as CREDENTIALS_KEY, then run
    python manage.py rotate_credentials_key --old-key "$OLD_CREDENTIALS_KEY"
(or set OLD_CREDENTIALS_KEY and omit --old-key, which keeps the key out of the process list).
Values already under the new key are left alone, so a second run is harmless; one value readable
under neither key aborts the whole run and changes nothing.
"""

from __future__ import annotations

import os

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from core.crypto import CredentialDecryptionError, CredentialField, credentials_fernet, current_fernet


def credential_columns() -> list[tuple[type, list[CredentialField]]]:
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, CredentialField)]
        if fields:
            found.append((model, fields))
    return found


def _decrypt(fernet, token: bytes) -> bytes:
    try:
        return fernet.decrypt(bytes(token))
    except Exception as exc:  # noqa: BLE001 - BadSignature, InvalidToken: the key does not fit
        raise CredentialDecryptionError(str(type(exc).__name__)) from None


class Command(BaseCommand):
    help = "Re-encrypt every stored credential under the current CREDENTIALS_KEY (needs the previous key)."

    def add_arguments(self, parser):
        parser.add_argument("--old-key", help="The previous CREDENTIALS_KEY (default: $OLD_CREDENTIALS_KEY).")
        parser.add_argument("--dry-run", action="store_true", help="Check every value, change nothing.")

    def handle(self, *args, old_key: str | None = None, dry_run: bool = False, **options):
        old_key = old_key or os.environ.get("OLD_CREDENTIALS_KEY", "")
        if not old_key:
            raise CommandError("Give the previous key with --old-key or the OLD_CREDENTIALS_KEY variable.")
        if old_key == settings.CREDENTIALS_KEY:
            raise CommandError("--old-key equals the current CREDENTIALS_KEY: deploy the new key first.")
        old, new = credentials_fernet(old_key), current_fernet()
        rotated = already = 0
        quote = connection.ops.quote_name
        with transaction.atomic():
            for model, fields in credential_columns():
                table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
                columns = [quote(f.column) for f in fields]
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT {pk}, {', '.join(columns)} FROM {table} FOR UPDATE")  # noqa: S608
                    rows = cursor.fetchall()
                for row_pk, *values in rows:
                    updates = {}
                    for column, value in zip(columns, values, strict=True):
                        if value is None:
                            continue
                        try:
                            plain = _decrypt(old, value)
                        except CredentialDecryptionError:
                            try:
                                _decrypt(new, value)
                            except CredentialDecryptionError:
                                raise CommandError(
                                    f"{model._meta.label} {row_pk}: {column} is readable under neither key; "
                                    f"nothing was changed.") from None
                            already += 1
                            continue
                        updates[column] = new.encrypt(plain)
                        rotated += 1
                    if updates:
                        assignments = ", ".join(f"{c} = %s" for c in updates)
                        with connection.cursor() as cursor:
                            cursor.execute(f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608
                                           [*updates.values(), row_pk])
            if dry_run:
                transaction.set_rollback(True)
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"{verb} {rotated} value(s); {already} already under the current key.")

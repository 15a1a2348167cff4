"""What happened to one JAGGAER record in a run: the one vocabulary of the pipeline, the audit rows and the API.

- created / updated: written to QuickBooks.
- unchanged: nothing QuickBooks holds changed since the last sync.
- held: the record waits (malformed in JAGGAER, a mapping or a supplier missing...); released when fixed.
- failed: QuickBooks refused it, or an error of ours.
- skipped: not for QuickBooks (a Draft PO, a rejected invoice).
"""

from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    HELD = "held"
    FAILED = "failed"
    SKIPPED = "skipped"

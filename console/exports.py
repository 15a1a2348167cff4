"""CSV export of the selected rows of an admin list (holds, audit rows, API calls), streamed."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.redaction import redact_text


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    # A spreadsheet runs a cell that starts like a formula: quote it.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") and not text[1:2].isdigit() else text


def can_export(request) -> bool:
    """Customer data leaves the console in bulk: support admins (who may change held records) only."""
    return request.user.has_perm("sync.change_hold")


class ExportMixin:
    def has_export_permission(self, request):
        return can_export(request)


def csv_export_action(fields: list[str], name: str):
    @admin.action(description=f"Export the selected {name} as CSV", permissions=["export"])
    def export_csv(modeladmin, request, queryset):
        writer = csv.writer(_Echo())
        rows = queryset.order_by().values_list(*fields).iterator(chunk_size=2000)

        def lines():
            yield writer.writerow(fields)
            for row in rows:
                yield writer.writerow([redact_text(_cell(v)) for v in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="{name.replace(" ", "-")}-{stamp}.csv"'
        return response

    return export_csv

"""Tenant-scoped audit API: record rows (list and CSV), held records, replays, people's actions, call log."""

from __future__ import annotations

import csv
import json

from django.http import StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, renderers

from audit import selectors
from audit.filters import ActionFilter, ApiCallFilter, RecordEventFilter
from audit.models import Action, ApiCall, RecordEvent
from audit.serializers import (
    ActionSerializer,
    ApiCallSerializer,
    RecordEventSerializer,
)
from core.api import CursorPage
from core.exceptions import ApplicationError
from tenants.permissions import TenantScopedMixin

TAGS = ["audit"]


class RecordEventListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = RecordEvent.objects.none()     # for the schema; requests use get_queryset
    serializer_class = RecordEventSerializer
    filterset_class = RecordEventFilter
    pagination_class = CursorPage
    filter_backends = [DjangoFilterBackend]

    @extend_schema(description="One row per record per run: outcome (created, updated, unchanged, held, failed, "
                               "skipped), reason, message and the QuickBooks id written. Newest first, in cursor "
                               "pages: follow `next`.",
                   summary="What happened to each record: filter by run, entity, outcome, reason, source id, time",
                   tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.record_event_list(tenant=self.tenant)


# ---------------------------------------------------------------------------- CSV export

CSV_COLUMNS = ["Date (UTC)", "Time (UTC)", "Run", "Record type", "JAGGAER id", "Document number", "Outcome",
               "Reason", "Details", "QuickBooks id", "QuickBooks error code", "Intuit transaction id"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text a spreadsheet shows as text: a leading =, +, - or @ would be read as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows):
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)      # the BOM makes Excel read UTF-8
    for created_at, run_id, entity, source_id, data, outcome, reason, message, qbo_id, code, tid in rows:
        doc = (data or {}).get("doc_number", "") if isinstance(data, dict) else ""
        yield writer.writerow([created_at.strftime("%Y-%m-%d"), created_at.strftime("%H:%M:%S"), run_id or "",
                               _cell(entity), _cell(source_id), _cell(doc), outcome, _cell(reason), _cell(message),
                               _cell(qbo_id), _cell(code), _cell(tid)])


class CsvRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; errors are still JSON bodies."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


class RecordEventCsvApi(TenantScopedMixin, generics.GenericAPIView):
    queryset = RecordEvent.objects.none()
    filterset_class = RecordEventFilter
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(description="The same rows as /audit/records as a spreadsheet-safe CSV (UTF-8 with BOM), oldest "
                               "first. Give a run (`run`) or a period (`since`, `until`); 400 `period_required` "
                               "otherwise.",
                   summary="Export record rows as CSV for a run and/or a period (give run, or since/until)",
                   tags=TAGS, filters=True, responses={
                       (200, "text/csv"): OpenApiResponse(description="One line per record row, oldest first.")})
    def get(self, request, tenant_id):
        filterset = RecordEventFilter(request.query_params, queryset=selectors.record_event_list(tenant=self.tenant))
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        chosen = filterset.form.cleaned_data
        if not (chosen.get("run") or chosen.get("since") or chosen.get("until")):
            raise ApplicationError("Say what to export: a run (?run=<id>) and/or a period (?since=2025-01-01&until="
                                   "2025-02-01).", code="period_required",
                                   fields={"since": ["Give a run or a period."]})
        rows = (filterset.qs.order_by("created_at", "id")
                .values_list("created_at", "run_id", "entity", "source_id", "data", "outcome", "reason", "message",
                             "qbo_id", "qbo_error_code", "intuit_tid").iterator(chunk_size=2000))
        label = str(chosen["run"]) if chosen.get("run") else "-".join(
            chosen[k].strftime("%Y%m%d") for k in ("since", "until") if chosen.get(k))
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{self.tenant.slug}-{label}.csv"'
        return response


# ---------------------------------------------------------------------------- people's actions, call log

class ActionListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = Action.objects.none()
    serializer_class = ActionSerializer
    filterset_class = ActionFilter
    pagination_class = CursorPage
    filter_backends = [DjangoFilterBackend]

    @extend_schema(description="People's and systems' actions on this tenant (API keys and support staff): the action"
                               " code, who, what it changed (before and after) and the `request_id` of the API "
                               "request that did it. Newest first, in cursor pages: follow `next`.",
                   summary="Who did what to this tenant (API keys and staff), with before and after", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.action_list(tenant=self.tenant)


class ApiCallListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = ApiCall.objects.none()
    serializer_class = ApiCallSerializer
    filterset_class = ApiCallFilter
    pagination_class = CursorPage
    filter_backends = [DjangoFilterBackend]

    @extend_schema(description="Every attempt of every call made for this tenant: system, method, path (secrets "
                               "masked), status, error code, Intuit transaction id, duration, the run or the "
                               "`request_id` it was made for. Newest first, in cursor pages: follow `next`.",
                   summary="Outbound calls to JAGGAER and QuickBooks (each attempt; no secrets), kept for the "
                           "retention period", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.api_call_list(tenant=self.tenant)

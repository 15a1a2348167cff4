"""Tenant-scoped audit API: record rows (list and CSV), held records, replays, people's actions, call log."""

from __future__ import annotations

import csv
import json

import django_filters
from django.conf import settings
from django.db import connection
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, renderers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import selectors
from audit.filters import ActionFilter, ApiCallFilter, RecordEventFilter
from audit.models import Action, ApiCall, RecordEvent
from audit.serializers import (
    ActionSerializer,
    ApiCallSerializer,
    HoldSerializer,
    RecordEventSerializer,
    ReplayAnswerSerializer,
)
from config.throttles import PartnerKeyThrottle, SyncRequestThrottle
from core.actor import actor_from_request
from core.exceptions import ApplicationError
from sync.models import Hold, SyncRun
from sync.replay import replay_request, replay_run_perform, replay_targets_of_run
from sync.runs_api import SyncRunSerializer
from tenants.permissions import TenantScopedMixin

TAGS = ["audit"]


class RecordEventListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = RecordEvent.objects.none()     # for the schema; requests use get_queryset
    serializer_class = RecordEventSerializer
    filterset_class = RecordEventFilter
    ordering_fields = ["created_at"]

    @extend_schema(summary="What happened to each record: filter by run, entity, outcome, reason, source id, time",
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

    @extend_schema(summary="Export record rows as CSV for a run and/or a period (give run, or since/until)",
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


# ---------------------------------------------------------------------------- holds

class HoldFilter(django_filters.FilterSet):
    waits_on = django_filters.CharFilter(method="filter_waits_on", help_text="Held records waiting on this code.")

    class Meta:
        model = Hold
        fields = ["entity", "reason", "source_id", "waits_on"]

    def filter_waits_on(self, queryset, name, value):
        if connection.features.supports_json_field_contains:
            return queryset.filter(waits_on__contains=[value])
        # SQLite (the embedded default) has no JSON containment: narrow by text, then check exactly.
        candidates = queryset.filter(waits_on__icontains=value).values_list("pk", "waits_on")
        return queryset.filter(pk__in=[pk for pk, codes in candidates if value in (codes or [])])


class HoldListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = Hold.objects.none()
    serializer_class = HoldSerializer
    filterset_class = HoldFilter
    ordering_fields = ["first_held_at", "last_held_at", "entity"]

    @extend_schema(summary="Records held back, with the reason, what they wait on and since when", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return Hold.objects.for_tenant(self.tenant).defer("record").order_by("first_held_at", "pk")


# ---------------------------------------------------------------------------- replays

def _in_request() -> bool:
    return bool(settings.TASKS_IN_PROCESS or getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def _replay_answer(run: SyncRun, targets: dict[str, list[str]]) -> dict:
    records = []
    if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        records = selectors.record_event_list(tenant=run.tenant).filter(run_id=run.pk).order_by("id")[:100]
    return {"run": SyncRunSerializer(run).data, "records": RecordEventSerializer(records, many=True).data}


class RecordReplayApi(TenantScopedMixin, APIView):
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]
    path_max_lengths = {"entity": 40, "source_id": 200}

    @extend_schema(summary="Replay one record: read it again from JAGGAER and send it through the pipeline",
                   description="A replay is a run with trigger 'replay' (409 while another run goes). It writes "
                               "nothing when QuickBooks already has this version. Runs in the request when tasks "
                               "run in process (200), else queued (202).",
                   tags=TAGS, request=None, responses={200: ReplayAnswerSerializer, 202: ReplayAnswerSerializer})
    def post(self, request, tenant_id, entity, source_id):
        targets = {entity: [source_id]}
        inline = _in_request()
        run = replay_request(tenant=self.tenant, targets=targets, actor=actor_from_request(request),
                             enqueue=not inline)
        if inline:
            run = replay_run_perform(run_id=run.pk, targets=targets)
        run.refresh_from_db()
        code = status.HTTP_202_ACCEPTED if run.status == SyncRun.Status.QUEUED else status.HTTP_200_OK
        return Response(_replay_answer(run, targets), status=code)


class RunReplayFailedApi(TenantScopedMixin, APIView):
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]

    @extend_schema(summary="Replay every failed and held record of a run (as a new run with trigger 'replay')",
                   tags=TAGS, request=None, responses={202: ReplayAnswerSerializer})
    def post(self, request, tenant_id, run_id):
        origin = generics.get_object_or_404(SyncRun.objects.for_tenant(self.tenant), pk=run_id)
        targets = replay_targets_of_run(run=origin)
        run = replay_request(tenant=self.tenant, targets=targets, actor=actor_from_request(request),
                             origin_run=origin)
        run.refresh_from_db()
        answer = _replay_answer(run, targets)
        answer["targets"] = {entity: len(ids) for entity, ids in targets.items()}
        return Response(answer, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------------------- people's actions, call log

class ActionListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = Action.objects.none()
    serializer_class = ActionSerializer
    filterset_class = ActionFilter
    ordering_fields = ["created_at"]

    @extend_schema(summary="Who did what to this tenant (API keys and staff), with before and after", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.action_list(tenant=self.tenant)


class ApiCallListApi(TenantScopedMixin, generics.ListAPIView):
    queryset = ApiCall.objects.none()
    serializer_class = ApiCallSerializer
    filterset_class = ApiCallFilter
    ordering_fields = ["created_at", "duration_ms"]

    @extend_schema(summary="Outbound calls to JAGGAER and QuickBooks (each attempt; no secrets), kept for the "
                           "retention period", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.api_call_list(tenant=self.tenant)

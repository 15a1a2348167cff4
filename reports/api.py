"""The fit report and the reconciliation over the API: POST to ask (202), GET one, list, CSV of its rows."""

from __future__ import annotations

import csv
import json

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actor import actor_from_request
from core.api import CursorPage, StrictFieldsMixin
from core.throttles import PartnerKeyThrottle, SyncRequestThrottle
from reports import selectors
from reports.fit import fit_report_request
from reports.models import Finding, FitRecord, FitReport, Reconciliation
from reports.reconcile import reconciliation_request
from tenants.permissions import TenantScopedMixin

TAGS = ["reports"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


def _error(obj) -> dict | None:
    if not (obj.error_code or obj.error_message):
        return None
    return {"code": obj.error_code, "message": obj.error_message}


class FitReportSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    class Meta:
        model = FitReport
        fields = ["id", "status", "parameters", "capped", "summary", "error", "created_by", "created_at",
                  "started_at", "finished_at"]

    def get_error(self, obj) -> dict | None:
        return _error(obj)


class FitRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = FitRecord
        fields = ["id", "entity", "source_id", "prediction", "outcome", "reason", "qbo_id", "rule", "waits_on",
                  "message"]


class FitReportRequestSerializer(StrictSerializer):
    max_pages = serializers.IntegerField(required=False, min_value=1,
                                         help_text="JAGGAER pages read per entity at most; the report is marked "
                                                   "as a sample when there were more.")


class ReconciliationSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()
    month = serializers.SerializerMethodField()

    class Meta:
        model = Reconciliation
        fields = ["id", "status", "month", "period_start", "period_end", "summary", "error", "created_by",
                  "created_at", "started_at", "finished_at"]

    def get_error(self, obj) -> dict | None:
        return _error(obj)

    def get_month(self, obj) -> str:
        return f"{obj.period_start:%Y-%m}"


class FindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Finding
        fields = ["id", "kind", "severity", "entity", "jaggaer_id", "qbo_id", "jaggaer_value", "qbo_value", "action",
                  "action_detail"]


class ReconciliationRequestSerializer(StrictSerializer):
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False,
                                   help_text="The calendar month, YYYY-MM, in the tenant's time zone; the month "
                                             "before the current one when omitted.")


# ---------------------------------------------------------------------------- CSV

def _cell(value) -> str:
    """Text a spreadsheet shows as text: a leading =, +, - or @ would be read as a formula."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False) if value else ""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(columns: list[str], rows) -> StreamingHttpResponse:
    def lines():
        writer = csv.writer(_Echo())
        yield "\ufeff" + writer.writerow(columns)     # the BOM makes Excel read UTF-8
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])
    return StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")


class CsvRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; errors are still JSON bodies."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


# ---------------------------------------------------------------------------- fit reports

class FitReportListApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = FitReportSerializer
    pagination_class = CursorPage
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]

    def get_queryset(self):
        return selectors.fit_report_list(tenant=self.tenant)

    @extend_schema(summary="List the tenant's fit reports (newest first)",
                   description="Every fit report asked for this tenant, with its status and summary.", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Ask for a fit report: what the next sync would do, with nothing written",
                   description="Reads JAGGAER and QuickBooks exactly as a sync would (same validation, mappings and "
                               "vendor matching) but writes nothing to QuickBooks and keeps nothing of the run. "
                               "Answers 202; GET the report until its status is succeeded or failed. The summary "
                               "gives, per entity, how many records would be created, linked to an existing "
                               "QuickBooks object, updated, left unchanged, skipped or held; the hold reasons with "
                               "their records and what releases them; the mapping gaps ranked by the records they "
                               "block; and the QuickBooks requests and time the sync needs at Intuit's limits. "
                               "`capped` says the report read only `max_pages` JAGGAER pages of some entity.",
                   tags=TAGS, request=FitReportRequestSerializer,
                   responses={202: FitReportSerializer,
                              409: OpenApiResponse(description="A sync of the tenant is running.")})
    def post(self, request, *args, **kwargs):
        body = FitReportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = fit_report_request(tenant=self.tenant, actor=actor_from_request(request),
                                    max_pages=body.validated_data.get("max_pages"))
        report.refresh_from_db()
        return Response(FitReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class FitReportDetailApi(TenantScopedMixin, generics.RetrieveAPIView):
    serializer_class = FitReportSerializer
    lookup_url_kwarg = "report_id"

    def get_queryset(self):
        return selectors.fit_report_list(tenant=self.tenant)

    @extend_schema(summary="Show a fit report: status and summary",
                   description="Its status and, once finished, the summary per entity: what the next sync would "
                               "create, link, update, leave unchanged, skip or hold, and why.", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class FitRecordListApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = FitRecordSerializer
    filterset_fields = ["entity", "prediction", "reason"]
    queryset = FitRecord.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        report = generics.get_object_or_404(selectors.fit_report_list(tenant=self.tenant), pk=self.kwargs["report_id"])
        return selectors.fit_record_list(report=report)

    @extend_schema(summary="List a fit report's records: each one's predicted outcome and reason",
                   description="Each record the report read, with the outcome the next sync would give it and the "
                               "reason; filter by entity and outcome.", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


FIT_COLUMNS = ["Record type", "JAGGAER id", "Prediction", "Outcome", "Reason", "QuickBooks id", "Link rule",
               "Waits on", "Details"]


class FitReportCsvApi(TenantScopedMixin, APIView):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(summary="Export a fit report's records as CSV",
                   description="One line per record of the report with its predicted outcome and reason, "
                               "spreadsheet-safe.", tags=TAGS, responses={
        (200, "text/csv"): OpenApiResponse(description="One line per record.")})
    def get(self, request, tenant_id, report_id):
        report = generics.get_object_or_404(selectors.fit_report_list(tenant=self.tenant), pk=report_id)
        rows = selectors.fit_record_list(report=report).values_list(
            "entity", "source_id", "prediction", "outcome", "reason", "qbo_id", "rule", "waits_on", "message"
        ).iterator(chunk_size=2000)
        response = _csv(FIT_COLUMNS, rows)
        response["Content-Disposition"] = f'attachment; filename="fit-report-{self.tenant.slug}-{report.pk}.csv"'
        return response


# ---------------------------------------------------------------------------- reconciliations

class ReconciliationListApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = ReconciliationSerializer
    pagination_class = CursorPage
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]

    def get_queryset(self):
        return selectors.reconciliation_list(tenant=self.tenant)

    @extend_schema(summary="List the tenant's reconciliations (newest first)",
                   description="Every month-end reconciliation asked for this tenant, with its status and counts of "
                               "findings.", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Ask for a reconciliation of JAGGAER with QuickBooks for a month",
                   description="Compares the month's approved invoices, purchase orders and the suppliers with "
                               "QuickBooks: suppliers without a vendor or linked to an inactive or deleted one, "
                               "vendors made in QuickBooks that match a supplier, invoices without a bill, bills "
                               "that differ from their invoice (amount, vendor, date, lines), bills paid in "
                               "QuickBooks, purchase orders whose status disagrees, duplicate vendors and bills. "
                               "Each finding has a severity, both sides' values and the action that resolves it: "
                               "replay, forget_link, map, or manual (a step in QuickBooks, named). Answers 202; GET "
                               "it until its status is succeeded or failed.",
                   tags=TAGS, request=ReconciliationRequestSerializer, responses={202: ReconciliationSerializer})
    def post(self, request, *args, **kwargs):
        body = ReconciliationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        found = reconciliation_request(tenant=self.tenant, actor=actor_from_request(request),
                                       month=body.validated_data.get("month"))
        found.refresh_from_db()
        return Response(ReconciliationSerializer(found).data, status=status.HTTP_202_ACCEPTED)


class ReconciliationDetailApi(TenantScopedMixin, generics.RetrieveAPIView):
    serializer_class = ReconciliationSerializer
    lookup_url_kwarg = "reconciliation_id"

    def get_queryset(self):
        return selectors.reconciliation_list(tenant=self.tenant)

    @extend_schema(summary="Show a reconciliation: status and findings per kind and severity",
                   description="Its status and, once finished, how many findings of each kind and severity it found.",
                   tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class FindingListApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = FindingSerializer
    filterset_fields = ["kind", "severity", "action"]
    queryset = Finding.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        found = generics.get_object_or_404(selectors.reconciliation_list(tenant=self.tenant),
                                           pk=self.kwargs["reconciliation_id"])
        return selectors.finding_list(reconciliation=found)

    @extend_schema(summary="List a reconciliation's findings",
                   description="Each difference found between JAGGAER and QuickBooks for the month, with its "
                               "severity, both sides' values and the action that resolves it.", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


FINDING_COLUMNS = ["Kind", "Severity", "Record type", "JAGGAER id", "QuickBooks id", "JAGGAER value",
                   "QuickBooks value", "Action", "What to do"]


class ReconciliationCsvApi(TenantScopedMixin, APIView):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(summary="Export a reconciliation's findings as CSV",
                   description="One line per finding: kind, severity, both sides' ids and values and what to do, "
                               "spreadsheet-safe.", tags=TAGS, responses={
        (200, "text/csv"): OpenApiResponse(description="One line per finding.")})
    def get(self, request, tenant_id, reconciliation_id):
        found = generics.get_object_or_404(selectors.reconciliation_list(tenant=self.tenant), pk=reconciliation_id)
        rows = selectors.finding_list(reconciliation=found).values_list(
            "kind", "severity", "entity", "jaggaer_id", "qbo_id", "jaggaer_value", "qbo_value", "action",
            "action_detail").iterator(chunk_size=2000)
        response = _csv(FINDING_COLUMNS, rows)
        response["Content-Disposition"] = (f'attachment; filename="reconciliation-{self.tenant.slug}-'
                                           f'{found.period_start:%Y-%m}.csv"')
        return response

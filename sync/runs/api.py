"""Runs on demand: POST to start (202, or 409 while one runs), GET to follow, POST to cancel."""

import logging

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.selectors import record_event_list
from audit.serializers import RecordEventSerializer
from core.actor import actor_from_request
from core.api import CursorPage, StrictFieldsMixin, no_body
from core.throttles import PartnerKeyThrottle, SyncRequestThrottle
from sync.models import SyncRun
from sync.pipeline.steps import STEP_NAMES
from sync.runs.lifecycle import (
    record_replay_request,
    replay_request,
    runs_perform_in_request,
    sync_request,
    sync_run_cancel,
    sync_run_perform,
)
from sync.runs.replay import replay_targets_of_run
from sync.runs.selectors import run_list, run_progress
from tenants.permissions import TenantScopedMixin

logger = logging.getLogger(__name__)

REPLAY_TAGS = ["audit"]   # where partners find replays in the API docs, next to the records they replay


class SyncRunErrorSerializer(serializers.Serializer):
    system = serializers.CharField(help_text="'jaggaer', 'qbo', or empty when the error is ours.")
    code = serializers.CharField()
    message = serializers.CharField(help_text="What happened and what to do, for a person.")


class RunProgressSerializer(serializers.Serializer):
    step = serializers.CharField(allow_null=True, help_text="The step running now (or the last one run).")
    seen = serializers.IntegerField(help_text="Records of the step handled so far.")
    total = serializers.IntegerField(allow_null=True, help_text="JAGGAER's count of the step's records, when it "
                                                                "gives one (an estimate: records change meanwhile).")
    percent = serializers.FloatField(allow_null=True, help_text="seen / total, 0-100; null without a total.")
    step_started_at = serializers.DateTimeField(allow_null=True)
    elapsed_seconds = serializers.FloatField(allow_null=True, help_text="Since the run started (to its end once "
                                                                        "finished).")
    updated_at = serializers.DateTimeField(allow_null=True, help_text="When the progress was last written.")


class SyncRunSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()
    duration_seconds = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    entities = serializers.ListField(child=serializers.ChoiceField(choices=STEP_NAMES), read_only=True,
                                     help_text="Steps asked for; empty means all.")
    counts = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()), read_only=True,
        help_text="Per step, records per outcome (created, updated, unchanged, held, failed, skipped), and "
                  "`still_held`: records on hold the run left untouched (what they wait on did not change), e.g. "
                  "{\"suppliers\": {\"created\": 3, \"held\": 1, \"still_held\": 4}}.")

    class Meta:
        model = SyncRun
        fields = ["id", "trigger", "status", "full", "entities", "counts", "progress", "error", "cancel_requested",
                  "request_id", "created_at", "started_at", "finished_at", "duration_seconds"]

    @extend_schema_field(RunProgressSerializer)
    def get_progress(self, run) -> dict:
        return RunProgressSerializer(run_progress(run)).data

    @extend_schema_field(SyncRunErrorSerializer(allow_null=True))
    def get_error(self, run) -> dict | None:
        if not (run.error_code or run.error_message):
            return None
        return {"system": run.error_system, "code": run.error_code, "message": run.error_message}

    def get_duration_seconds(self, run) -> float | None:
        if run.started_at and run.finished_at:
            return round((run.finished_at - run.started_at).total_seconds(), 3)
        return None


class SyncRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    full = serializers.BooleanField(default=False, help_text="Read everything, not only what changed.")
    entities = serializers.ListField(child=serializers.ChoiceField(choices=STEP_NAMES), required=False,
                                     max_length=len(STEP_NAMES),
                                     help_text="Steps to run; all when omitted.")


class SyncRunListApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = SyncRunSerializer
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]
    filterset_fields = ["status", "trigger"]
    pagination_class = CursorPage
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return run_list(tenant=self.tenant)

    @extend_schema(description="Scheduled, requested and replay runs, newest first, with their status, counts per "
                               "step and outcome, progress and error. Cursor pages: follow `next`.",
                   summary="List the tenant's sync runs (newest first)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(description="Queues a run of all steps (or of `entities`), reading only what changed since the "
                               "last run unless `full`. Answers 202 with the run; follow it with GET "
                               "…/syncs/{run_id}. 409 `sync_already_running` while another run of the tenant is "
                               "queued or running; 409 `connection_not_usable` when a connection is missing, needs "
                               "re-authorization or is in error (the error says which and what to do). Send an "
                               "`Idempotency-Key` to retry safely.",
                   summary="Start a sync now", request=SyncRequestSerializer,
                   responses={202: SyncRunSerializer, 409: OpenApiResponse(description="A run is already going; "
                              "error.run names it.")})
    def post(self, request, *args, **kwargs):
        body = SyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = sync_request(tenant=self.tenant, trigger=SyncRun.Trigger.API, full=body.validated_data["full"],
                           entities=body.validated_data.get("entities"), actor=actor_from_request(request),
                           check_connections=True)
        run.refresh_from_db()
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunDetailApi(TenantScopedMixin, generics.RetrieveAPIView):
    serializer_class = SyncRunSerializer
    lookup_url_kwarg = "run_id"

    def get_queryset(self):
        return run_list(tenant=self.tenant)

    @extend_schema(description="Status, counts per step and outcome, progress (the step running, records seen of "
                               "JAGGAER's total, percent, elapsed time) and the error that stopped it.",
                   summary="Show a sync run: status, counts per entity and outcome, the error that stopped it")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SyncRunCancelApi(TenantScopedMixin, APIView):
    @extend_schema(description="A queued run does not start; a running one stops after its current batch. Answers "
                               "202; the run's status becomes cancelled. Takes no body.",
                   summary="Ask a run to stop (it stops between batches)", request=None,
                   responses={202: SyncRunSerializer})
    @no_body
    def post(self, request, *args, tenant_id=None, run_id=None):
        run = generics.get_object_or_404(run_list(tenant=self.tenant), pk=run_id)
        run = sync_run_cancel(run=run, actor=actor_from_request(request))
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------------------- replays

class ReplayAnswerSerializer(serializers.Serializer):
    run = SyncRunSerializer(help_text="The replay run (trigger 'replay').")
    records = RecordEventSerializer(many=True, help_text="What happened to the replayed records (once finished).")


class ReplayFailedAnswerSerializer(ReplayAnswerSerializer):
    targets = serializers.DictField(child=serializers.IntegerField(), help_text="Records replayed per entity.")


def _replay_answer(run: SyncRun, targets: dict[str, list[str]]) -> dict:
    records = []
    if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
        records = record_event_list(tenant=run.tenant).filter(run_id=run.pk).order_by("id")[:100]
    return {"run": SyncRunSerializer(run).data, "records": RecordEventSerializer(records, many=True).data}


class RecordReplayApi(TenantScopedMixin, APIView):
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]
    path_max_lengths = {"entity": 40, "source_id": 200}

    @extend_schema(summary="Replay one record: read it again from JAGGAER and send it through the pipeline",
                   description="A replay is a run with trigger 'replay' (409 while another run goes). It writes "
                               "nothing when QuickBooks already has this version. Runs in the request when tasks "
                               "run in process (200), else queued (202).",
                   tags=REPLAY_TAGS, request=None, responses={200: ReplayAnswerSerializer, 202: ReplayAnswerSerializer})
    @no_body
    def post(self, request, tenant_id, entity, source_id):
        targets = {entity: [source_id]}
        inline = runs_perform_in_request()
        run = record_replay_request(tenant=self.tenant, entity=entity, source_id=source_id,
                                    actor=actor_from_request(request), enqueue=not inline)
        if inline:
            run = sync_run_perform(run_id=run.pk)
        run.refresh_from_db()
        code = status.HTTP_202_ACCEPTED if run.status == SyncRun.Status.QUEUED else status.HTTP_200_OK
        return Response(_replay_answer(run, targets), status=code)


class RunReplayFailedApi(TenantScopedMixin, APIView):
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]

    @extend_schema(description="Queues a replay run of the run's failed and held records. 400 `nothing_to_replay` "
                               "when there are none; 409 while another run goes or a connection cannot be used.",
                   summary="Replay every failed and held record of a run (as a new run with trigger 'replay')",
                   tags=REPLAY_TAGS, request=None, responses={202: ReplayFailedAnswerSerializer})
    @no_body
    def post(self, request, tenant_id, run_id):
        origin = generics.get_object_or_404(run_list(tenant=self.tenant), pk=run_id)
        targets = replay_targets_of_run(run=origin)
        run = replay_request(tenant=self.tenant, targets=targets, actor=actor_from_request(request),
                             origin_run=origin, check_connections=True)
        run.refresh_from_db()
        answer = _replay_answer(run, targets)
        answer["targets"] = {entity: len(ids) for entity, ids in targets.items()}
        return Response(answer, status=status.HTTP_202_ACCEPTED)

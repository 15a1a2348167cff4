"""Runs on demand: POST to start (202, or 409 while one runs), GET to follow, POST to cancel."""

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_body
from config.throttles import PartnerKeyThrottle, SyncRequestThrottle
from core.actor import actor_from_request
from sync.models import SyncRun
from sync.pipeline.steps import STEP_NAMES
from sync.runs import sync_request
from sync.services import sync_run_cancel
from tenants.permissions import TenantScopedMixin

logger = logging.getLogger(__name__)


class SyncRunSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = ["id", "trigger", "status", "full", "entities", "counts", "error", "cancel_requested",
                  "created_at", "started_at", "finished_at", "duration_seconds"]

    def get_error(self, run) -> dict | None:
        if not (run.error_code or run.error_message):
            return None
        return {"system": run.error_system, "code": run.error_code, "message": run.error_message}

    def get_duration_seconds(self, run) -> float | None:
        if run.started_at and run.finished_at:
            return round((run.finished_at - run.started_at).total_seconds(), 3)
        return None


class SyncRequestSerializer(serializers.Serializer):
    full = serializers.BooleanField(default=False, help_text="Read everything, not only what changed.")
    entities = serializers.ListField(child=serializers.ChoiceField(choices=STEP_NAMES), required=False,
                                     max_length=len(STEP_NAMES),
                                     help_text="Steps to run; all when omitted.")


class SyncRunListApi(TenantScopedMixin, generics.ListAPIView):
    serializer_class = SyncRunSerializer
    throttle_classes = [PartnerKeyThrottle, SyncRequestThrottle]
    filterset_fields = ["status", "trigger"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return SyncRun.objects.for_tenant(self.tenant).order_by("-created_at")

    @extend_schema(summary="List the tenant's sync runs (newest first)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Start a sync now", request=SyncRequestSerializer,
                   responses={202: SyncRunSerializer, 409: OpenApiResponse(description="A run is already going; "
                              "error.run names it.")})
    def post(self, request, *args, **kwargs):
        body = SyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = sync_request(tenant=self.tenant, trigger=SyncRun.Trigger.API, full=body.validated_data["full"],
                           entities=body.validated_data.get("entities"), actor=actor_from_request(request))
        run.refresh_from_db()
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunDetailApi(TenantScopedMixin, generics.RetrieveAPIView):
    serializer_class = SyncRunSerializer
    lookup_url_kwarg = "run_id"

    def get_queryset(self):
        return SyncRun.objects.for_tenant(self.tenant)

    @extend_schema(summary="Show a sync run: status, counts per entity and outcome, the error that stopped it")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SyncRunCancelApi(TenantScopedMixin, APIView):
    @extend_schema(summary="Ask a run to stop (it stops between batches)", request=None,
                   responses={202: SyncRunSerializer})
    def post(self, request, *args, tenant_id=None, run_id=None):
        run = generics.get_object_or_404(SyncRun.objects.for_tenant(self.tenant), pk=run_id)
        run = sync_run_cancel(run=run, actor=actor_from_request(request))
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@csrf_exempt
@require_POST
def qbo_webhook(request):
    """Intuit's webhook: verify the signature, answer at once, do the work in a task."""
    from connections.models import QboConnection
    from sync.tasks import process_qbo_webhook
    from sync.webhooks import WebhookRejected, parse_notification, signature_valid

    body = request.body
    if not signature_valid(body=body, signature=request.headers.get("intuit-signature"),
                           verifier_token=settings.QBO_WEBHOOK_VERIFIER_TOKEN):
        return HttpResponse(status=401)
    try:
        changes = parse_notification(body)
    except WebhookRejected as e:
        logger.info("QBO webhook rejected: %s", e)
        return JsonResponse(error_body("invalid_webhook", str(e)), status=400)
    realms = {c.realm_id for c in changes}
    known = set(QboConnection.objects.filter(realm_id__in=realms).values_list("realm_id", flat=True))
    if realms - known:
        return HttpResponse(status=401)
    if changes:
        process_qbo_webhook.delay([c.__dict__ for c in changes])
    return HttpResponse(status=200)

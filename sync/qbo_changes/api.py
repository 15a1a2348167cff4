"""Intuit's webhook endpoint: POST /webhooks/qbo."""

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.api import error_body

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def qbo_webhook(request):
    """Intuit's webhook: verify the signature, answer at once, do the work in a task."""
    from sync.qbo_changes.services import qbo_realms_unknown
    from sync.qbo_changes.webhooks import WebhookRejected, parse_notification, signature_valid
    from sync.tasks import process_qbo_webhook

    body = request.body
    if not signature_valid(body=body, signature=request.headers.get("intuit-signature"),
                           verifier_token=settings.QBO_WEBHOOK_VERIFIER_TOKEN):
        return HttpResponse(status=401)
    try:
        changes = parse_notification(body)
    except WebhookRejected as e:
        logger.info("QBO webhook rejected: %s", e)
        return JsonResponse(error_body("invalid_webhook", str(e)), status=400)
    if qbo_realms_unknown(realms={c.realm_id for c in changes}):
        return HttpResponse(status=401)
    if changes:
        process_qbo_webhook.delay([c.__dict__ for c in changes])
    return HttpResponse(status=200)

"""`Idempotency-Key` on the partner API's POST and PUT requests, stored per partner for 24 hours.

- The first request with a key claims it (one row, unique per partner and key) and runs; a successful
  answer (2xx) is stored with its status and body.
- The same key with the same request (method, path, body) gets the stored answer again, with the header
  `Idempotent-Replayed: true`, and nothing runs twice.
- The same key with another request: 422 `idempotency_key_reused`.
- The same key while its first request still runs: 409 `idempotency_request_in_progress`.
- An error answer is not stored: the claim is released and a retry with the key runs again (services
  change nothing when they refuse).
Keys older than IDEMPOTENCY_KEY_HOURS are pruned by `tenants.tasks.prune_idempotency_keys`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from core import context
from core.api import error_body
from tenants.auth import principal_for_request
from tenants.models import IdempotencyKey, Partner

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
METHODS = ("POST", "PUT")
API_PREFIX = "/api/"
_ACCEPTED_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")     # printable ASCII, no spaces


def _lifetime() -> dt.timedelta:
    return dt.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """The same request whatever the key order or spacing of its JSON body."""
    try:
        canonical = json.dumps(json.loads(body or b"{}"), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


class Replay:
    def __init__(self, row: IdempotencyKey):
        self.row = row


class Refusal:
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


def idempotency_claim(*, partner: Partner, key: str, fingerprint: str, method: str,
                      path: str) -> IdempotencyKey | Replay | Refusal:
    """Claims `key` for this request, or says why it cannot run (a stored answer to replay, or a refusal)."""
    now = timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(partner=partner, key=key, fingerprint=fingerprint,
                                                     method=method, path=path[:2000],
                                                     request_id=context.request_id() or "")
        except IntegrityError:
            pass
        found = IdempotencyKey.objects.filter(partner=partner, key=key).first()
        if found is None:
            continue                                     # released between our insert and our read: try again
        stale = found.status_code is None and found.created_at < now - dt.timedelta(
            seconds=settings.IDEMPOTENCY_IN_PROGRESS_SECONDS)
        if found.created_at < now - _lifetime() or stale:
            IdempotencyKey.objects.filter(pk=found.pk).delete()  # expired, or its request died: start afresh
            continue
        if found.fingerprint != fingerprint:
            return Refusal(422, "idempotency_key_reused",
                           f"This Idempotency-Key was used for another request ({found.method} {found.path} with "
                           f"another body) in the last {settings.IDEMPOTENCY_KEY_HOURS} hours; use a new key for "
                           f"a new request.")
        if found.status_code is None:
            return Refusal(409, "idempotency_request_in_progress",
                           "A request with this Idempotency-Key is still being processed; retry in a moment to get "
                           "its answer.")
        return Replay(found)
    return Refusal(409, "idempotency_request_in_progress",
                   "A request with this Idempotency-Key is being processed; retry in a moment.")


def idempotency_complete(*, claim: IdempotencyKey, response) -> None:
    """Stores a successful answer; releases the claim of any other (a retry runs again)."""
    storable = 200 <= response.status_code < 300 and not getattr(response, "streaming", False)
    if not storable:
        IdempotencyKey.objects.filter(pk=claim.pk).delete()
        return
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        status_code=response.status_code, content_type=response.get("Content-Type", "")[:200],
        body=response.content.decode("utf-8", errors="replace"), completed_at=timezone.now())


def idempotency_keys_prune(*, now: dt.datetime | None = None) -> int:
    """Deletes the keys older than their lifetime; returns how many."""
    cutoff = (now or timezone.now()) - _lifetime()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _replayed(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(row.body, status=row.status_code, content_type=row.content_type or "application/json")
    response[REPLAYED_HEADER] = "true"
    return response


class IdempotencyMiddleware:
    """Applies `Idempotency-Key` to the API's POST and PUT requests of an authenticated partner."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if key is None or request.method not in METHODS or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if not _ACCEPTED_KEY.match(key):
            return JsonResponse(error_body("invalid_idempotency_key", "An Idempotency-Key is 1 to 255 printable "
                                           "characters without spaces (a UUID is a good choice).",
                                           {HEADER: ["Not a usable key."]}), status=400)
        principal = principal_for_request(request)
        if principal is None:
            return self.get_response(request)      # the API answers the missing or wrong key (401)
        fingerprint = request_fingerprint(request.method, request.get_full_path(), request.body)
        claim = idempotency_claim(partner=principal.partner, key=key, fingerprint=fingerprint,
                                  method=request.method, path=request.get_full_path())
        if isinstance(claim, Replay):
            return _replayed(claim.row)
        if isinstance(claim, Refusal):
            return JsonResponse(error_body(claim.code, claim.message), status=claim.status)
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyKey.objects.filter(pk=claim.pk).delete()
            raise
        idempotency_complete(claim=claim, response=response)
        return response

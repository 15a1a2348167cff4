"""One error format for every 4xx, one domain error type, and the API's pagination.

Every error answer has the body ``{"error": {"code", "message", "fields"}}``: ``code`` is
machine-readable, ``message`` tells a person what to fix, ``fields`` maps a field name to
its problems (empty when the error is not about fields).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import context
from core.exceptions import ApplicationError
from core.parsers import NUL_MESSAGE, has_nul

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    body = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra)
    body.setdefault("request_id", context.request_id())   # the X-Request-Id of this request, to quote to support
    return {"error": body}


# ---------------------------------------------------------------------------- strict bodies

UNKNOWN_FIELD = "unknown_field"


def _unknown_fields_error(unknown: list[str], accepted) -> exceptions.ValidationError:
    accepted = sorted(accepted)
    said = ", ".join(accepted) if accepted else "none: send no body"
    return exceptions.ValidationError(
        {name: [exceptions.ErrorDetail(f"Unknown field; accepted fields: {said}.", code=UNKNOWN_FIELD)]
         for name in unknown})


class StrictFieldsMixin:
    """Serializer mixin: a body field the serializer does not declare is refused (400 naming it), never ignored.
    Put it first in the bases of every serializer that reads a request body (nested ones too)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                raise _unknown_fields_error(unknown, [n for n, f in self.fields.items() if not f.read_only])
        return super().to_internal_value(data)


def refuse_body(request) -> None:
    """An operation that takes no body refuses one with fields (an empty body or `{}` is fine)."""
    data = request.data
    if isinstance(data, Mapping):
        if data:
            raise _unknown_fields_error(sorted(str(name) for name in data), [])
    elif data not in (None, "", [], b""):
        raise ApplicationError("This operation takes no request body; send none (or {}).", code="unexpected_body")


def no_body(handler):
    """Decorates a view method (POST, PUT, PATCH, DELETE) that takes no body: fields sent anyway are a 400."""

    @functools.wraps(handler)
    def checked(self, request, *args, **kwargs):
        refuse_body(request)
        return handler(self, request, *args, **kwargs)

    return checked


def _leaf_codes(codes) -> list:
    if isinstance(codes, dict):
        return [c for value in codes.values() for c in _leaf_codes(value)]
    if isinstance(codes, list):
        return [c for value in codes for c in _leaf_codes(value)]
    return [codes]


def _unknown_paths(detail, prefix: str = "") -> list[str]:
    found = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            place = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}" if prefix else str(key)
            found += _unknown_paths(value, place)
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            if any(item.code == UNKNOWN_FIELD for item in detail):
                found.append(prefix)
        else:
            for index, item in enumerate(detail):
                found += _unknown_paths(item, f"{prefix}[{index}]")
    return found


_DEFAULT_CODES = {
    exceptions.ParseError: ("malformed_body", "The request body is not valid JSON: {detail}"),
    exceptions.NotAuthenticated: (
        "not_authenticated",
        "Send a partner API key in the header 'Authorization: Api-Key <key>'.",
    ),
    exceptions.NotFound: ("not_found", "Nothing exists at this address for your API key."),
    exceptions.MethodNotAllowed: ("method_not_allowed", "{detail}"),
    exceptions.NotAcceptable: ("not_acceptable", "{detail}"),
    exceptions.UnsupportedMediaType: (
        "unsupported_media_type",
        "{detail} Send JSON with 'Content-Type: application/json'.",
    ),
    exceptions.Throttled: ("throttled", "{detail}"),
    exceptions.PermissionDenied: ("permission_denied", "{detail}"),
}


def _flatten(detail) -> object:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _first_message(fields: dict) -> str:
    for name, problems in fields.items():
        problem = problems
        while isinstance(problem, (list, dict)) and problem:
            problem = problem[0] if isinstance(problem, list) else next(iter(problem.values()))
        label = "the request" if name == "non_field_errors" else f"'{name}'"
        return f"Fix {label}: {problem}"
    return "The request is not valid."


class RejectNulMiddleware:
    """A NUL in the path or query string is a 400 in the error format, not a database error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "") or any(
                has_nul(v) for v in request.GET.lists()):
            return JsonResponse(error_body("invalid_characters", NUL_MESSAGE), status=400)
        return self.get_response(request)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)) and context.get("request"):
        from core.throttles import authentication_failed

        authentication_failed(context["request"])  # counted per client address (API_THROTTLE_AUTH_FAILURES)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = _flatten(detail)
        else:
            fields = {"non_field_errors": _flatten(detail if isinstance(detail, list) else [detail])}
        codes = _leaf_codes(exc.get_codes())
        if codes and all(code == UNKNOWN_FIELD for code in codes):
            names = _unknown_paths(detail)
            response.data = error_body("unknown_fields", f"Unknown field{'s' if len(names) > 1 else ''} in the "
                                       f"request body: {', '.join(names)}. Remove {'them' if len(names) > 1 else 'it'}"
                                       f" (see error.fields for the accepted ones).", fields)
            return response
        response.data = error_body("validation_error", _first_message(fields), fields)
        return response

    code, template = "error", "{detail}"
    for klass, (default_code, default_template) in _DEFAULT_CODES.items():
        if isinstance(exc, klass):
            code, template = default_code, default_template
            break
    detail_code = getattr(exc, "default_code", None)
    if isinstance(exc, exceptions.AuthenticationFailed):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "authentication_failed"
        template = "{detail}"
    elif detail_code and code == "error":
        code = detail_code
    response.data = error_body(code, template.format(detail=str(exc.detail)))
    return response


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def json_error_view(status_code: int, code: str, message: str):
    def view(request, exception=None):
        return JsonResponse(error_body(code, message), status=status_code)

    return view


handler404 = json_error_view(404, "not_found", "Nothing exists at this address.")
handler400 = json_error_view(400, "bad_request", "The request could not be understood.")
handler403 = json_error_view(403, "permission_denied", "You may not do this.")


def handler500(request):
    logger.error("Unhandled server error on %s %s", request.method, request.path)
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; it has been logged."), status=500
    )

"""One error format for every 4xx, one domain error type, and the API's pagination.

Every error answer has the body ``{"error": {"code", "message", "fields"}}``: ``code`` is
machine-readable, ``message`` tells a person what to fix, ``fields`` maps a field name to
its problems (empty when the error is not about fields).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param
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


def rfc3339(value: dt.datetime | None) -> str | None:
    """A time as the API writes every time: RFC 3339 in UTC, ending in `Z` (as DRF's DateTimeField does)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


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


class CursorPage(BasePagination):
    """Pages of a growing list (audit rows, calls, actions, runs, holds), newest first, by keyset: a page
    starts after the (time, id) of the last row seen, so rows added meanwhile never shift or repeat one.
    Follow `next` (an opaque cursor); the id breaks ties of equal times."""

    ordering: tuple[str, str] = ("-created_at", "-id")   # both descending; the second is unique
    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_query_param = "cursor"

    def _page_size(self, request) -> int:
        size = api_settings.PAGE_SIZE or 50
        raw = request.query_params.get(self.page_size_query_param)
        if raw:
            try:
                size = max(1, min(int(raw), self.max_page_size))
            except ValueError:
                raise ApplicationError("page_size must be a whole number.", code="invalid_page_size",
                                       fields={"page_size": ["A whole number from 1 to 500."]}) from None
        return size

    def _decode(self, raw: str) -> tuple[list, bool]:
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
            position, backwards = data["p"], bool(data.get("b"))
            if not (isinstance(position, list) and len(position) == 2):
                raise ValueError
            return [dt.datetime.fromisoformat(position[0]), position[1]], backwards
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error):
            raise ApplicationError("This cursor is not valid: follow the 'next' or 'previous' links as given.",
                                   code="invalid_cursor", fields={"cursor": ["Not a cursor of this list."]}) from None

    def _encode(self, row, backwards: bool) -> str:
        first, second = (name.lstrip("-") for name in self.ordering)
        value = getattr(row, first)
        ident = getattr(row, second)
        payload = {"p": [value.isoformat(), ident if isinstance(ident, int) else str(ident)]}
        if backwards:
            payload["b"] = 1
        raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, raw)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self._page_size(request)
        first, second = (name.lstrip("-") for name in self.ordering)
        raw = request.query_params.get(self.cursor_query_param)
        position, backwards = self._decode(raw) if raw else (None, False)
        if position is None:
            rows = queryset.order_by(f"-{first}", f"-{second}")
        elif backwards:
            rows = queryset.filter(Q(**{f"{first}__gt": position[0]}) | Q(
                **{first: position[0], f"{second}__gt": position[1]})).order_by(first, second)
        else:
            rows = queryset.filter(Q(**{f"{first}__lt": position[0]}) | Q(
                **{first: position[0], f"{second}__lt": position[1]})).order_by(f"-{first}", f"-{second}")
        page = list(rows[:size + 1])
        more = len(page) > size
        page = page[:size]
        if backwards:
            page.reverse()
        has_next = more if not backwards else True
        has_previous = position is not None if not backwards else more
        self.next_link = self._encode(page[-1], False) if page and has_next else None
        self.previous_link = self._encode(page[0], True) if page and has_previous else None
        return page

    def get_paginated_response(self, data):
        return Response({"next": self.next_link, "previous": self.previous_link, "results": data})

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        return {"type": "object", "required": ["next", "previous", "results"], "properties": {
            "next": {**link, "description": "The next (older) page; null on the last one."},
            "previous": {**link, "description": "The previous (newer) page; null on the first one."},
            "results": schema}}

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query", "schema": {"type": "string"},
             "description": "Where the page starts: the cursor of a `next` or `previous` link."},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
             "description": f"Rows per page (default {api_settings.PAGE_SIZE}, at most {self.max_page_size})."},
        ]


def cursor_page(*ordering: str) -> type[CursorPage]:
    """A cursor pagination over (time field, unique field), newest first."""
    return type("CursorPage", (CursorPage,), {"ordering": tuple(ordering)})


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

"""Request body parsers of the API (a module of its own: DRF imports it while reading its settings)."""

import io
import re

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from core.exceptions import ApplicationError

NUL_MESSAGE = "The request contains a NUL character (\\u0000), which no field accepts; remove it."
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(raw: bytes | str) -> int:
    """How deeply arrays and objects nest in a JSON text, found without parsing it (no recursion)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    deepest = depth = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def depth_message(limit: int) -> str:
    return f"The JSON nests arrays and objects more than {limit} levels deep; send a flatter body."


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    """JSON bodies, refusing deep nesting and NUL characters up front (PostgreSQL text cannot hold NUL)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        limit = settings.API_MAX_JSON_DEPTH
        if json_depth(raw) > limit:
            raise ApplicationError(depth_message(limit), code="too_deeply_nested")
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        if has_nul(data):
            raise exceptions.ParseError(NUL_MESSAGE)
        return data

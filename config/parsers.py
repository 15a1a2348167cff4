"""Request body parsers of the API (a module of its own: DRF imports it while reading its settings)."""

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

NUL_MESSAGE = "The request contains a NUL character (\\u0000), which no field accepts; remove it."


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class StrictJSONParser(JSONParser):
    """JSON bodies, refusing NUL characters up front (PostgreSQL text cannot hold them)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if has_nul(data):
            raise exceptions.ParseError(NUL_MESSAGE)
        return data

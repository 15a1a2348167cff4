"""What never leaves ml-connector in a log line or the outbound call log: values of secret-looking keys.

`sanitize_path` is what the call log shows of a URL (secret query values masked, long values cut);
`redact_text` masks `key=value` pairs and `"key": "value"` items in free text; the
`RedactQueryStrings` filter is installed on urllib3's request-line logger when this module loads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Query-string keys whose values are never reported (the value is replaced by "***").
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|code|key|signature|assertion|state|auth|session|jwt)",
                         re.IGNORECASE)
# Keys whose values are reported, but shortened: a QBO query can be long, and is only there to help a reader.
_TRUNCATED_KEYS = {"query": 120}
_MAX_VALUE_CHARS = 80
SECRET_MASK = "***"

_SECRET_WORDS = r"(?:token|secret|password|passwd|code|key|signature|assertion|state|auth|session|jwt)"
# key=value in a query string or form body, and 'key': 'value' in a logged dict or JSON.
_SECRET_PAIR = re.compile(r"(^|[?&;\s])([^=&\s\"']*" + _SECRET_WORDS + r"[^=&\s\"']*)=([^&\s\"']*)",
                          re.IGNORECASE)
_SECRET_ITEM = re.compile(r"([\"'][^\"']*" + _SECRET_WORDS + r"[^\"']*[\"']\s*:\s*)([\"'])[^\"']*\2",
                          re.IGNORECASE)


def redact_text(text: str) -> str:
    """Mask the values of secret-looking parameters in free text (a logged URL, form body or dict)."""
    text = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}={SECRET_MASK}", text)
    return _SECRET_ITEM.sub(lambda m: f"{m.group(1)}{m.group(2)}{SECRET_MASK}{m.group(2)}", text)


class RedactQueryStrings(logging.Filter):
    """urllib3 logs each request line with its full query string at DEBUG: mask secret values in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _install_log_redaction() -> None:
    for name in ("urllib3.connectionpool", "requests_oauthlib.oauth2_session", "oauthlib"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactQueryStrings) for f in target.filters):
            target.addFilter(RedactQueryStrings())


_install_log_redaction()


def sanitize_path(url: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> str:
    """The URL path and query string, with values of secret-looking keys masked and long values cut."""
    split = urlsplit(url)
    pairs: list[tuple[str, Any]] = list(parse_qsl(split.query, keep_blank_values=True))
    if params:
        items = params.items() if isinstance(params, Mapping) else params
        for key, value in items:
            if value is None:
                continue
            if isinstance(value, list | tuple):
                pairs.extend((key, v) for v in value)
            else:
                pairs.append((key, value))
    shown = []
    for key, value in pairs:
        key = str(key)
        value = str(value)
        if key.lower() in _TRUNCATED_KEYS:
            limit = _TRUNCATED_KEYS[key.lower()]
            value = value if len(value) <= limit else value[:limit] + "…"
        elif _SECRET_KEY.search(key):
            value = SECRET_MASK
        elif len(value) > _MAX_VALUE_CHARS:
            value = value[:_MAX_VALUE_CHARS] + "…"
        shown.append(f"{key}={value}")
    path = split.path or "/"
    return f"{path}?{'&'.join(shown)}" if shown else path

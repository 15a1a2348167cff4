"""Log filters: an access log line never keeps an OAuth `code`, a `state` or a token-looking query value."""

from __future__ import annotations

import logging
import re

# A query value that looks like a credential whatever its name: a JWT, or a long run of token characters.
_TOKEN_VALUE = re.compile(r"([?&;][^=&\s\"']+=)(eyJ[\w\-]*\.[\w\-.]*|[A-Za-z0-9_\-.~+/%]{32,})(?=[&\s\"']|$)")
MASK = "***"


def redact_access_line(text: str) -> str:
    from core.redaction import redact_text

    return _TOKEN_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", redact_text(text))


class RedactQueryValues(logging.Filter):
    """Masks secret query values (by name: code, state, token, key...; or by looks) in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        redacted = redact_access_line(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True

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


# ----------------------------------------------------------------------------- JSON lines (structlog)

def _context_ids(_logger, _name, event_dict: dict) -> dict:
    """Every line carries the five context ids of core.context (null when the line is about none)."""
    from core import context

    for name in context.FIELDS:
        event_dict.setdefault(name, context.get(name))
    return event_dict


def _redact(_logger, _name, event_dict: dict) -> dict:
    """The message, the traceback and every string field pass the same masking as the access lines."""
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = redact_access_line(value)
    return event_dict


def _processor_formatter():
    import structlog

    pre_chain = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _context_ids,
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _redact,
                    structlog.processors.JSONRenderer(sort_keys=False, default=str)],
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, event (the message), the context ids, any
    `extra=` fields, and the traceback as `exception`; secret-looking values masked."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self._inner = _processor_formatter()

    def format(self, record: logging.LogRecord) -> str:
        return self._inner.format(record)

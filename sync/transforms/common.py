"""Helpers every transform shares: strict field access, dates, digests, QBO name rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from typing import Any

QBO_NAME_MAX = 500
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WHITESPACE = re.compile(r"\s+")


class InvalidRecord(ValueError):
    """The source record cannot be synced as it is: a person has to fix it in JAGGAER."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def required(record: dict, key: str, *, label: str | None = None) -> Any:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidRecord(f"Required field '{label or key}' is missing.", field=label or key)
    return value


def parse_timestamp(value: Any, *, field: str) -> dt.datetime:
    """An ISO-8601 timestamp (UTC when it has no offset); anything else is an invalid record."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value.strip()):
        raise InvalidRecord(f"Field '{field}' is not an ISO-8601 timestamp: {value!r}.", field=field)
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRecord(f"Field '{field}' is not a valid timestamp: {value!r}.", field=field)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_date(value: Any, *, field: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise InvalidRecord(f"Field '{field}' is not a date (YYYY-MM-DD): {value!r}.", field=field)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRecord(f"Field '{field}' is not a valid date: {value!r}.", field=field)


def digest(record: dict, *, version: str) -> str:
    """Fingerprint of a source record (and of the transform version that wrote it)."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{version}\n{canonical}".encode()).hexdigest()


def clean_name(value: str, *, limit: int = QBO_NAME_MAX) -> str:
    """A name QBO accepts: no ':' tab or newline, single spaces, trimmed, at most `limit` characters."""
    text = unicodedata.normalize("NFC", value)
    text = re.sub(r"\s*:\s*", " - ", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if text.endswith(" -"):  # a trailing ':' became " - "
        text = text[:-2].rstrip()
    if text.startswith("- "):
        text = text[2:]
    if len(text) > limit:
        text = text[:limit].rstrip()
    return text


def normalize_name(value: str) -> str:
    """The form two names are compared in: trimmed, whitespace folded, case-insensitive."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", value)).strip().casefold()


def text_or_none(value: Any, *, limit: int) -> str | None:
    if value is None:
        return None
    text = _WHITESPACE.sub(" ", str(value)).strip()
    return text[:limit] if text else None

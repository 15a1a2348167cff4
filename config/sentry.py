"""Optional error reports to Sentry (sentry-sdk), on when SENTRY_DSN is set.

No secret leaves in an event: no default PII, no request bodies, no local variables, and `scrub_event`
masks what is left (headers such as Authorization and Cookie, values under secret-looking keys, and
`key=value` secrets in any string) before anything is sent.
"""

from __future__ import annotations

import re

from core.redaction import redact_text

MASK = "***"
_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|cookie|api[-_]?key|credential|session|"
                         r"signature|code|state|dsn|private", re.IGNORECASE)
# Long runs of token characters (bearer tokens, JWTs, refresh tokens) wherever they appear in free text.
_TOKEN_RUN = re.compile(r"\b(eyJ[\w\-]*\.[\w\-.]+|[A-Za-z0-9_\-]{32,})\b")


def _scrub_text(text: str) -> str:
    return _TOKEN_RUN.sub(MASK, redact_text(text))


def _scrub(value, key: str = ""):
    if key and _SECRET_KEY.search(key) and isinstance(value, str | bytes | int | float) and \
            not isinstance(value, bool):
        return MASK
    if isinstance(value, dict):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Sentry's before_send (and before_breadcrumb): the event with every secret masked."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        if isinstance(request.get("query_string"), str):
            request["query_string"] = _scrub_text(request["query_string"])
    return _scrub(event)


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float = 0.0, transport=None) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    options = {"transport": transport} if transport is not None else {}
    sentry_sdk.init(
        dsn=dsn, environment=environment, traces_sample_rate=traces_sample_rate,
        # No personal data is the SDK's default (send_default_pii stays unset); no locals, no request bodies.
        include_local_variables=False, max_request_body_size="never",
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=scrub_event, before_breadcrumb=lambda crumb, hint: _scrub(crumb),
        **options,
    )

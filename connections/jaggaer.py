"""The JAGGAER connection: configure and clear it, and the rules its settings follow.

The API base URL is checked against its form and the outbound policy; a dialect override against the
client's DEFAULT_DIALECT; and credentials follow their host: a change of the base URL or token path
needs the client secret in the same call (the stored secret never goes to a new address).
Secrets come in through these functions and never go out of them: answers, log lines and error
messages carry statuses, codes and the last four characters of a client id at most.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

import audit
from connections import tokens
from connections.clients.jaggaer import DEFAULT_DIALECT, effective_dialect
from connections.clients.outbound import JAGGAER_POLICY, is_this_machine
from connections.models import ConnectionStatus, JaggaerConnection
from core.exceptions import ApplicationError
from tenants.models import Tenant

logger = logging.getLogger(__name__)

_UNSET = object()


def jaggaer_api_base_url_error(url: str) -> str | None:
    """Why `url` cannot be a JAGGAER API base URL, or None: its form, then the outbound policy (public hosts
    only, https in production, JAGGAER_ALLOWED_HOSTS when set), checked against what the name resolves to now."""
    try:
        split = urlsplit(url)
        split.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "Enter a valid URL such as https://acme.api.jaggaer.com."
    host = (split.hostname or "").lower()
    if split.scheme not in ("http", "https") or not host:
        return "Enter a valid URL such as https://acme.api.jaggaer.com."
    if split.username or split.password:
        return "Do not put credentials in the URL: send client_id and client_secret."
    if split.query or split.fragment:
        return "The API base URL takes no query string or fragment."
    if split.scheme != "https" and not is_this_machine(host):
        return "Use https:// (plain http is accepted only for 127.0.0.1 and localhost, in development)."
    problem = JAGGAER_POLICY.configuration_problem(url)
    if problem:
        return f"{problem[:1].upper()}{problem[1:]}: enter the public https:// address of your JAGGAER instance."
    return None


def jaggaer_secret_destination_changes(*, connection: JaggaerConnection, api_base_url: Any = _UNSET,
                                       dialect: Any = _UNSET) -> list[str]:
    """The settings among `api_base_url` and the dialect's `token_path` that would change where the client
    secret is posted (empty when neither changes)."""
    changed = []
    if api_base_url is not _UNSET and connection.api_base_url and \
            str(api_base_url).strip().rstrip("/") != connection.api_base_url:
        changed.append("api_base_url")
    if dialect is not _UNSET and connection.api_base_url and \
            tokens.jaggaer_token_path(dialect) != tokens.jaggaer_token_path(connection.dialect):
        changed.append("dialect.token_path")
    return changed


SECRET_FOLLOWS_HOST_MESSAGE = ("Changing {fields} changes where the client secret is sent: send client_secret in "
                               "the same request (the stored secret never goes to a new address).")


def jaggaer_secret_follows_host_error(*, connection: JaggaerConnection, api_base_url: Any = _UNSET,
                                      dialect: Any = _UNSET, secret_given: bool) -> str | None:
    """Credentials follow their host: a change of the base URL or token path needs the secret again."""
    changed = jaggaer_secret_destination_changes(connection=connection, api_base_url=api_base_url,
                                                 dialect=dialect)
    if changed and not secret_given:
        return SECRET_FOLLOWS_HOST_MESSAGE.format(fields=" and ".join(changed))
    return None


def jaggaer_dialect_errors(overrides: Any) -> dict[str, list[str]]:
    """Problems of a dialect override document, by key (empty when it is valid).

    Only keys of the client's DEFAULT_DIALECT are known; a value has the type of its default; paths
    start with "/"; the page size is a whole number from 1 to 1000; the client gets the last word.
    """

    if not isinstance(overrides, dict):
        return {"dialect": ["Send an object of overrides, e.g. {\"page_size\": 100}."]}
    defaults = DEFAULT_DIALECT
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    for key, value in overrides.items():
        if key not in defaults:
            add(key, f"Unknown setting. Known: {', '.join(sorted(defaults))}.")
            continue
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                add(key, "Must be an object.")
                continue
            for sub, sub_value in value.items():
                if sub not in default:
                    add(f"{key}.{sub}", f"Unknown key. Known: {', '.join(sorted(default))}.")
                elif not isinstance(sub_value, str) or not sub_value.strip():
                    add(f"{key}.{sub}", "Must be a non-empty string.")
                elif key == "paths" and not sub_value.startswith("/"):
                    add(f"{key}.{sub}", "Must be a path starting with '/'.")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                add(key, "Must be true or false.")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                add(key, "Must be a whole number.")
            elif key == "page_size" and not 1 <= value <= 1000:
                add(key, "Must be between 1 and 1000.")
            elif value < 0:
                add(key, "Must not be negative.")
        elif isinstance(default, str):
            if not isinstance(value, str) or not value.strip():
                add(key, "Must be a non-empty string.")
            elif key.endswith("_path") and not value.startswith("/"):
                add(key, "Must be a path starting with '/'.")
        elif not isinstance(value, type(default)):
            add(key, f"Must be of type {type(default).__name__}.")
    if not errors:
        try:
            effective_dialect(overrides)
        except ValueError as exc:
            add("dialect", str(exc))
    return errors


def jaggaer_audit_view(connection: JaggaerConnection) -> dict:
    """What the people audit keeps of a JAGGAER connection: never a secret, only whether one is set."""
    return {"api_base_url": connection.api_base_url, "client_id_last4": connection.client_id_last4,
            "client_id_set": bool(connection.client_id), "client_secret_set": bool(connection.client_secret),
            "dialect": connection.dialect, "status": connection.status}


def _audit(code: str, *, actor, connection: JaggaerConnection, before: dict, data: dict | None = None) -> None:
    audit.action(code, actor=actor, tenant_id=connection.tenant_id, target_type="connection", target_id="jaggaer",
                 before=before, after=jaggaer_audit_view(connection), data=data)


@transaction.atomic
def jaggaer_connection_configure(*, tenant: Tenant, actor, api_base_url: Any = _UNSET, client_id: Any = _UNSET,
                                 client_secret: Any = _UNSET, dialect: Any = _UNSET) -> JaggaerConnection:
    """Set some or all of the JAGGAER settings; a changed host or credential drops the cached token and
    resets the status and failure count (the previous verdict was about other settings).

    The stored client secret never follows a new base URL or token path: such a change needs the secret in
    the same call (ApplicationError otherwise). The API and the admin both come here; the people audit gets
    one `connection.jaggaer.configure` row by `actor`, in the same transaction."""
    connection, _ = JaggaerConnection.objects.select_for_update().get_or_create(tenant=tenant)
    before = jaggaer_audit_view(connection)
    moved = jaggaer_secret_destination_changes(connection=connection, api_base_url=api_base_url, dialect=dialect)
    secret_error = jaggaer_secret_follows_host_error(
        connection=connection, api_base_url=api_base_url, dialect=dialect,
        secret_given=client_secret is not _UNSET and bool(client_secret))
    if secret_error:
        raise ApplicationError(secret_error, code="client_secret_required",
                               fields={"client_secret": [secret_error]})
    credentials_changed = False
    if api_base_url is not _UNSET:
        error = api_base_url and jaggaer_api_base_url_error(api_base_url)
        if error:
            raise ApplicationError(error, code="validation_error", fields={"api_base_url": [error]})
        new_url = api_base_url.rstrip("/")
        credentials_changed |= new_url != connection.api_base_url
        connection.api_base_url = new_url
    if client_id is not _UNSET:
        credentials_changed |= client_id != connection.client_id
        connection.client_id = client_id
    if client_secret is not _UNSET:
        credentials_changed = True
        connection.client_secret = client_secret or None
    if dialect is not _UNSET:
        errors = jaggaer_dialect_errors(dialect)
        if errors:
            raise ApplicationError(next(iter(errors.values()))[0], code="validation_error",
                                   fields={"dialect": errors})
        credentials_changed |= (dialect or {}).get("token_path") != (connection.dialect or {}).get("token_path")
        connection.dialect = dialect or {}
    if credentials_changed:
        connection.access_token = None
        connection.access_token_expires_at = None
        # The previous verdict was about other settings; the next call or ping gives a new one.
        connection.status = ConnectionStatus.CONNECTED if connection.is_configured else ConnectionStatus.NOT_CONFIGURED
        connection.status_reason = "" if connection.is_configured else "API base URL, client id or secret missing"
        connection.consecutive_failures = 0
    connection.save()
    _audit("connection.jaggaer.configure", actor=actor, connection=connection, before=before,
           data={"client_secret_changed": client_secret is not _UNSET,
                 **({"destination_changed": moved} if moved else {})})
    logger.info("JAGGAER connection of tenant %s configured (client id ...%s)", tenant.pk, connection.client_id_last4)
    return connection


@transaction.atomic
def jaggaer_connection_clear(*, tenant: Tenant, actor) -> JaggaerConnection:
    """Forget the JAGGAER credentials and token (the row and its history stay); audited as
    `connection.jaggaer.clear`."""
    connection, _ = JaggaerConnection.objects.select_for_update().get_or_create(tenant=tenant)
    before = jaggaer_audit_view(connection)
    connection.client_secret = None
    connection.access_token = None
    connection.access_token_expires_at = None
    connection.client_id = ""
    connection.status = ConnectionStatus.NOT_CONFIGURED
    connection.status_reason = "credentials removed"
    connection.save()
    _audit("connection.jaggaer.clear", actor=actor, connection=connection, before=before)
    return connection

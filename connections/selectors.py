"""Reads of connections. A tenant without a row reads as an unsaved, `not_configured` connection."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from tenants.models import Tenant


def jaggaer_connection_get(*, tenant: Tenant) -> JaggaerConnection:
    return JaggaerConnection.objects.for_tenant(tenant).first() or JaggaerConnection(tenant=tenant)


def qbo_connection_get(*, tenant: Tenant) -> QboConnection:
    return QboConnection.objects.for_tenant(tenant).first() or QboConnection(tenant=tenant)


def qbo_connections_due_for_keep_alive(*, idle_for: dt.timedelta, now: dt.datetime | None = None) -> QuerySet:
    """Connected QBO connections whose refresh token was last rotated more than `idle_for` ago."""
    cutoff = (now or timezone.now()) - idle_for
    return (QboConnection.objects
            .filter(status=ConnectionStatus.CONNECTED, refresh_token__isnull=False)
            .filter(Q(last_refreshed_at__isnull=True) | Q(last_refreshed_at__lt=cutoff))
            .order_by("last_refreshed_at"))

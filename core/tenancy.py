"""Tenant scope that fails loudly.

Rows that belong to a tenant are read through `TenantOwnedManager`, whose querysets are filtered to
the active scope: the tenant the API request, task or pipeline run entered with `tenant_scope(...)`.
Outside any scope a query raises `ScopeMissing` instead of quietly reading every tenant's rows. The
few jobs that work across tenants (the dispatcher, QBO change reconciliation, the support console)
say so out loud with `unscoped()`.

The scope is a context variable, so it follows the code through threads started with
`contextvars.copy_context()` and is never shared between two concurrent requests.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import models


class ScopeMissing(RuntimeError):
    """A tenant-owned table was queried with no tenant scope active."""


@dataclass(frozen=True)
class Scope:
    tenant_id: Any = None   # None with unscoped=True: every tenant
    unscoped: bool = False
    reason: str = ""


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("tenant_scope", default=None)


def _tenant_id(tenant: Any) -> Any:
    return getattr(tenant, "pk", tenant)


@contextmanager
def tenant_scope(tenant: Any) -> Iterator[Scope]:
    """Queries of tenant-owned rows inside this block see only `tenant`'s rows (a Tenant or its id)."""
    if tenant is None or _tenant_id(tenant) is None:
        raise ValueError("tenant_scope needs a saved tenant")
    token = _scope.set(Scope(tenant_id=_tenant_id(tenant)))
    try:
        yield _scope.get()
    finally:
        _scope.reset(token)


@contextmanager
def unscoped(reason: str = "") -> Iterator[Scope]:
    """Queries inside this block see every tenant's rows: for the few jobs that are cross-tenant by nature."""
    token = _scope.set(Scope(unscoped=True, reason=reason))
    try:
        yield _scope.get()
    finally:
        _scope.reset(token)


@contextmanager
def no_scope() -> Iterator[None]:
    """Forget any scope entered outside (each request starts here): code must enter its own."""
    token = _scope.set(None)
    try:
        yield
    finally:
        _scope.reset(token)


def scope_enter(tenant: Any) -> contextvars.Token:
    """`tenant_scope` for code that cannot wrap a block (a view's initial/finalize); pair with `scope_leave`."""
    return _scope.set(Scope(tenant_id=_tenant_id(tenant)))


def scope_leave(token: contextvars.Token) -> None:
    _scope.reset(token)


class RequestScopeMiddleware:
    """Each request starts with no scope: a tenant-scoped API view enters its tenant's. A staff user in
    the admin (the support console, cross-tenant by nature) works unscoped."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        staff = getattr(getattr(request, "user", None), "is_staff", False)
        if staff and request.path.startswith(settings.ADMIN_URL_PREFIX):
            with unscoped("support console"):
                return self.get_response(request)
        with no_scope():
            return self.get_response(request)


def current_scope() -> Scope | None:
    return _scope.get()


class TenantOwnedQuerySet(models.QuerySet):
    """Rows of one tenant. A queryset made outside any scope (a form field's choices built at import,
    say) is not refused at once: it takes the scope that is active when it runs, and raises
    `ScopeMissing` if there is none."""

    _scope_pending = False

    def for_tenant(self, tenant):
        return self.filter(tenant=tenant)

    def for_partner(self, partner):
        return self.filter(tenant__partner=partner)

    def _clone(self):
        clone = super()._clone()
        clone._scope_pending = self._scope_pending
        return clone

    def _bind_scope(self) -> None:
        if not self._scope_pending:
            return
        scope = _scope.get()
        if scope is None:
            raise ScopeMissing(
                f"{self.model.__name__} rows belong to a tenant: read them inside tenant_scope(tenant), "
                f"or inside unscoped() for a job that works across tenants.")
        if not scope.unscoped:
            self.query.add_q(models.Q(tenant_id=scope.tenant_id))
        self._scope_pending = False

    # Every way a queryset reaches the database binds the scope first.
    def _fetch_all(self):
        self._bind_scope()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._bind_scope()
        return super().iterator(*args, **kwargs)

    def count(self):
        self._bind_scope()
        return super().count()

    def exists(self):
        self._bind_scope()
        return super().exists()

    def contains(self, obj):
        self._bind_scope()
        return super().contains(obj)

    def aggregate(self, *args, **kwargs):
        self._bind_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._bind_scope()
        return super().update(**kwargs)

    def _update(self, values):
        self._bind_scope()
        return super()._update(values)

    def delete(self):
        self._bind_scope()
        return super().delete()

    def explain(self, **options):
        self._bind_scope()
        return super().explain(**options)


class TenantOwnedManager(models.Manager.from_queryset(TenantOwnedQuerySet)):
    """The default manager of tenant-owned models: filtered to the active scope (see the module)."""

    def get_queryset(self):
        queryset = super().get_queryset()
        scope = _scope.get()
        if scope is None:
            queryset._scope_pending = True
        elif not scope.unscoped:
            queryset = queryset.filter(tenant_id=scope.tenant_id)
        return queryset


class TenantOwnedModel(models.Model):
    """Abstract base of every row that belongs to one tenant; the subclass declares its `tenant` foreign key.

    `objects` is scoped (see the module's docstring). Django reads related objects and cascades
    deletes through the plain `_base_manager`, which needs no scope.
    """

    objects = TenantOwnedManager()

    class Meta:
        abstract = True

"""The one permission class of the partner API, and the one place tenants are scoped."""

from django.core.exceptions import ValidationError
from django.http import Http404
from rest_framework import permissions

from core.exceptions import ApplicationError
from core.tenancy import scope_enter, scope_leave
from tenants.auth import PartnerPrincipal
from tenants.models import Tenant


class IsPartner(permissions.BasePermission):
    """A valid partner API key is required; it sets `request.partner`."""

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return False
        request.partner = principal.partner
        return True


def tenant_for_request(request, tenant_id) -> Tenant:
    """The tenant named in the URL, if the calling partner owns it; 404 otherwise (never 403)."""
    try:
        return Tenant.objects.for_partner(request.partner).get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValidationError, ValueError, TypeError):  # ValidationError: not a UUID
        raise Http404


class TenantScopedMixin:
    """For views nested under /tenants/{tenant_id}/: resolves `self.tenant` once per request.

    The rest of the request runs inside that tenant's scope (core.tenancy): a tenant-owned row of
    another tenant cannot be read, whatever the view's query says.
    """

    tenant_url_kwarg = "tenant_id"
    tenant = None  # set per request; None only while the OpenAPI schema is generated without one
    # The longest value each text part of the address may have (the column it is stored in or compared with).
    path_max_lengths: dict[str, int] = {}

    _scope_token = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        path_values_check(kwargs, self.path_max_lengths)
        self.tenant = tenant_for_request(request, kwargs[self.tenant_url_kwarg])
        self._scope_token = scope_enter(self.tenant)   # every tenant-owned read below sees this tenant only

    def finalize_response(self, request, response, *args, **kwargs):
        if self._scope_token is not None:
            scope_leave(self._scope_token)
            self._scope_token = None
        return super().finalize_response(request, response, *args, **kwargs)


PATH_VALUE_MAX_LENGTH = 100


def path_values_check(kwargs: dict, limits: dict[str, int]) -> None:
    """A text part of the address longer than its column is a 400 saying so, never a database error."""
    for name, value in kwargs.items():
        limit = limits.get(name, PATH_VALUE_MAX_LENGTH)
        if isinstance(value, str) and len(value) > limit:
            raise ApplicationError(f"'{name}' in the address is {len(value)} characters long; at most {limit} are "
                                   f"allowed.", code="path_value_too_long", fields={name: [f"At most {limit} "
                                                                                            f"characters."]})

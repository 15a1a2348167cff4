"""The one permission class of the partner API, and the one place tenants are scoped."""

from django.core.exceptions import ValidationError
from django.http import Http404
from rest_framework import permissions

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

    Views using it list and fetch only rows of that tenant, through `for_tenant`.
    """

    tenant_url_kwarg = "tenant_id"
    tenant = None  # set per request; None only while the OpenAPI schema is generated without one

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.tenant = tenant_for_request(request, kwargs[self.tenant_url_kwarg])

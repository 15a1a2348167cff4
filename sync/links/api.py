"""Links under /api/v1/tenants/<tenant_id>/links/."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actor import actor_from_request
from core.api import no_body
from sync.links.services import link_forget
from tenants.permissions import TenantScopedMixin


class LinkForgetApi(TenantScopedMixin, APIView):
    @extend_schema(summary="Forget what a JAGGAER record was written as in QuickBooks (e.g. the QBO object was "
                           "deleted there); the next run matches or writes it again", request=None,
                   responses={204: None})
    @no_body
    def delete(self, request, tenant_id, kind, source_id):
        link_forget(tenant=self.tenant, kind=kind, source_id=source_id,
                    actor=actor_from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

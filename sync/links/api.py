"""Links under /api/v1/tenants/<tenant_id>/links/."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actor import actor_from_request
from core.api import no_body
from sync.links.services import LINKS, link_forget
from tenants.permissions import TenantScopedMixin

# Paths name entities as runs, records and the audit do (plural: suppliers, purchase_orders, invoices);
# the singular kinds of earlier versions (supplier, purchase_order, invoice) still work.
KIND_OF_ENTITY = {entity: kind for kind, (_, _, entity) in LINKS.items()}


class LinkForgetApi(TenantScopedMixin, APIView):
    @extend_schema(summary="Forget what a JAGGAER record was written as in QuickBooks",
                   description="For when the QuickBooks object was deleted or merged there: the next run matches "
                               "the record again (vendors by name, documents by number and vendor) or writes it "
                               "anew. `entity` is `suppliers`, `purchase_orders` or `invoices`; `source_id` the "
                               "JAGGAER id. Audited; 404 when there is no such link.",
                   request=None, responses={204: None})
    @no_body
    def delete(self, request, tenant_id, entity, source_id):
        link_forget(tenant=self.tenant, kind=KIND_OF_ENTITY.get(entity, entity), source_id=source_id,
                    actor=actor_from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

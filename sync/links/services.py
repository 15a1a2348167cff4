"""Links: what a JAGGAER record was written as in QuickBooks; forgetting one makes the next run match or
write the record again."""

from __future__ import annotations

from django.db import transaction

import audit
from core.actor import Actor
from core.exceptions import ApplicationError
from sync.models import BillLink, PoLineBilling, PurchaseOrderLink, VendorLink

LINKS = {  # kind in the API -> (model, JAGGAER id field, the step whose records it links)
    "supplier": (VendorLink, "jaggaer_company_id", "suppliers"),
    "purchase_order": (PurchaseOrderLink, "jaggaer_po_id", "purchase_orders"),
    "invoice": (BillLink, "jaggaer_invoice_id", "invoices"),
}


@transaction.atomic
def link_forget(*, tenant, kind: str, source_id: str, actor: Actor) -> dict:
    """Forget what a JAGGAER record was written as in QBO (e.g. the QBO object was deleted there): the
    next run matches or writes it again (vendors by name, documents by DocNumber and vendor)."""
    if kind not in LINKS:
        entities = ", ".join(entity for _, _, entity in LINKS.values())
        raise ApplicationError(f"Unknown entity {kind!r}; use one of {entities}.", code="invalid_entity",
                               fields={"entity": ["Unknown entity."]})
    model, key, _ = LINKS[kind]
    link = model.objects.for_tenant(tenant).filter(**{key: source_id}).first()
    if link is None:
        raise ApplicationError(f"No {kind.replace('_', ' ')} link for {source_id!r}.", code="not_found",
                               status_code=404)
    before = {f.attname: getattr(link, f.attname) for f in model._meta.concrete_fields
              if f.attname not in ("id", "tenant_id", "created_at", "updated_at", "lines", "line_totals")}
    link.delete()
    if kind == "invoice":      # the bill is gone: what it billed on its PO lines is open again
        PoLineBilling.objects.for_tenant(tenant).filter(jaggaer_invoice_id=source_id).delete()
    audit.action("link.forget", actor=actor, tenant=tenant, target_type=f"{kind}_link", target_id=source_id,
                 before={k: str(v) for k, v in before.items()}, after=None)
    return before


def link_source_id(*, kind: str, link) -> str:
    """The JAGGAER id a link of `kind` is kept under."""
    return getattr(link, LINKS[kind][1])

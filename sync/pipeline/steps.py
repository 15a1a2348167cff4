"""The steps of a run, in dependency order. Purchase orders and invoices plug in here."""

from __future__ import annotations

from sync.mappings.catalogs import catalogs_sync
from sync.pipeline.engine import RunContext
from sync.pipeline.invoices import InvoiceStep
from sync.pipeline.purchase_orders import PurchaseOrderStep
from sync.pipeline.qbo_snapshot import qbo_view
from sync.pipeline.vendors import VendorStep


class CatalogStep:
    name = "catalogs"

    def run(self, ctx: RunContext) -> None:
        qbo_view(ctx)    # the QBO side: brought up to date once for the run (CDC, or a full read)
        counts, problems = catalogs_sync(tenant=ctx.tenant, qbo=None, jaggaer=ctx.jaggaer)
        ctx.run.counts[self.name] = counts
        if problems:
            ctx.run.counts[self.name]["problems"] = problems[:20]
        ctx.report(self.name)


STEPS = {"catalogs": CatalogStep, "suppliers": VendorStep, "purchase_orders": PurchaseOrderStep,
         "invoices": InvoiceStep}
STEP_NAMES = tuple(STEPS)

"""Admin of links (vendors, purchase orders, bills): look them up, forget one."""

from __future__ import annotations

from django.contrib import admin, messages

from core.actor import actor_from_request
from sync.links.services import link_forget, link_source_id
from sync.models import BillLink, PurchaseOrderLink, VendorLink


class AttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "needs a person"), ("no", "fine")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(attention="")
        if self.value() == "no":
            return queryset.filter(attention="")
        return queryset


class ForgetLinkMixin:
    """Forgetting a link (the QBO object was deleted or merged there) makes the next run match or write
    the record again; it goes through the same service, and people audit, as the API."""

    link_kind = ""
    actions = ["forget"]
    list_select_related = ["tenant"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Forget the QuickBooks link (the next run matches or writes the record again)",
                  permissions=["change"])
    def forget(self, request, queryset):
        for link in queryset.select_related("tenant"):
            source_id = link_source_id(kind=self.link_kind, link=link)
            link_forget(tenant=link.tenant, kind=self.link_kind, source_id=source_id,
                        actor=actor_from_request(request))
            self.message_user(request, f"{source_id}: link forgotten; the next run writes it again.",
                              messages.SUCCESS)


@admin.register(PurchaseOrderLink)
class PurchaseOrderLinkAdmin(ForgetLinkMixin, admin.ModelAdmin):
    link_kind = "purchase_order"
    list_display = ["tenant", "jaggaer_po_id", "po_number", "doc_number", "qbo_po_id", "jaggaer_status",
                    "qbo_status", "updated_at"]
    list_filter = ["jaggaer_status", "qbo_status", "tenant"]
    search_fields = ["=jaggaer_po_id", "=po_number", "=doc_number", "=qbo_po_id"]


@admin.register(BillLink)
class BillLinkAdmin(ForgetLinkMixin, admin.ModelAdmin):
    link_kind = "invoice"
    list_display = ["tenant", "jaggaer_invoice_id", "invoice_number", "qbo_entity", "qbo_id", "doc_number",
                    "updated_at"]
    list_filter = ["qbo_entity", "tenant"]
    search_fields = ["=jaggaer_invoice_id", "=invoice_number", "=doc_number", "=qbo_id"]


@admin.register(VendorLink)
class VendorLinkAdmin(ForgetLinkMixin, admin.ModelAdmin):
    link_kind = "supplier"
    list_display = ["tenant", "jaggaer_company_id", "qbo_vendor_id", "display_name", "attention", "attention_at",
                    "updated_at"]
    list_filter = [AttentionFilter, "attention", "tenant"]
    search_fields = ["=jaggaer_company_id", "=qbo_vendor_id", "display_name"]

from django.contrib import admin

from sync.models import Cursor, Hold, JaggaerCatalogItem, Mapping, QboCatalogItem, SyncRun, SyncSettings, VendorLink


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "trigger", "status", "full", "started_at", "finished_at", "error_code"]
    list_filter = ["status", "trigger"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__slug", "tenant__name", "id"]
    readonly_fields = ["id", "tenant", "trigger", "status", "full", "entities", "counts", "error_system",
                       "error_code", "error_message", "created_at", "started_at", "finished_at"]
    show_full_result_count = False


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ["tenant", "entity", "source_id", "reason", "waits_on", "first_held_at", "last_held_at"]
    list_filter = ["reason", "entity"]
    list_select_related = ["tenant"]
    search_fields = ["source_id", "tenant__slug"]
    readonly_fields = ["tenant", "entity", "source_id", "reason", "detail", "waits_on", "record", "source_digest",
                       "last_run", "first_held_at", "last_held_at"]


@admin.register(Mapping)
class MappingAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "code", "qbo_item", "source", "state", "state_detail"]
    list_filter = ["kind", "state", "source"]
    list_select_related = ["tenant", "qbo_item"]
    search_fields = ["code", "tenant__slug"]
    raw_id_fields = ["qbo_item"]


@admin.register(VendorLink)
class VendorLinkAdmin(admin.ModelAdmin):
    list_display = ["tenant", "jaggaer_company_id", "qbo_vendor_id", "display_name", "updated_at"]
    list_select_related = ["tenant"]
    search_fields = ["jaggaer_company_id", "qbo_vendor_id", "display_name"]
    show_full_result_count = False


@admin.register(QboCatalogItem)
class QboCatalogItemAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "qbo_id", "number", "name", "account_type", "active", "present"]
    list_filter = ["kind", "active", "present", "classification"]
    list_select_related = ["tenant"]
    search_fields = ["name", "number", "qbo_id"]


@admin.register(JaggaerCatalogItem)
class JaggaerCatalogItemAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "code", "name", "active", "present"]
    list_filter = ["kind", "active", "present"]
    list_select_related = ["tenant"]
    search_fields = ["code", "name"]


admin.site.register(Cursor, list_display=["tenant", "entity", "high_water_mark", "updated_at"],
                    list_select_related=["tenant"])
admin.site.register(SyncSettings, list_display=["tenant", "ap_account", "updated_at"],
                    list_select_related=["tenant", "ap_account"])

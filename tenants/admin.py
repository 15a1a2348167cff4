from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from tenants.models import Partner, PartnerAPIKey, Tenant


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "tenant_count", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_tenant_count=Count("tenants"))

    @admin.display(description="tenants", ordering="_tenant_count")
    def tenant_count(self, obj):
        return obj._tenant_count


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "partner", "time_zone", "sync_hour", "is_active", "created_at"]
    list_filter = ["is_active", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "slug"]
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(PartnerAPIKey)
class PartnerAPIKeyAdmin(APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "partner"]
    list_filter = [*APIKeyModelAdmin.list_filter, "partner"]
    list_select_related = ["partner"]
    search_fields = [*APIKeyModelAdmin.search_fields, "partner__name"]

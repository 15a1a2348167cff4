from rest_framework import serializers

from core.api import StrictFieldsMixin
from tenants.models import Tenant


class TenantSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "time_zone", "sync_hour", "schedule_paused", "next_sync_at", "is_active",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "is_active", "next_sync_at", "created_at", "updated_at"]
        extra_kwargs = {
            "slug": {"help_text": "Short unique identifier, letters, digits, '-' and '_' (e.g. 'acme-mfg')."},
            "time_zone": {"help_text": "IANA time zone of the tenant, e.g. 'America/Chicago'."},
        }

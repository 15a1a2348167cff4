from django.conf import settings
from rest_framework import serializers

from core.api import StrictFieldsMixin
from sync.models import JaggaerCatalogItem, Kind, Mapping, QboCatalogItem, SyncSettings


class QboCatalogItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = QboCatalogItem
        fields = ["id", "kind", "qbo_id", "name", "fully_qualified_name", "number", "account_type", "account_sub_type",
                  "classification", "active", "present", "updated_at"]


class JaggaerCatalogItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = JaggaerCatalogItem
        fields = ["id", "kind", "code", "name", "active", "present", "updated_at"]


class MappingSerializer(serializers.ModelSerializer):
    qbo_id = serializers.CharField(source="qbo_item.qbo_id", default=None, read_only=True)
    qbo_name = serializers.CharField(source="qbo_item.name", default=None, read_only=True)

    class Meta:
        model = Mapping
        fields = ["id", "kind", "code", "qbo_id", "qbo_name", "source", "state", "state_detail", "updated_at"]


class MappingSetSerializer(StrictFieldsMixin, serializers.Serializer):
    qbo_id = serializers.CharField(allow_null=True, allow_blank=True,
                                   help_text="QBO Account or Department id; null clears the mapping.")


class MappingBulkItemSerializer(MappingSetSerializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    code = serializers.CharField(max_length=100)


class MappingBulkSerializer(StrictFieldsMixin, serializers.Serializer):
    mappings = MappingBulkItemSerializer(many=True, allow_empty=False, help_text=(
        "At most MAPPINGS_BULK_MAX_ITEMS (500 by default) in one request."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cap = settings.MAPPINGS_BULK_MAX_ITEMS  # checked before any item is validated
        self.fields["mappings"].max_length = cap
        self.fields["mappings"].error_messages["max_length"] = (
            f"At most {cap} mappings in one request; send the rest in further requests.")


class AutoMatchSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    include_person = serializers.BooleanField(default=False,
                                              help_text="Also re-match mappings a person made (overwrites them).")


class SyncSettingsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    ap_account_id = serializers.CharField(source="ap_account.qbo_id", default=None, allow_null=True,
                                          allow_blank=True, required=False,
                                          help_text="QBO id of an Accounts Payable (Liability) account.")
    ap_account_name = serializers.CharField(source="ap_account.name", default=None, read_only=True)

    class Meta:
        model = SyncSettings
        fields = ["ap_account_id", "ap_account_name", "department_policy", "updated_at"]
        read_only_fields = ["updated_at"]


class AutoMatchCountsSerializer(serializers.Serializer):
    new = serializers.IntegerField(help_text="Codes seen for the first time.")
    matched = serializers.IntegerField(help_text="Codes mapped by this matching.")
    changed = serializers.IntegerField(help_text="Mappings whose state or target changed.")


class AutoMatchAnswerSerializer(serializers.Serializer):
    counts = serializers.DictField(child=AutoMatchCountsSerializer(), help_text="Per kind (gl_account, department).")


class UnalignedCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    jaggaer_active = serializers.BooleanField()
    in_jaggaer_catalog = serializers.BooleanField()
    state = serializers.CharField(help_text="unmapped, stale, invalid, ... (never mapped here).")
    detail = serializers.CharField()
    qbo_id = serializers.CharField(allow_null=True)
    held_records = serializers.IntegerField(help_text="Held records waiting on this code.")


class UnusedQboItemSerializer(serializers.Serializer):
    qbo_id = serializers.CharField()
    name = serializers.CharField()
    number = serializers.CharField()
    account_type = serializers.CharField()


class KindAlignmentSerializer(serializers.Serializer):
    jaggaer_without_qbo = UnalignedCodeSerializer(many=True)
    qbo_unused = UnusedQboItemSerializer(many=True)


class VendorAttentionSerializer(serializers.Serializer):
    jaggaer_company_id = serializers.CharField()
    qbo_vendor_id = serializers.CharField()
    display_name = serializers.CharField()
    attention = serializers.CharField()
    detail = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)


class AlignmentSerializer(serializers.Serializer):
    gl_account = KindAlignmentSerializer()
    department = KindAlignmentSerializer()
    held_total = serializers.IntegerField()
    vendor_links_needing_attention = VendorAttentionSerializer(many=True)

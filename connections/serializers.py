"""What the connection endpoints accept and answer. Secrets are write-only: reads say whether one is set."""

from __future__ import annotations

from rest_framework import serializers

from connections import jaggaer
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from core.api import StrictFieldsMixin


class LastErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    at = serializers.DateTimeField()


class _HealthFields(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConnectionStatus.choices)
    status_reason = serializers.CharField()
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_error = LastErrorSerializer(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    last_ping_at = serializers.DateTimeField(allow_null=True)
    last_ping_ok = serializers.BooleanField(allow_null=True)
    last_ping_result = serializers.JSONField()


class JaggaerConnectionSerializer(_HealthFields):
    system = serializers.SerializerMethodField()
    api_base_url = serializers.CharField()
    client_id_last4 = serializers.CharField(help_text="The last four characters of the client id.")
    client_id_set = serializers.SerializerMethodField()
    client_secret_set = serializers.SerializerMethodField()
    access_token_cached = serializers.SerializerMethodField()
    access_token_expires_at = serializers.DateTimeField(allow_null=True)
    dialect = serializers.JSONField(help_text="This tenant's overrides of the default JAGGAER dialect.")

    def get_system(self, obj) -> str:
        return "jaggaer"

    def get_client_id_set(self, obj: JaggaerConnection) -> bool:
        return bool(obj.client_id)

    def get_client_secret_set(self, obj: JaggaerConnection) -> bool:
        return bool(obj.client_secret)

    def get_access_token_cached(self, obj: JaggaerConnection) -> bool:
        return bool(obj.access_token)


class JaggaerConnectionWriteSerializer(StrictFieldsMixin, serializers.Serializer):
    api_base_url = serializers.CharField(max_length=500, help_text="https://..., e.g. https://acme.api.jaggaer.com")
    client_id = serializers.CharField(max_length=255, trim_whitespace=True)
    client_secret = serializers.CharField(max_length=2000, write_only=True, trim_whitespace=False,
                                          style={"input_type": "password"},
                                          help_text="Write-only: never returned. Omit it to keep the stored one.")
    dialect = serializers.JSONField(required=False, help_text=(
        "Overrides of the default dialect: paths, list_keys, page_size, filter_field, gl_segment, "
        "department_segment (known keys only). Replaces the previous overrides."))

    def __init__(self, *args, secret_is_set: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if secret_is_set:
            self.fields["client_secret"].required = False

    def validate_api_base_url(self, value: str) -> str:
        error = jaggaer.jaggaer_api_base_url_error(value.strip())
        if error:
            raise serializers.ValidationError(error)
        return value.strip().rstrip("/")

    def validate_client_secret(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The client secret must not be empty.")
        return value

    def validate_dialect(self, value):
        errors = jaggaer.jaggaer_dialect_errors(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class QboConnectionSerializer(_HealthFields):
    system = serializers.SerializerMethodField()
    realm_id = serializers.CharField()
    connected_at = serializers.DateTimeField(allow_null=True)
    access_token_set = serializers.SerializerMethodField()
    refresh_token_set = serializers.SerializerMethodField()
    access_token_expires_at = serializers.DateTimeField(allow_null=True)
    refresh_token_expires_at = serializers.DateTimeField(allow_null=True)
    refresh_token_hard_expires_at = serializers.DateTimeField(allow_null=True)
    last_refreshed_at = serializers.DateTimeField(allow_null=True)

    def get_system(self, obj) -> str:
        return "qbo"

    def get_access_token_set(self, obj: QboConnection) -> bool:
        return bool(obj.access_token)

    def get_refresh_token_set(self, obj: QboConnection) -> bool:
        return bool(obj.refresh_token)


class ConnectionsOverviewSerializer(serializers.Serializer):
    jaggaer = JaggaerConnectionSerializer()
    qbo = QboConnectionSerializer()


class QboAuthorizeSerializer(StrictFieldsMixin, serializers.Serializer):
    return_url = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text=(
        "Where to send the customer's browser afterwards, with `status` (connected, denied or error), `tenant_id` "
        "and, unless connected, `code` (e.g. access_denied, state_expired) added to its query; must be on one of "
        "your registered origins."))


class QboAuthorizeAnswerSerializer(serializers.Serializer):
    authorization_url = serializers.URLField()
    expires_in = serializers.IntegerField(help_text="Seconds the link stays valid.")


class QboDisconnectAnswerSerializer(serializers.Serializer):
    disconnected = serializers.BooleanField()
    revoked_at_intuit = serializers.BooleanField(allow_null=True)
    message = serializers.CharField()
    connection = QboConnectionSerializer()


class PingStepSerializer(serializers.Serializer):
    step = serializers.CharField()
    ok = serializers.BooleanField()


class PingProblemSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField(help_text="What the customer should fix.")


class PingAnswerSerializer(serializers.Serializer):
    system = serializers.CharField()
    ok = serializers.BooleanField()
    checked_at = serializers.DateTimeField()
    steps = PingStepSerializer(many=True)
    problem = PingProblemSerializer(allow_null=True)


class ConnectLinkCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    return_url = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text=(
        "Where the finish page sends the customer next, with ?status=connected or ?status=error&reason=...; "
        "must be on one of your registered origins."))
    collect_jaggaer = serializers.BooleanField(required=False, default=False, help_text=(
        "Also ask the customer for the JAGGAER API address, client id and secret on the page."))
    expires_in_hours = serializers.IntegerField(required=False, default=72, min_value=1, max_value=14 * 24)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return attrs


class ConnectLinkSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField(help_text="The link for the customer's QuickBooks admin: works once.")
    expires_at = serializers.DateTimeField()
    collect_jaggaer = serializers.BooleanField()

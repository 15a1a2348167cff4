from rest_framework import serializers

from core.api import StrictFieldsMixin
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery, WebhookEndpoint


class WebhookEndpointSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    url = serializers.URLField(max_length=2000, help_text="Where events are POSTed: a public https:// URL.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, allow_empty=True, max_length=50,
        help_text="The event types sent to this endpoint; empty or absent means every type.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "enabled", "failure_streak", "disabled_at",
                  "disabled_reason", "previous_secret_expires_at", "created_at", "updated_at"]
        read_only_fields = ["id", "failure_streak", "disabled_at", "disabled_reason", "previous_secret_expires_at",
                            "created_at", "updated_at"]
        extra_kwargs = {
            "enabled": {"help_text": "Whether events are sent. An endpoint failing for a long time is disabled "
                                     "(`disabled_reason` says why); set it true again once fixed."},
            "previous_secret_expires_at": {"help_text": "During a secret rotation: until when the previous "
                                                        "secret also signs (null otherwise)."},
        }


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret (`whsec_…`). Shown once: "
                                                             "store it now.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookSecretSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The endpoint's id.")
    secret = serializers.CharField(help_text="The new signing secret (`whsec_…`). Shown once: store it now.")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then every delivery carries two signatures, one per secret.")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.UUIDField(read_only=True)
    event_id = serializers.CharField(source="event.message_id", read_only=True,
                                     help_text="The event's id: the `webhook-id` header, the same on every attempt.")
    event_type = serializers.CharField(source="event.type", read_only=True)
    tenant_id = serializers.UUIDField(read_only=True, allow_null=True)
    payload = serializers.JSONField(source="event.payload", read_only=True, help_text="The body sent.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint_id", "event_id", "event_type", "tenant_id", "status", "attempts", "last_status_code",
                  "last_error", "last_attempt_at", "next_attempt_at", "delivered_at", "created_at", "payload"]
        read_only_fields = fields
        extra_kwargs = {
            "status": {"help_text": "`pending` (to be sent or retried at `next_attempt_at`), `delivered` or "
                                    "`failed` (every retry failed; redeliver it once fixed)."},
            "last_status_code": {"help_text": "The HTTP status your endpoint answered last (null: no answer)."},
            "last_error": {"help_text": "What went wrong last, in our words (your endpoint's answer is never "
                                        "stored)."},
        }

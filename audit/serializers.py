from rest_framework import serializers

from audit.models import Action, ApiCall, RecordEvent


class RecordEventSerializer(serializers.ModelSerializer):
    run_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = RecordEvent
        fields = ["id", "run_id", "entity", "source_id", "outcome", "reason", "message", "qbo_id", "qbo_error_code",
                  "intuit_tid", "data", "created_at"]


class ActionSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Action
        fields = ["id", "created_at", "action", "actor", "target_type", "target_id", "before", "after", "data",
                  "request_id"]

    def get_actor(self, row) -> dict:
        return {"kind": row.actor_kind, "label": row.actor_label}


class ApiCallSerializer(serializers.ModelSerializer):
    run_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = ApiCall
        fields = ["id", "created_at", "run_id", "system", "method", "path", "status", "code", "intuit_tid", "realm_id",
                  "attempt", "duration_ms", "error", "request_id"]

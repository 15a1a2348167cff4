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
        fields = ["id", "created_at", "action", "actor", "target_type", "target_id", "before", "after", "data"]

    def get_actor(self, row) -> dict:
        return {"kind": row.actor_kind, "label": row.actor_label}


class ApiCallSerializer(serializers.ModelSerializer):
    run_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = ApiCall
        fields = ["id", "created_at", "run_id", "system", "method", "path", "status", "code", "intuit_tid", "realm_id",
                  "attempt", "duration_ms", "error"]


class HoldSerializer(serializers.Serializer):
    """A record the pipeline holds back, and what would release it."""

    entity = serializers.CharField()
    source_id = serializers.CharField()
    reason = serializers.CharField()
    detail = serializers.CharField()
    waits_on = serializers.ListField(child=serializers.CharField(),
                                     help_text="Codes or ids whose fix would release it (GL code, company id...).")
    since = serializers.DateTimeField(source="first_held_at")
    last_held_at = serializers.DateTimeField()
    last_run_id = serializers.UUIDField(allow_null=True)


class ReplayAnswerSerializer(serializers.Serializer):
    run = serializers.DictField(help_text="The replay run (trigger 'replay').")
    records = RecordEventSerializer(many=True, help_text="What happened to the replayed records (once finished).")

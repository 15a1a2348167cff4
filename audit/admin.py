from django.contrib import admin

from audit.models import RecordEvent


@admin.register(RecordEvent)
class RecordEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "entity", "source_id", "outcome", "reason", "qbo_id", "qbo_error_code"]
    list_filter = ["outcome", "entity", "reason"]
    list_select_related = ["tenant"]
    search_fields = ["source_id", "qbo_id", "run_id"]
    show_full_result_count = False
    readonly_fields = [f.name for f in RecordEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

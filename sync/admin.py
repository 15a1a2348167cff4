"""Admin for support staff: runs with their failed and held records, holds, the per-tenant mapping editor,
links, catalogs, cursors and settings. Every change goes through a service and into the people audit."""

from __future__ import annotations

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit.models import Outcome, RecordEvent
from core.actor import actor_from_request
from core.exceptions import ApplicationError, Conflict
from sync import selectors, services
from sync.models import (
    BillLink,
    Cursor,
    Hold,
    JaggaerCatalogItem,
    Kind,
    Mapping,
    PurchaseOrderLink,
    QboCatalogItem,
    SyncRun,
    SyncSettings,
    VendorLink,
)
from sync.runs.lifecycle import sync_run_cancel
from tenants.admin import RUN_COLOURS, badge
from tenants.models import Tenant

RUN_RECORDS_SHOWN = 200
STATE_ORDER = {Mapping.State.UNMAPPED: 0, Mapping.State.STALE: 1, Mapping.State.MAPPED: 2}
STATE_COLOURS = {Mapping.State.UNMAPPED: "#c62828", Mapping.State.STALE: "#ef8f00", Mapping.State.MAPPED: "#2e7d32"}


def run_totals(counts: dict) -> Counter:
    """written / held / failed over the record steps of a run's counts (catalog counts are of another kind)."""
    totals: Counter = Counter()
    for bucket in (counts or {}).values():
        if not isinstance(bucket, dict):
            continue
        totals["written"] += int(bucket.get("created", 0) or 0) + int(bucket.get("updated", 0) or 0)
        for key in ("unchanged", "held", "failed"):
            totals[key] += int(bucket.get(key, 0) or 0)
    return totals


class DurationMixin:
    @admin.display(description="duration", ordering="finished_at")
    def duration(self, obj):
        if not obj.started_at or not obj.finished_at:
            return "-"
        seconds = int((obj.finished_at - obj.started_at).total_seconds())
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@admin.register(SyncRun)
class SyncRunAdmin(DurationMixin, admin.ModelAdmin):
    list_display = ["created_at", "tenant", "trigger", "status_badge", "duration", "written", "held", "failed",
                    "error_code"]
    list_filter = ["status", "trigger", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["=id", "tenant__slug", "tenant__name"]
    readonly_fields = ["id", "tenant", "trigger", "status", "full", "entities", "counts", "duration", "error_system",
                       "error_code", "error_message", "cancel_requested", "created_at", "started_at", "finished_at"]
    fields = readonly_fields
    actions = ["cancel"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # runs are started with "Sync now" on the tenants list

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, RUN_COLOURS.get(obj.status, "#757575"), obj.error_message)

    @admin.display(description="written")
    def written(self, obj):
        return run_totals(obj.counts)["written"]

    @admin.display(description="held")
    def held(self, obj):
        return run_totals(obj.counts)["held"]

    @admin.display(description="failed")
    def failed(self, obj):
        return run_totals(obj.counts)["failed"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if run is not None:
            events = (RecordEvent.objects.for_tenant(run.tenant_id).filter(
                run_id=run.pk, outcome__in=[Outcome.FAILED, Outcome.HELD]).order_by("outcome", "entity", "source_id"))
            extra.update(
                run_totals=run_totals(run.counts),
                run_events=list(events[:RUN_RECORDS_SHOWN]),
                run_events_more=events[RUN_RECORDS_SHOWN:RUN_RECORDS_SHOWN + 1].exists(),
                run_events_url=reverse("admin:audit_recordevent_changelist") + f"?run={run.pk}",
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.action(description="Cancel the selected runs (they stop between batches)", permissions=["change"])
    def cancel(self, request, queryset):
        for run in queryset.select_related("tenant"):
            if run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
                self.message_user(request, f"Run {run.pk} has already finished ({run.status}).", messages.INFO)
                continue
            sync_run_cancel(run=run, actor=actor_from_request(request))
            self.message_user(request, f"Run {run.pk}: cancel requested.", messages.SUCCESS)


class WaitsOnFilter(admin.SimpleListFilter):
    title = "waits on a mapping"
    parameter_name = "mapping"

    def lookups(self, request, model_admin):
        return [("gl_account", "GL code"), ("department", "department code")]

    def queryset(self, request, queryset):
        reason = selectors.MAPPING_HOLD_REASONS.get(self.value())
        return queryset.filter(reason=reason) if reason else queryset


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ["tenant", "entity", "source_id", "reason", "waits_on", "detail", "first_held_at", "last_held_at"]
    list_filter = ["reason", WaitsOnFilter, "entity", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["=source_id", "tenant__slug"]
    readonly_fields = ["tenant", "entity", "source_id", "reason", "detail", "waits_on", "record", "source_digest",
                       "last_run", "first_held_at", "last_held_at"]
    show_full_result_count = False
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_replay_permission(self, request):
        return can_replay(request)

    @admin.action(description="Replay the selected records (read again from JAGGAER)", permissions=["replay"])
    def replay(self, request, queryset):
        replay_selected(self, request, queryset.values_list("tenant_id", "entity", "source_id"))


def can_replay(request) -> bool:
    """Replaying writes to QuickBooks: people who may change held records may replay them."""
    return request.user.has_perm("sync.change_hold")


def replay_selected(model_admin, request, rows) -> list[SyncRun]:
    """One replay run per tenant for the selected (tenant id, entity, source id) rows; 409s told politely."""
    from sync.runs.lifecycle import replay_request
    from sync.runs.replay import MAX_REPLAY_RECORDS, replayable_entities

    replayable = set(replayable_entities())
    targets: dict = {}
    skipped = 0
    for tenant_id, entity, source_id in rows[:MAX_REPLAY_RECORDS]:
        if entity not in replayable or source_id.startswith("(no "):
            skipped += 1
            continue
        targets.setdefault(tenant_id, {}).setdefault(entity, []).append(source_id)
    if skipped:
        model_admin.message_user(request, f"{skipped} selected row(s) cannot be replayed (a catalog import, or a "
                                          f"record without an id).", messages.WARNING)
    runs = []
    for tenant in Tenant.objects.filter(pk__in=list(targets)):
        try:
            run = replay_request(tenant=tenant, targets=targets[tenant.pk], actor=actor_from_request(request))
        except Conflict as e:
            if e.code != "sync_already_running":
                model_admin.message_user(request, f"{tenant}: {e.message}", messages.WARNING)
                continue
            running = (e.extra.get("run") or {}).get("id", "")
            model_admin.message_user(request, f"{tenant}: a sync is already queued or running"
                                              f"{f' (run {running})' if running else ''}; replay once it has "
                                              f"finished.", messages.WARNING)
            continue
        except ApplicationError as e:
            model_admin.message_user(request, f"{tenant}: {e.message}", messages.ERROR)
            continue
        runs.append(run)
        count = sum(len(ids) for ids in targets[tenant.pk].values())
        url = reverse("admin:sync_syncrun_change", args=[run.pk])
        model_admin.message_user(request, format_html('{}: replay of {} record(s) queued as <a href="{}">run {}</a>.',
                                                      tenant, count, url, run.pk), messages.SUCCESS)
    return runs


# ------------------------------------------------------------------------------------------ mappings

def _choice_label(item: QboCatalogItem) -> str:
    label = f"{item.number} {item.name}".strip() if item.kind == Kind.GL_ACCOUNT else item.name
    return f"{label} ({item.account_type})" if item.account_type else label


def mapping_choices(*, tenant, kind: str) -> list[tuple[str, str]]:
    """What a code may be mapped to: the tenant's imported QBO items of that kind, active and present."""
    items = QboCatalogItem.objects.for_tenant(tenant).postable(kind)
    return [(item.qbo_id, _choice_label(item)) for item in items.order_by("number", "name")]


class MappingRowForm(forms.Form):
    kind = forms.CharField(widget=forms.HiddenInput)
    code = forms.CharField(widget=forms.HiddenInput)
    qbo_id = forms.ChoiceField(required=False, label="QuickBooks")

    def __init__(self, *args, choices_by_kind: dict, **kwargs):
        super().__init__(*args, **kwargs)
        kind = self.initial.get("kind") or self.data.get(self.add_prefix("kind"))
        self.fields["qbo_id"].choices = [("", "— not mapped —"), *choices_by_kind.get(kind, [])]


MappingRowFormSet = forms.formset_factory(MappingRowForm, extra=0)


def mapping_rows(*, tenant) -> list[dict]:
    """Every code of both kinds (mapped or not, and codes only held records know of): unmapped first,
    then stale, then mapped; within each, the codes most held records wait on first. Five queries."""
    mappings = list(Mapping.objects.for_tenant(tenant).select_related("qbo_item"))
    names = {(i.kind, i.code): i.name for i in JaggaerCatalogItem.objects.for_tenant(tenant).only("kind", "code",
                                                                                                   "name")}
    rows = []
    for kind in Kind.values:
        held = selectors.held_counts_by_code(tenant=tenant, kind=kind)
        known = {m.code for m in mappings if m.kind == kind}
        for m in (m for m in mappings if m.kind == kind):
            rows.append({"kind": kind, "code": m.code, "mapping": m, "state": m.state, "held": held.get(m.code, 0)})
        for code in sorted(set(held) - known):
            rows.append({"kind": kind, "code": code, "mapping": None, "state": Mapping.State.UNMAPPED,
                         "held": held[code]})
    for row in rows:
        row["name"] = names.get((row["kind"], row["code"]), "")
        row["state_badge"] = badge(row["state"], STATE_COLOURS[row["state"]],
                                   row["mapping"].state_detail if row["mapping"] else "not mapped yet")
    rows.sort(key=lambda r: (Kind.values.index(r["kind"]), STATE_ORDER[r["state"]], -r["held"], r["code"]))
    return rows


@admin.register(Mapping)
class MappingAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "code", "qbo_item", "source", "state_badge", "state_detail", "edit"]
    list_filter = ["state", "kind", "source", "tenant"]
    list_select_related = ["tenant", "qbo_item"]
    search_fields = ["code", "tenant__slug"]
    readonly_fields = ["tenant", "kind", "code", "qbo_item", "source", "state", "state_detail", "created_at",
                       "updated_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # codes come from the catalogs; a person maps them in the tenant's mapping editor

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, STATE_COLOURS.get(obj.state, "#757575"), obj.state_detail)

    @admin.display(description="")
    def edit(self, obj):
        return format_html('<a href="{}">edit this tenant\'s mappings</a>',
                           reverse("admin:sync_mapping_tenant", args=[obj.tenant_id]))

    def get_urls(self):
        own = [path("tenant/<uuid:tenant_id>/", self.admin_site.admin_view(self.tenant_mappings_view),
                    name="sync_mapping_tenant")]
        return own + super().get_urls()

    def tenant_mappings_view(self, request, tenant_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=tenant_id)
        can_change = self.has_change_permission(request)
        rows = mapping_rows(tenant=tenant)
        choices = {kind: mapping_choices(tenant=tenant, kind=kind) for kind in Kind.values}
        usable = {kind: {value for value, _ in pairs} for kind, pairs in choices.items()}
        initial = [{"kind": r["kind"], "code": r["code"],
                    "qbo_id": (r["mapping"].qbo_item.qbo_id if r["mapping"] and r["mapping"].qbo_item
                               and r["mapping"].qbo_item.qbo_id in usable[r["kind"]] else "")} for r in rows]
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            formset = MappingRowFormSet(request.POST, initial=initial, form_kwargs={"choices_by_kind": choices})
            if formset.is_valid():
                changed = self._save_mappings(request, tenant, [f for f in formset.forms if f.has_changed()])
                if changed is not None:
                    return HttpResponseRedirect(request.path)
        else:
            formset = MappingRowFormSet(initial=initial, form_kwargs={"choices_by_kind": choices})
        for row, form in zip(rows, formset.forms, strict=True):
            row["form"] = form
            if not can_change:
                form.fields["qbo_id"].disabled = True
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": f"Mappings of {tenant.name}", "tenant": tenant,
            "formset": formset, "rows": rows, "can_change": can_change,
            "unmapped": sum(1 for r in rows if r["state"] != Mapping.State.MAPPED),
            "kinds": [(kind, label, [r for r in rows if r["kind"] == kind]) for kind, label in Kind.choices],
        }
        return TemplateResponse(request, "admin/sync/mapping/tenant_mappings.html", context)

    def _save_mappings(self, request, tenant, forms_changed) -> int | None:
        done, failed = 0, False
        for form in forms_changed:
            kind, code, qbo_id = (form.cleaned_data[k] for k in ("kind", "code", "qbo_id"))
            try:
                mapping = services.mapping_set(tenant=tenant, kind=kind, code=code, qbo_id=qbo_id or None,
                                               actor=actor_from_request(request))
            except ApplicationError as e:
                form.add_error("qbo_id", e.message)
                failed = True
                continue
            done += 1
            label = "GL code" if kind == Kind.GL_ACCOUNT else "department code"
            target = mapping.qbo_item.name if mapping.qbo_item else "nothing"
            self.message_user(request, f"{label} {code} → {target} ({mapping.state}).", messages.SUCCESS)
        if done:
            held = Hold.objects.for_tenant(tenant).filter(
                reason__in=list(selectors.MAPPING_HOLD_REASONS.values())).count()
            if held:
                self.message_user(request, f"{held} record(s) are held on mappings: replay them from the audit rows "
                                           f"or the next run retries them.", messages.INFO)
        return None if failed else done


# ------------------------------------------------------------------------------------------ links and catalogs

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
        key = services.LINKS[self.link_kind][1]
        for link in queryset.select_related("tenant"):
            source_id = getattr(link, key)
            services.link_forget(tenant=link.tenant, kind=self.link_kind, source_id=source_id,
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


@admin.register(QboCatalogItem)
class QboCatalogItemAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "qbo_id", "number", "name", "account_type", "active", "present"]
    list_filter = ["kind", "active", "present", "classification", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "number", "=qbo_id"]
    readonly_fields = [f.name for f in QboCatalogItem._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(JaggaerCatalogItem)
class JaggaerCatalogItemAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "code", "name", "active", "present"]
    list_filter = ["kind", "active", "present", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["code", "name"]
    readonly_fields = [f.name for f in JaggaerCatalogItem._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(Cursor)
class CursorAdmin(admin.ModelAdmin):
    list_display = ["tenant", "entity", "high_water_mark", "updated_at"]
    list_filter = ["entity"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__slug"]
    readonly_fields = ["tenant", "entity", "high_water_mark", "updated_at"]


class SyncSettingsForm(forms.ModelForm):
    """The AP account is chosen among the tenant's imported, active Accounts Payable accounts only."""

    class Meta:
        model = SyncSettings
        fields = ["ap_account", "department_policy"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "ap_account" in self.fields and self.instance.pk:
            self.fields["ap_account"].queryset = QboCatalogItem.objects.for_tenant(self.instance.tenant).ap_accounts()


@admin.register(SyncSettings)
class SyncSettingsAdmin(admin.ModelAdmin):
    form = SyncSettingsForm
    list_display = ["tenant", "ap_account", "department_policy", "updated_at"]
    list_select_related = ["tenant", "ap_account"]
    search_fields = ["tenant__slug"]
    readonly_fields = ["tenant", "updated_at"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        """Through the same services (and rules) as the API, and into the people audit."""
        ap_account_id = obj.ap_account.qbo_id if obj.ap_account else None
        services.sync_settings_update(tenant=obj.tenant, ap_account_id=ap_account_id,
                                      department_policy=obj.department_policy, actor=actor_from_request(request))

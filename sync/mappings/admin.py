"""Admin of mappings (with the per-tenant mapping editor), the imported catalogs and the sync settings.
Every change goes through a service and into the people audit."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from core.actor import actor_from_request
from core.exceptions import ApplicationError
from sync.holds.selectors import holds_on_mappings_count
from sync.mappings import services
from sync.mappings.selectors import mapping_editor_rows, mapping_targets
from sync.models import JaggaerCatalogItem, Kind, Mapping, QboCatalogItem, SyncSettings
from tenants.admin import badge
from tenants.models import Tenant

STATE_COLOURS = {Mapping.State.UNMAPPED: "#c62828", Mapping.State.STALE: "#ef8f00", Mapping.State.MAPPED: "#2e7d32"}


def _choice_label(item: QboCatalogItem) -> str:
    label = f"{item.number} {item.name}".strip() if item.kind == Kind.GL_ACCOUNT else item.name
    return f"{label} ({item.account_type})" if item.account_type else label


def mapping_choices(*, tenant, kind: str) -> list[tuple[str, str]]:
    """What a code may be mapped to: the tenant's imported QBO items of that kind, active and present."""
    return [(item.qbo_id, _choice_label(item)) for item in mapping_targets(tenant=tenant, kind=kind)]


class MappingRowForm(forms.Form):
    kind = forms.CharField(widget=forms.HiddenInput)
    code = forms.CharField(widget=forms.HiddenInput)
    qbo_id = forms.ChoiceField(required=False, label="QuickBooks", widget=forms.Select(attrs={"class": "mlc-choice"}))

    def __init__(self, *args, choices_by_kind: dict, **kwargs):
        super().__init__(*args, **kwargs)
        kind = self.initial.get("kind") or self.data.get(self.add_prefix("kind"))
        self.fields["qbo_id"].choices = [("", "— not mapped —"), *choices_by_kind.get(kind, [])]


MappingRowFormSet = forms.formset_factory(MappingRowForm, extra=0)


def mapping_rows(*, tenant) -> list[dict]:
    """The editor's rows (sync.mappings.selectors.mapping_editor_rows), each with its state badge."""
    rows = mapping_editor_rows(tenant=tenant)
    for row in rows:
        row["state_badge"] = badge(row["state"], STATE_COLOURS[row["state"]],
                                   row["mapping"].state_detail if row["mapping"] else "not mapped yet")
    return rows


# The editor's filter (its query string, kept when the form is saved): a state, or "unmapped" for every code
# without a usable counterpart; and a code or name. At most ROWS_PER_KIND rows of each kind are shown (each
# has its own list of choices): a larger chart of accounts is worked through by filtering, on the server.
FILTER_STATES = {"unmapped": "without a usable counterpart", "stale": "stale", "mapped": "mapped"}
ROWS_PER_KIND = 200


def _filtered(rows: list[dict], *, query: str, state: str) -> tuple[list[dict], dict[str, int]]:
    """The rows the filter keeps, at most ROWS_PER_KIND of each kind, and how many more each kind has."""
    needle = query.casefold()
    kept: list[dict] = []
    more: dict[str, int] = {}
    per_kind: dict[str, int] = {}
    for row in rows:
        if state == "unmapped" and row["state"] == Mapping.State.MAPPED:
            continue
        if state in ("stale", "mapped") and row["state"] != state:
            continue
        if needle and needle not in str(row["code"]).casefold() and needle not in str(row["name"] or "").casefold():
            continue
        per_kind[row["kind"]] = per_kind.get(row["kind"], 0) + 1
        if per_kind[row["kind"]] > ROWS_PER_KIND:
            more[row["kind"]] = more.get(row["kind"], 0) + 1
            continue
        kept.append(row)
    return kept, more


def _back_url(request) -> str:
    """The admin page that sent a person here to fix a mapping (a record's page), when it is one of ours."""
    back = request.GET.get("back", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False)
    return back if safe and back.startswith(reverse("admin:index")) else ""


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
        every_row = mapping_rows(tenant=tenant)
        query, state = request.GET.get("q", "").strip()[:100], request.GET.get("state", "")
        state = state if state in FILTER_STATES else ""
        rows, more = _filtered(every_row, query=query, state=state)
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
                    return HttpResponseRedirect(request.get_full_path())
        else:
            formset = MappingRowFormSet(initial=initial, form_kwargs={"choices_by_kind": choices})
        for row, form in zip(rows, formset.forms, strict=True):
            row["form"] = form
            if not can_change:
                form.fields["qbo_id"].disabled = True
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": f"Mappings of {tenant.name}", "tenant": tenant,
            "formset": formset, "rows": rows, "can_change": can_change, "back": _back_url(request),
            "unmapped": sum(1 for r in every_row if r["state"] != Mapping.State.MAPPED),
            "kinds": [(kind, label, [r for r in rows if r["kind"] == kind], more.get(kind, 0))
                      for kind, label in Kind.choices],
            "query": query, "state": state, "states": FILTER_STATES.items(), "shown": len(rows),
            "total": len(every_row), "per_kind": ROWS_PER_KIND,
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
            held = holds_on_mappings_count(tenant=tenant)
            if held:
                self.message_user(request, f"{held} record(s) are held on mappings: replay them from the audit rows "
                                           f"or the next run retries them.", messages.INFO)
        return None if failed else done


# ------------------------------------------------------------------------------------------ catalogs

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


# ------------------------------------------------------------------------------------------ settings

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

"""Admin of the fit reports and reconciliations: ask for one, read its summary (a bar chart of the findings by
kind), its records or findings."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.actor import actor_from_request
from core.exceptions import ApplicationError
from core.tenancy import tenant_scope
from reports.fit import fit_report_request
from reports.models import Finding, FitRecord, FitReport, Reconciliation
from reports.reconcile import reconciliation_request
from sync.models import RecordIdentifier
from tenants.admin import RUN_COLOURS, badge
from tenants.models import Tenant

ROWS_SHOWN = 200
SEVERITY_COLOURS = {"high": "#c62828", "medium": "#ef6c00", "low": "#757575"}


class FitReportForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.filter(is_active=True).order_by("name"))
    max_pages = forms.IntegerField(min_value=1, required=False,
                                   help_text="JAGGAER pages read per entity at most (the setting's default if empty).")


class ReconciliationForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.filter(is_active=True).order_by("name"))
    month = forms.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False,
                             help_text="YYYY-MM in the tenant's time zone; the month before this one if empty.")


class ReportAdmin(admin.ModelAdmin):
    # Both report admins: a list with an "ask for one" page. Each names its form, its title and `ask(tenant,
    # data, actor)`, the service call that asks for a report.
    list_select_related = ["tenant"]
    show_full_result_count = False
    request_form: type[forms.Form] = forms.Form
    request_title = ""
    change_list_template = "admin/reports/change_list_ask.html"

    def has_add_permission(self, request):
        return False    # asked for with the "Ask for one" page, which calls the service

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, RUN_COLOURS.get(obj.status, "#757575"), obj.error_message)

    def get_urls(self):
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}_ask"
        return [path("ask/", self.admin_site.admin_view(self.ask_view), name=name), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = dict(extra_context or {})
        extra["ask_url"] = reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_ask")
        return super().changelist_view(request, extra_context=extra)

    def ask_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = self.request_form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            tenant = form.cleaned_data["tenant"]
            try:
                with tenant_scope(tenant):
                    made = self.ask(tenant, form.cleaned_data, actor_from_request(request))
            except ApplicationError as e:
                self.message_user(request, e.message, messages.ERROR)
            else:
                self.message_user(request, f"Asked for {made}; it runs in the background.", messages.SUCCESS)
                opts = self.model._meta
                return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[made.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": self.request_title}
        return TemplateResponse(request, "admin/reports/ask.html", context)


@admin.register(FitReport)
class FitReportAdmin(ReportAdmin):
    list_display = ["created_at", "tenant", "status_badge", "capped", "created_by", "finished_at"]
    list_filter = ["status", "capped"]
    search_fields = ["=id", "tenant__slug", "tenant__name"]
    readonly_fields = ["id", "tenant", "status", "parameters", "capped", "error_code", "error_message", "created_by",
                       "created_at", "started_at", "finished_at"]
    fields = readonly_fields
    request_form = FitReportForm
    request_title = "Ask for a fit report (the next sync in dry-run mode, nothing written)"
    change_form_template = "admin/reports/fitreport/change_form.html"

    def ask(self, tenant, data: dict, actor):
        return fit_report_request(tenant=tenant, actor=actor, max_pages=data.get("max_pages"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if report is not None:
            records = FitRecord.objects.filter(report=report).exclude(prediction__in=["create", "unchanged"])
            extra.update(summary=report.summary, records=list(records.order_by("entity", "id")[:ROWS_SHOWN]),
                         records_more=records[ROWS_SHOWN:ROWS_SHOWN + 1].exists(),
                         entities=_entity_rows(report.summary.get("entities") or {}))
        return super().change_view(request, object_id, form_url, extra_context=extra)


PREDICTIONS = ["create", "link", "update", "unchanged", "skip", "hold", "fail"]


def _entity_rows(entities: dict) -> list[dict]:
    return [{"entity": e, "counts": [counts.get(p, 0) for p in PREDICTIONS]} for e, counts in entities.items()]


@admin.register(Reconciliation)
class ReconciliationAdmin(ReportAdmin):
    list_display = ["period_start", "tenant", "status_badge", "findings", "high", "created_by", "finished_at"]
    list_filter = ["status", "period_start"]
    search_fields = ["=id", "tenant__slug", "tenant__name"]
    readonly_fields = ["id", "tenant", "status", "period_start", "period_end", "parameters", "error_code",
                       "error_message", "created_by", "created_at", "started_at", "finished_at"]
    fields = readonly_fields
    request_form = ReconciliationForm
    request_title = "Ask for a reconciliation of JAGGAER with QuickBooks for a month"
    change_form_template = "admin/reports/reconciliation/change_form.html"

    def ask(self, tenant, data: dict, actor):
        return reconciliation_request(tenant=tenant, actor=actor, month=data.get("month") or None)

    @admin.display(description="findings")
    def findings(self, obj):
        return (obj.summary or {}).get("findings", "-")

    @admin.display(description="high")
    def high(self, obj):
        return ((obj.summary or {}).get("severities") or {}).get("high", 0)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        found = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if found is not None:
            findings = Finding.objects.filter(reconciliation=found).order_by("kind", "id")
            shown = list(findings[:ROWS_SHOWN])
            _attach_links(found.tenant, shown)
            extra.update(chart=_chart(found.summary.get("kinds") or {}),
                         severities=[(s, n, SEVERITY_COLOURS.get(s)) for s, n in
                                     (found.summary.get("severities") or {}).items()],
                         findings=shown, findings_more=findings[ROWS_SHOWN:ROWS_SHOWN + 1]
                         .exists(), colours=SEVERITY_COLOURS)
        return super().change_view(request, object_id, form_url, extra_context=extra)


# A finding's entity -> the pipeline step whose record it is about (its page in the support console).
FINDING_STEPS = {"supplier": "suppliers", "vendor": "suppliers", "invoice": "invoices",
                 "purchase_order": "purchase_orders"}
RECORD_ACTIONS = {"replay": "Replay it", "forget_link": "Forget the link"}


def _attach_links(tenant: Tenant, findings: list[Finding]) -> None:
    """Each finding's `links`: where support resolves it. Replay and forget-link findings open the record's page
    (its Replay and Forget link buttons, with their permissions), when we know the record; map findings open the
    tenant's mapping editor. One query for the whole page."""
    wanted = {(FINDING_STEPS[f.entity], f.jaggaer_id) for f in findings
              if f.action in RECORD_ACTIONS and f.jaggaer_id and f.entity in FINDING_STEPS}
    known: set[tuple[str, str]] = set()
    if wanted:
        with tenant_scope(tenant):
            known = set(RecordIdentifier.objects.for_tenant(tenant).filter(
                kind="jaggaer_id", entity__in={step for step, _ in wanted},
                source_id__in={source_id for _, source_id in wanted}).values_list("entity", "source_id"))
    for finding in findings:
        finding.links = []
        step = FINDING_STEPS.get(finding.entity)
        if finding.action in RECORD_ACTIONS and (step, finding.jaggaer_id) in known:
            finding.links.append((f"{RECORD_ACTIONS[finding.action]} on the record's page",
                                  reverse("admin:console_record", args=[tenant.pk, step, finding.jaggaer_id])))
        elif finding.action == "map":
            finding.links.append(("Open the mapping editor", reverse("admin:sync_mapping_tenant", args=[tenant.pk])))


def _chart(kinds: dict) -> list[dict]:
    """The summary chart: one bar per finding kind, its width relative to the largest."""
    top = max(kinds.values(), default=0) or 1
    return [{"kind": kind, "count": n, "width": max(1, round(300 * n / top))}
            for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])]

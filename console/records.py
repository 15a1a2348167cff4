"""The support search and one record's page: what it waits on in words, the link to its fix, Replay and
Forget link (through the services of sync/runs and sync/links)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from core.actor import actor_from_request
from core.exceptions import ApplicationError
from sync.holds.admin import can_replay, replay_selected
from sync.holds.reasons import reason_label, reason_released_when
from sync.links.services import link_forget
from sync.models import Hold
from sync.records.selectors import record_replay_rows, record_search, record_story
from sync.runs.replay import replayable_entities
from tenants.models import Tenant

MAPPING_REASONS = {"gl_unmapped": ("gl_account", "GL code"), "department_unmapped": ("department", "department")}
ENTITY_LABELS = {"suppliers": "Supplier", "purchase_orders": "Purchase order", "invoices": "Invoice"}
FORGET_REASONS = {"vendor_missing", "bill_missing_in_qbo", "po_missing_in_qbo", "document_type_changed"}


def mapping_anchor(kind: str, code: str) -> str:
    return f"mapping-{kind}-{code}"


def hold_fix(hold: Hold) -> dict:
    """What a hold waits on, in words, and where it is fixed: {"text", "links": [(label, url)]}."""
    label, released = reason_label(hold.reason), reason_released_when(hold.reason)
    links: list[tuple[str, str]] = []
    codes = [str(c) for c in hold.waits_on or []]
    if hold.reason in MAPPING_REASONS:
        kind, name = MAPPING_REASONS[hold.reason]
        editor = reverse("admin:sync_mapping_tenant", args=[hold.tenant_id])
        back = record_url(hold.tenant_id, hold.entity, hold.source_id)
        # the editor filtered to the code: its row is on the page however many codes the tenant has
        links = [(f"map {name} {code}", f"{editor}?{urlencode({'q': code, 'back': back})}#{mapping_anchor(kind, code)}")
                 for code in codes]
        text = f"Waits on {name} {', '.join(codes)} being mapped in QuickBooks; released when {released}."
    elif hold.reason == "ap_account_missing":
        links = [("choose the AP account", reverse("admin:sync_syncsettings_changelist")
                  + f"?tenant__id__exact={hold.tenant_id}")]
        text = f"Waits on an accounts-payable account; released when {released}."
    elif hold.reason == "currency_unsupported":
        text = ("Waits on multicurrency: the customer turns it on in QuickBooks (Settings → Account and settings → "
                "Advanced → Currency; it cannot be turned off again), then replay.")
    elif hold.reason in ("supplier_held", "supplier_invalid", "supplier_not_synced") and codes:
        links = [(f"supplier {code}", reverse("admin:console_record", args=[hold.tenant_id, "suppliers", code]))
                 for code in codes]
        text = f"Waits on its supplier {', '.join(codes)}; released when {released}."
    else:
        waits = f" (waits on {', '.join(codes)})" if codes else ""
        text = f"{label}{waits}; released when {released}."
    return {"label": label, "text": text, "links": links, "forget": hold.reason in FORGET_REASONS}


def waits_on_words(hold: Hold):
    fix = hold_fix(hold)
    parts = [format_html('<a href="{}">{}</a>', url, label) for label, url in fix["links"]]
    return format_html("{} {}", fix["text"], format_html(" · ".join(["{}"] * len(parts)), *parts) if parts else "")


def _can_forget(request, link) -> bool:
    return request.user.has_perm(f"sync.change_{type(link).__name__.lower()}")


def record_url(tenant_id, entity: str, source_id: str) -> str:
    return reverse("admin:console_record", args=[tenant_id, entity, source_id])


class RecordViews:
    """Mixed into the console's tenant admin: the search and record pages hang under its URLs."""

    def record_urls(self):
        view = self.admin_site.admin_view
        return [
            path("search/", view(self.search_view), name="console_search"),
            path("<uuid:tenant_id>/records/<str:entity>/<path:source_id>/replay/", view(self.record_replay_view),
                 name="console_record_replay"),
            path("<uuid:tenant_id>/records/<str:entity>/<path:source_id>/forget-link/",
                 view(self.record_forget_view), name="console_record_forget"),
            path("<uuid:tenant_id>/records/<str:entity>/<path:source_id>/", view(self.record_view),
                 name="console_record"),
        ]

    def search_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = request.GET.get("q", "").strip()[:200]
        results = record_search(query=query) if query else []
        for found in results:
            found.label = f"{ENTITY_LABELS.get(found.entity, found.entity)} {found.source_id}"
            found.url = record_url(found.tenant_id, found.entity, found.source_id)
            found.reason_label = reason_label(found.hold.reason) if found.hold else ""
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "query": query,
                   "title": f"Records known by “{query}”" if query else "Find a record", "results": results}
        return TemplateResponse(request, "admin/console/search.html", context)

    def record_view(self, request, tenant_id, entity, source_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant.objects.select_related("partner"), pk=tenant_id)
        story = record_story(tenant=tenant, entity=entity, source_id=source_id)
        if story.hold is None and story.link is None and not story.entries and not story.identifiers:
            raise Http404("No such record.")
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "tenant": tenant, "story": story,
            "title": f"{ENTITY_LABELS.get(entity, entity)} {source_id}",
            "fix": hold_fix(story.hold) if story.hold else None,
            "can_replay": can_replay(request) and entity in replayable_entities(),
            "can_forget": story.link is not None and _can_forget(request, story.link),
            "reason_label": reason_label(story.hold.reason) if story.hold else "",
        }
        return TemplateResponse(request, "admin/console/record.html", context)

    def record_replay_view(self, request, tenant_id, entity, source_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_replay(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=tenant_id)
        replay_selected(self, request, record_replay_rows(tenant=tenant, entity=entity, source_id=source_id))
        return HttpResponseRedirect(record_url(tenant_id, entity, source_id))

    def record_forget_view(self, request, tenant_id, entity, source_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant = get_object_or_404(Tenant, pk=tenant_id)
        story = record_story(tenant=tenant, entity=entity, source_id=source_id)
        if story.link is None:
            self.message_user(request, "This record has no link to forget.", messages.WARNING)
            return HttpResponseRedirect(record_url(tenant_id, entity, source_id))
        if not _can_forget(request, story.link):
            raise PermissionDenied
        try:
            link_forget(tenant=tenant, kind=story.link_kind, source_id=source_id, actor=actor_from_request(request))
        except ApplicationError as e:
            self.message_user(request, e.message, messages.ERROR)
        else:
            self.message_user(request, "Link forgotten: the next run matches or writes the record again.",
                              messages.SUCCESS)
        return HttpResponseRedirect(record_url(tenant_id, entity, source_id))

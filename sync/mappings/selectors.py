"""Reads of mappings, catalogs, the alignment report and the per-tenant sync settings."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from sync.holds.selectors import held_counts_by_code
from sync.models import Hold, JaggaerCatalogItem, Kind, Mapping, QboCatalogItem, SyncSettings, VendorLink


def mapping_list(*, tenant) -> QuerySet[Mapping]:
    return Mapping.objects.for_tenant(tenant).select_related("qbo_item")


def qbo_catalog_list(*, tenant) -> QuerySet[QboCatalogItem]:
    return QboCatalogItem.objects.for_tenant(tenant)


def jaggaer_catalog_list(*, tenant) -> QuerySet[JaggaerCatalogItem]:
    return JaggaerCatalogItem.objects.for_tenant(tenant)


def sync_settings_get(*, tenant) -> SyncSettings:
    found = SyncSettings.objects.select_related("ap_account").filter(tenant=tenant).first()
    return found or SyncSettings(tenant=tenant)


def alignment_report(*, tenant) -> dict:
    """JAGGAER codes without a valid QBO counterpart (with the held records waiting on each), and QBO
    accounts and departments no JAGGAER code uses."""
    report = {}
    for kind in Kind.values:
        held = held_counts_by_code(tenant=tenant, kind=kind)
        jaggaer = {i.code: i for i in JaggaerCatalogItem.objects.for_tenant(tenant).filter(kind=kind)}
        mappings = {m.code: m for m in mapping_list(tenant=tenant).filter(kind=kind)}
        unaligned = []
        for code in sorted(set(jaggaer) | set(held) | {c for c, m in mappings.items() if m.state != "mapped"}):
            mapping = mappings.get(code)
            if mapping is not None and mapping.state == Mapping.State.MAPPED:
                continue
            item = jaggaer.get(code)
            unaligned.append({
                "code": code, "name": item.name if item else "", "jaggaer_active": bool(item and item.active
                                                                                        and item.present),
                "in_jaggaer_catalog": item is not None and item.present,
                "state": mapping.state if mapping else Mapping.State.UNMAPPED,
                "detail": mapping.state_detail if mapping else "Not seen in JAGGAER's catalog.",
                "qbo_id": mapping.qbo_item.qbo_id if mapping and mapping.qbo_item else None,
                "held_records": held.get(code, 0),
            })
        used = Mapping.objects.filter(qbo_item=OuterRef("pk"), state=Mapping.State.MAPPED)
        unused_qs = QboCatalogItem.objects.for_tenant(tenant).postable(kind).annotate(
            used=Exists(used)).filter(used=False)
        report[kind] = {
            "jaggaer_without_qbo": unaligned,
            "qbo_unused": [{"qbo_id": i.qbo_id, "name": i.name, "number": i.number, "account_type": i.account_type}
                           for i in unused_qs.order_by("name")],
        }
    report["held_total"] = Hold.objects.for_tenant(tenant).count()
    report["vendor_links_needing_attention"] = [
        {"jaggaer_company_id": link.jaggaer_company_id, "qbo_vendor_id": link.qbo_vendor_id,
         "display_name": link.display_name, "attention": link.attention, "detail": link.attention_detail,
         "since": link.attention_at}
        for link in VendorLink.objects.for_tenant(tenant).exclude(attention="").order_by("display_name")
    ]
    return report


def mapping_targets(*, tenant, kind: str) -> QuerySet[QboCatalogItem]:
    """What a person is offered for a code of `kind`: the tenant's imported QBO items a purchase posts to."""
    return QboCatalogItem.objects.for_tenant(tenant).offered(kind).order_by("number", "name")


STATE_ORDER = {Mapping.State.UNMAPPED: 0, Mapping.State.STALE: 1, Mapping.State.MAPPED: 2}


def mapping_editor_rows(*, tenant) -> list[dict]:
    """Every code of both kinds (mapped or not, and codes only held records know of): unmapped first,
    then stale, then mapped; within each, the codes most held records wait on first. Five queries."""
    mappings = list(Mapping.objects.for_tenant(tenant).select_related("qbo_item"))
    names = {(i.kind, i.code): i.name for i in JaggaerCatalogItem.objects.for_tenant(tenant).only("kind", "code",
                                                                                                   "name")}
    rows = []
    for kind in Kind.values:
        held = held_counts_by_code(tenant=tenant, kind=kind)
        known = {m.code for m in mappings if m.kind == kind}
        for m in (m for m in mappings if m.kind == kind):
            rows.append({"kind": kind, "code": m.code, "mapping": m, "state": m.state, "held": held.get(m.code, 0)})
        for code in sorted(set(held) - known):
            rows.append({"kind": kind, "code": code, "mapping": None, "state": Mapping.State.UNMAPPED,
                         "held": held[code]})
    for row in rows:
        row["name"] = names.get((row["kind"], row["code"]), "")
    rows.sort(key=lambda r: (Kind.values.index(r["kind"]), STATE_ORDER[r["state"]], -r["held"], r["code"]))
    return rows

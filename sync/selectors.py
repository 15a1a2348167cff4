"""Reads of the sync app: mappings, catalogs, holds and the alignment report."""

from __future__ import annotations

from collections import Counter

from django.db.models import Exists, OuterRef, QuerySet

from sync.models import Hold, JaggaerCatalogItem, Kind, Mapping, QboCatalogItem, SyncSettings, VendorLink

MAPPING_HOLD_REASONS = {Kind.GL_ACCOUNT: "gl_unmapped", Kind.DEPARTMENT: "department_unmapped"}


def mapping_list(*, tenant) -> QuerySet[Mapping]:
    return Mapping.objects.for_tenant(tenant).select_related("qbo_item")


def qbo_catalog_list(*, tenant) -> QuerySet[QboCatalogItem]:
    return QboCatalogItem.objects.for_tenant(tenant)


def jaggaer_catalog_list(*, tenant) -> QuerySet[JaggaerCatalogItem]:
    return JaggaerCatalogItem.objects.for_tenant(tenant)


def held_counts_by_code(*, tenant, kind: str) -> Counter:
    """How many held records wait on each code of `kind` (one query)."""
    counts: Counter = Counter()
    rows = Hold.objects.for_tenant(tenant).filter(reason=MAPPING_HOLD_REASONS[kind]).values_list("waits_on", flat=True)
    for codes in rows:
        for code in set(codes or []):
            counts[str(code)] += 1
    return counts


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

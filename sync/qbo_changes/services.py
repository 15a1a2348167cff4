"""Changes made in QuickBooks, applied to our links, holds and catalogs: from webhooks and the daily CDC."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.utils import timezone

import audit
from connections.exceptions import ConnectionFailure, RemoteError
from connections.models import ConnectionStatus, QboConnection
from connections.tokens import qbo_client_for_tenant
from core.tenancy import unscoped
from sync.mappings.catalogs import mappings_refresh, qbo_catalog_import
from sync.models import BillLink, Cursor, Kind, PurchaseOrderLink, VendorLink

logger = logging.getLogger(__name__)

CATALOG_KIND = {"Account": Kind.GL_ACCOUNT, "Department": Kind.DEPARTMENT}
CDC_ENTITIES = ["Vendor", "Account", "Department", "PurchaseOrder", "Bill", "VendorCredit"]
DOCUMENTS = ("PurchaseOrder", "Bill", "VendorCredit")
CDC_CURSOR = "qbo_cdc"
CDC_MAX_DAYS = 29  # QBO answers CDC at most 30 days back


def qbo_realms_unknown(*, realms: set[str]) -> set[str]:
    """The realms of a webhook that no tenant's QBO connection has (Intuit's answer is then 401)."""
    with unscoped("a webhook names realms, not a tenant"):
        known = set(QboConnection.objects.filter(realm_id__in=realms).values_list("realm_id", flat=True))
    return set(realms) - known


def _vendor_attention(vendor_id: str, operation: str, entity: dict | None) -> tuple[str, str] | None:
    if operation in ("Delete", "Merge") or (entity or {}).get("status") == "Deleted":
        verb = "merged into another vendor" if operation == "Merge" else "deleted"
        return f"qbo_vendor_{'merged' if operation == 'Merge' else 'deleted'}", (
            f"The QuickBooks vendor {vendor_id} was {verb} in QuickBooks; its JAGGAER supplier needs a person "
            f"to re-link it (supplier data keeps flowing from JAGGAER only).")
    if entity is not None and entity.get("Active") is False:
        return "qbo_vendor_inactive", (
            f"The QuickBooks vendor {vendor_id} ({entity.get('DisplayName', '')}) was made inactive in QuickBooks; "
            f"bills for its JAGGAER supplier may be refused until it is reactivated.")
    return None


def _apply_for_tenant(tenant, qbo, changes: list[dict], *, objects: dict | None = None) -> dict[str, int]:
    counts = {"catalogs_refreshed": 0, "vendors_flagged": 0}
    kinds = {CATALOG_KIND[c["entity"]] for c in changes if c["entity"] in CATALOG_KIND}
    for kind in sorted(kinds):
        qbo_catalog_import(tenant=tenant, qbo=qbo, kind=kind)
        mappings_refresh(tenant=tenant, kind=kind)
        counts["catalogs_refreshed"] += 1
    vendor_changes = {c["entity_id"]: c for c in changes if c["entity"] == "Vendor"}
    links = {link.qbo_vendor_id: link for link in
             VendorLink.objects.for_tenant(tenant).filter(qbo_vendor_id__in=list(vendor_changes))}
    flagged, events, now = [], [], timezone.now()
    for vendor_id, change in vendor_changes.items():
        link = links.get(vendor_id)
        if link is None:
            continue
        entity = (objects or {}).get(("Vendor", vendor_id))
        if entity is None and change["operation"] not in ("Delete", "Merge"):
            try:
                entity = qbo.read("Vendor", vendor_id)
            except RemoteError as e:
                entity = {"status": "Deleted"} if e.code == "610" else None
        attention = _vendor_attention(vendor_id, change["operation"], entity)
        if attention is None:
            if link.attention:  # reactivated in QBO: nothing to look at any more
                link.attention, link.attention_detail, link.attention_at = "", "", None
                flagged.append(link)
            continue
        link.attention, link.attention_detail, link.attention_at = attention[0], attention[1], now
        flagged.append(link)
        events.append({"tenant_id": tenant.pk, "entity": "suppliers", "source_id": link.jaggaer_company_id,
                       "qbo_id": vendor_id, "outcome": "held", "reason": attention[0], "message": attention[1]})
    for link in flagged:
        link.updated_at = now        # documents held on the vendor's attention wait on this stamp
    if flagged:
        VendorLink.objects.bulk_update(flagged, ["attention", "attention_detail", "attention_at", "updated_at"])
    counts["vendors_flagged"] = len(events)
    document_events = _documents_deleted(tenant, changes, objects or {})
    counts["documents_deleted"] = len(document_events)
    if events or document_events:
        audit.record_events(events + document_events)
    return counts


def _documents_deleted(tenant, changes: list[dict], objects: dict) -> list[dict]:
    """POs, bills and vendor credits we wrote that were deleted in QBO: their links say so, support is told.

    A PO marked deleted holds the invoices that would bill it (`po_missing_in_qbo`) instead of letting QBO
    refuse them; forgetting the PO's link and replaying the PO writes it again."""
    deleted = {(c["entity"], c["entity_id"]) for c in changes if c["entity"] in DOCUMENTS and (
        c["operation"] == "Delete" or (objects.get((c["entity"], c["entity_id"])) or {}).get("status") == "Deleted")}
    if not deleted:
        return []
    events = []
    po_ids = [obj_id for entity, obj_id in deleted if entity == "PurchaseOrder"]
    for link in PurchaseOrderLink.objects.for_tenant(tenant).filter(qbo_po_id__in=po_ids).exclude(qbo_status="Deleted"):
        link.qbo_status = "Deleted"
        link.save(update_fields=["qbo_status", "updated_at"])
        events.append({"tenant_id": tenant.pk, "entity": "purchase_orders", "source_id": link.jaggaer_po_id,
                       "qbo_id": link.qbo_po_id, "outcome": "held", "reason": "po_missing_in_qbo",
                       "message": f"QuickBooks purchase order {link.qbo_po_id} (PO {link.po_number}) was deleted in "
                                  f"QuickBooks. Invoices billing it wait. To write it again, forget its link "
                                  f"(admin 'Purchase order links', or DELETE .../links/purchase_orders/"
                                  f"{link.jaggaer_po_id}) and replay the PO."})
    bill_ids = [obj_id for entity, obj_id in deleted if entity in ("Bill", "VendorCredit")]
    for link in BillLink.objects.for_tenant(tenant).filter(qbo_id__in=bill_ids):
        events.append({"tenant_id": tenant.pk, "entity": "invoices", "source_id": link.jaggaer_invoice_id,
                       "qbo_id": link.qbo_id, "outcome": "held", "reason": "bill_missing_in_qbo",
                       "message": f"QuickBooks {link.qbo_entity} {link.qbo_id} (invoice {link.invoice_number}) was "
                                  f"deleted in QuickBooks. If that was a mistake, forget its link (admin 'Bill "
                                  f"links', or DELETE .../links/invoices/{link.jaggaer_invoice_id}) and replay it."})
    return events


def _client(connection: QboConnection):

    return qbo_client_for_tenant(connection.tenant)


@unscoped("QBO changes name realms of any tenant")
def qbo_changes_apply(*, changes: list[dict]) -> dict[str, int]:
    """Apply webhook entity changes ({realm_id, entity, entity_id, operation}) per tenant of each realm."""
    by_realm = defaultdict(list)
    for change in changes:
        by_realm[str(change["realm_id"])].append(change)
    totals = defaultdict(int)
    # A deactivated tenant's realm is left alone: no webhook work for it.
    connections = (QboConnection.objects.filter(realm_id__in=list(by_realm), tenant__is_active=True)
                   .select_related("tenant"))
    for connection in connections:
        try:
            qbo = _client(connection)
        except ConnectionFailure as e:
            totals["skipped"] += 1
            logger.info("webhook changes for realm %s not applied: %s", connection.realm_id, e.reason)
            continue
        try:
            for key, value in _apply_for_tenant(connection.tenant, qbo, by_realm[connection.realm_id]).items():
                totals[key] += value
        finally:
            qbo.close()
    return dict(totals)


def _cdc_changes(realm_id: str, found: dict[str, list[dict]]) -> tuple[list[dict], dict]:
    changes, objects = [], {}
    for entity_name, rows in found.items():
        for row in rows:
            operation = "Delete" if row.get("status") == "Deleted" else "Update"
            changes.append({"realm_id": realm_id, "entity": entity_name, "entity_id": str(row.get("Id")),
                            "operation": operation})
            objects[(entity_name, str(row.get("Id")))] = row
    return changes, objects


@unscoped("the daily CDC of every connected realm")
def qbo_changes_reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Daily: ask QBO's CDC what changed since the last reconcile, so a missed webhook is caught up."""
    now = now or timezone.now()
    totals = defaultdict(int)
    connected = QboConnection.objects.filter(status=ConnectionStatus.CONNECTED, tenant__is_active=True)
    for connection in connected.select_related("tenant"):
        tenant = connection.tenant
        cursor, _ = Cursor.objects.get_or_create(tenant=tenant, entity=CDC_CURSOR)
        since = max(cursor.high_water_mark or now - dt.timedelta(days=1), now - dt.timedelta(days=CDC_MAX_DAYS))
        try:
            qbo = _client(connection)
            try:
                changes, objects = _cdc_changes(connection.realm_id, qbo.cdc(CDC_ENTITIES, since))
                for key, value in _apply_for_tenant(tenant, qbo, changes, objects=objects).items():
                    totals[key] += value
            finally:
                qbo.close()
        except (ConnectionFailure, RemoteError) as e:
            totals["failed"] += 1
            logger.warning("CDC reconcile of tenant %s failed: %s", tenant.pk, type(e).__name__)
            continue
        cursor.high_water_mark = now
        cursor.save(update_fields=["high_water_mark", "updated_at"])
        totals["tenants"] += 1
    return dict(totals)

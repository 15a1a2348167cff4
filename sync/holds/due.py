"""Which held records a run plans again: those whose cause may have changed since they were held.

A hold is *due* when one of these is true (decided in SQL, per hold, from `reason`, `waits_on`, `last_held_at`
and `step_version`; nothing is loaded into Python to decide):

- always: `retry` (a passing QuickBooks failure) and any reason not named below;
- the step's transform version is not the one the hold was written with;
- mapping and settings reasons (`MAPPING`): a mapping, a QBO account or department, a JAGGAER catalog code or the
  sync settings changed after it was held; `class_missing` also when QBO classes may have changed (the run's CDC
  brought some, or the snapshot was read whole);
- `currency_unsupported`: the company's preferences now accept foreign currencies (multicurrency on);
- PO reasons (`PURCHASE_ORDER`): the link of a PO it names (by number) was written after it was held (more
  billing on a PO never releases an over-billed invoice; billing removed is seen by the weekly re-check);
- supplier reasons (`SUPPLIER`): the vendor link of a supplier it names was written or changed after it was held,
  that supplier's own hold was written again, or the supplier is neither linked nor held any more (link forgotten,
  hold released);
- a duplicate of another record of the same step (`TWIN`): that record's link or hold changed after, or it has
  neither;
- QBO-side reasons (`QBO_SIDE`): the record's own link was forgotten or written after it was held; the vendor ones
  also when the run's CDC brought vendor changes;
- every reason but those only JAGGAER fixes and the currency: once the QBO snapshot is read whole after it was
  held (the weekly full read, `QBO_FULL_READ_DAYS`, or a full run): what no signal above covers (a payment voided
  in QuickBooks, a bill line's billing removed) is seen within a week;
- reasons only JAGGAER can fix (`JAGGAER_ONLY`): never from the hold; the corrected record comes with the stream.

A full run plans every hold again; a replay plans the records it names, held or not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, DateTimeField, Max, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from sync.models import (
    Hold,
    JaggaerCatalogItem,
    Mapping,
    PurchaseOrderLink,
    QboCatalogItem,
    QboSnapshot,
    SyncSettings,
    VendorLink,
)

ALWAYS = frozenset({"retry"})
MAPPING = frozenset({"gl_unmapped", "department_unmapped", "multiple_departments", "class_missing",
                     "ap_account_missing"})
CURRENCY = frozenset({"currency_unsupported"})
PURCHASE_ORDER = frozenset({"po_not_found", "po_not_synced", "po_cancelled", "po_missing_in_qbo", "po_line_not_found",
                            "po_vendor_mismatch", "po_overbilled"})
SUPPLIER = frozenset({"supplier_not_synced", "supplier_not_found", "supplier_held", "supplier_invalid",
                      "vendor_needs_attention"})
TWIN = frozenset({"duplicate_supplier_name", "po_number_duplicate", "duplicate_invoice_number"})
QBO_SIDE = frozenset({"bill_paid", "bill_missing_in_qbo", "document_type_changed", "vendor_name_taken",
                      "vendor_missing", "po_number_taken", "po_missing_in_qbo"})
QBO_VENDOR = frozenset({"vendor_name_taken", "vendor_missing"})
JAGGAER_ONLY = frozenset({"invalid_record", "quantity_not_positive", "unit_price_negative", "line_amount_mismatch",
                          "amount_negative", "line_signs_mixed", "total_mismatch"})
CATEGORISED = MAPPING | CURRENCY | PURCHASE_ORDER | SUPPLIER | TWIN | QBO_SIDE | JAGGAER_ONLY
SUPPLIER_STEP = "suppliers"


@dataclass
class HoldSignals:
    """What a run knows, before planning a step's holds, of the changes that may release them."""

    mappings_changed_at: dt.datetime | None = None   # mappings, both catalogs, sync settings
    classes_changed_at: dt.datetime | None = None
    full_read_at: dt.datetime | None = None
    currency_accepted: bool = False                  # multicurrency is on
    vendors_changed: bool = False                    # the run's CDC brought vendor changes


def hold_signals(*, tenant) -> HoldSignals:
    """The tenant's change stamps, in one query."""
    from tenants.models import Tenant

    def latest(model):
        return Subquery(model.objects.for_tenant(tenant).order_by().values("tenant").annotate(
            at=Max("updated_at")).values("at"), output_field=DateTimeField())

    snapshot = QboSnapshot.objects.for_tenant(tenant)
    row = Tenant.objects.filter(pk=tenant.pk).values("pk").annotate(
        mapping=latest(Mapping), qbo_items=latest(QboCatalogItem), jaggaer_items=latest(JaggaerCatalogItem),
        settings_at=latest(SyncSettings),
        classes=Subquery(snapshot.values("classes_changed_at"), output_field=DateTimeField()),
        full_read=Subquery(snapshot.values("full_read_at"), output_field=DateTimeField())).first() or {}
    changed = [row[k] for k in ("mapping", "qbo_items", "jaggaer_items", "settings_at") if row.get(k)]
    return HoldSignals(mappings_changed_at=max(changed) if changed else None, classes_changed_at=row.get("classes"),
                       full_read_at=row.get("full_read"))


def _names(values) -> tuple[str, list[str]]:
    values = sorted(values)
    return ", ".join(["%s"] * len(values)), values


def _elements(column: str) -> tuple[str, str]:
    """The FROM item of a JSON array column's elements as text, and the name of its value."""
    if connection.vendor == "postgresql":
        return f"jsonb_array_elements_text({column}) AS w(code)", "w.code"
    return f"json_each({column}) AS w", "w.value"


def holds_due(queryset: QuerySet[Hold], *, version: str, link_model, link_key: str, signals: HoldSignals,
              now: dt.datetime, recheck_days: int) -> QuerySet[Hold]:
    """The holds of `queryset` (one step's) due to be planned again (the module's rule), as one SQL condition.
    `link_model`/`link_key`: the step's own link rows and their JAGGAER id column."""
    q = connection.ops.quote_name
    h = q(Hold._meta.db_table)
    reason, waits, held_at, tenant = f"{h}.{q('reason')}", f"{h}.{q('waits_on')}", f"{h}.{q('last_held_at')}", \
        f"{h}.{q('tenant_id')}"
    from_w, w = _elements(waits)
    holds_t, links_t = q(Hold._meta.db_table), q(link_model._meta.db_table)
    po_t, vendor_t = q(PurchaseOrderLink._meta.db_table), q(VendorLink._meta.db_table)
    key = q(link_model._meta.get_field(link_key).column)
    parts: list[tuple[str, list]] = []

    def add(sql: str, *params) -> None:
        parts.append((sql, list(params)))

    def among(reasons) -> tuple[str, list[str]]:
        marks, values = _names(reasons)
        return f"{reason} IN ({marks})", values

    add(f"{h}.{q('step_version')} <> %s", version)
    marks, values = _names(CATEGORISED)
    add(f"{reason} NOT IN ({marks})", *values)
    if signals.mappings_changed_at is not None:
        cond, values = among(MAPPING)
        add(f"({cond} AND {held_at} < %s)", *values, signals.mappings_changed_at)
    if signals.classes_changed_at is not None:
        add(f"({reason} = %s AND {held_at} < %s)", "class_missing", signals.classes_changed_at)
    if signals.currency_accepted:
        cond, values = among(CURRENCY)
        add(cond, *values)
    cond, values = among(PURCHASE_ORDER)

    def named(what: str, match: str) -> str:
        """Some code of `waits_on` finds a row of `what` (each code an index look-up, whatever the statistics)."""
        return f"EXISTS (SELECT 1 FROM {from_w} WHERE EXISTS (SELECT 1 FROM {what} WHERE {match}))"

    def po_named(column: str, extra: str) -> str:
        """A PO link whose `column` is a code of `waits_on`, written after the hold. On PostgreSQL the codes go in
        as `= ANY (ARRAY(...))`: both columns of the (tenant, number) index are then index conditions, so the look-up
        stays one index probe per code even when the statistics are stale (right after a first load, when the
        planner otherwise scans every link of the tenant for each hold)."""
        if connection.vendor == "postgresql":
            return (f"EXISTS (SELECT 1 FROM {po_t} l WHERE l.tenant_id = {tenant} AND l.{column} = ANY (ARRAY("
                    f"SELECT jsonb_array_elements_text({waits}))) AND l.updated_at > {held_at}{extra})")
        return named(f"{po_t} l", f"l.tenant_id = {tenant} AND l.{column} = {w} AND l.updated_at > {held_at}{extra}")

    # `doc_number <> ''` lets PostgreSQL use the partial unique index on (tenant, doc_number), not a scan per hold
    po_changed = [po_named("po_number", ""), po_named("doc_number", " AND l.doc_number <> ''")]
    add(f"({cond} AND ({' OR '.join(po_changed)}))", *values)

    def moved(links: str, column: str, entity: str) -> str:
        """A record named in `waits_on` got its link written or its hold written again after the hold, or has
        neither a link nor a hold any more."""
        link = f"{links} v WHERE v.tenant_id = {tenant} AND v.{column} = {w}"
        hold = f"{holds_t} s WHERE s.tenant_id = {tenant} AND s.entity = {entity} AND s.source_id = {w}"
        return (f"EXISTS (SELECT 1 FROM {from_w} WHERE EXISTS (SELECT 1 FROM {link} AND v.updated_at > {held_at}) "
                f"OR EXISTS (SELECT 1 FROM {hold} AND s.last_held_at > {held_at}) "
                f"OR (NOT EXISTS (SELECT 1 FROM {link}) AND NOT EXISTS (SELECT 1 FROM {hold})))")

    cond, values = among(SUPPLIER)
    add(f"({cond} AND {moved(vendor_t, 'jaggaer_company_id', repr(SUPPLIER_STEP))})", *values)
    cond, values = among(TWIN)
    add(f"({cond} AND {moved(links_t, key, f'{h}.entity')})", *values)
    cond, values = among(QBO_SIDE)
    own = f"SELECT 1 FROM {links_t} o WHERE o.tenant_id = {tenant} AND o.{key} = {h}.{q('source_id')}"
    add(f"({cond} AND (NOT EXISTS ({own}) OR EXISTS ({own} AND o.updated_at > {held_at})))", *values)
    if signals.vendors_changed:
        cond, values = among(QBO_VENDOR)
        add(cond, *values)
    marks, values = _names(JAGGAER_ONLY | CURRENCY)
    add(f"({reason} NOT IN ({marks}) AND {held_at} < %s)", *values, now - dt.timedelta(days=recheck_days))
    sql = " OR ".join(f"({part})" for part, _ in parts)
    params = [p for _, ps in parts for p in ps]
    return queryset.filter(RawSQL(f"({sql})", params, output_field=BooleanField()))


"""What a run knows of the tenant's QuickBooks company, kept between runs so a daily run costs one CDC request.

The first run of a tenant (and a full run, a realm change, a cursor older than CDC's 30 days, or every
`QBO_FULL_READ_DAYS`) reads the lists whole: accounts, departments, vendors, customers, employees, terms. Every
other run asks `/cdc` once what changed in all of them, and in classes, since the cursor (less
`QBO_CDC_OVERLAP_SECONDS` for clock skew) and applies it to the stored snapshot: accounts and departments to
`QboCatalogItem`, the rest to the tenant's `QboSnapshot` row; of classes only when they changed
(`classes_changed_at`, which a full read also sets: documents held for a missing class wait on it). A CDC answer
that may be cut short (1000 objects of one entity) or that QBO refuses means a full read instead, never a partial
view.

The company's preferences (home currency, multicurrency) are read at most once a run and kept on the snapshot for
`QBO_PREFERENCES_MAX_AGE_SECONDS`. The CDC request asks for `Preferences` too: an answer that brings them
replaces the kept ones, one that does not says they have not changed since the cursor, so kept preferences
current at the cursor stay current without a `/preferences` request (a company whose CDC refuses Preferences is
asked without them until the next full read). Otherwise a step about to refuse a record for its currency on kept
preferences reads them again once (`QboView.refresh_preferences`), so turning multicurrency on in QuickBooks is
seen by the next record: at once in a run a person started, in a scheduled run once the kept ones are older than
`QBO_PREFERENCES_RECHECK_SECONDS` (`preferences_recheck_after`).

A run's view lives in `RunContext.shared` (`qbo_view(ctx)`): every step of the run, and the vendor step a
document step starts for a supplier it reached first, share it, and the vendor step's writes keep it current.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connections.exceptions import ConnectionFailure, RemoteError
from sync.mappings.catalogs import QBO_ENTITY, mappings_refresh, qbo_catalog_import, qbo_catalog_store
from sync.models import Kind, QboSnapshot
from sync.pipeline.company import CompanyCurrency, currency_from_preferences
from sync.transforms.common import normalize_name

logger = logging.getLogger(__name__)

ALL_ROWS = "Active IN (true,false)"
CDC_ENTITIES = ["Account", "Department", "Vendor", "Customer", "Employee", "Term", "Class"]
PREFERENCES = "Preferences"      # asked of CDC too, unless the company refused it (QboSnapshot.cdc_preferences)
CDC_MAX_DAYS = 29           # QBO answers CDC at most 30 days back; a day kept for clock skew
CDC_MAX_ROWS = 1000         # QBO's cap per entity in one CDC answer: that many may mean more were left out
VENDOR_FIELDS = ("Id", "SyncToken", "DisplayName", "Active")
KIND_OF = {entity: kind for kind, entity in QBO_ENTITY.items()}
SHARED_KEY = "qbo_view"


def slim_vendor(vendor: dict) -> dict:
    """The few fields of a QBO vendor a run uses (and the snapshot keeps)."""
    return {k: vendor.get(k) for k in VENDOR_FIELDS}


def _deleted(row: dict) -> bool:
    return row.get("status") == "Deleted"


@dataclass
class QboView:
    """The run's view of the QBO lists the vendor and document steps use (accounts and departments are rows)."""

    qbo: object
    snapshot: QboSnapshot
    mode: str                                         # "full" | "cdc": how this run learned of QBO
    vendors: dict[str, dict] = field(default_factory=dict)      # vendor Id -> slim vendor (shared, kept current)
    other_names: dict[str, str] = field(default_factory=dict)   # "Customer:Id" / "Employee:Id" -> DisplayName
    terms: dict[str, str] = field(default_factory=dict)         # Term Id -> Name (active terms)
    changed: dict[str, int] = field(default_factory=dict)       # entity -> rows the CDC answer brought
    preferences_read: bool = False                    # read from QBO in this run (not kept from an earlier one)
    preferences_current: bool = False                 # this run's CDC answer says the kept ones are current
    recheck_after: dt.timedelta = dt.timedelta(0)     # kept preferences younger than this are not read on a refusal
    _currency: CompanyCurrency | None = None

    def currency(self) -> CompanyCurrency:
        """The company's currencies: kept preferences while fresh, else read once (then kept)."""
        if self._currency is None:
            snapshot = self.snapshot
            max_age = dt.timedelta(seconds=settings.QBO_PREFERENCES_MAX_AGE_SECONDS)
            if (not snapshot.preferences or snapshot.preferences_at is None
                    or timezone.now() - snapshot.preferences_at > max_age):
                self._read_preferences()
            self._currency = currency_from_preferences(self.snapshot.preferences)
        return self._currency

    def refresh_preferences(self) -> bool:
        """Read the preferences again unless this run already did, or they were read less than `recheck_after`
        ago: True when they were read now."""
        if self.preferences_read or self.preferences_current:
            return False
        at = self.snapshot.preferences_at
        if self.snapshot.preferences and at is not None and timezone.now() - at < self.recheck_after:
            return False
        self._read_preferences()
        self._currency = currency_from_preferences(self.snapshot.preferences)
        return True

    def _read_preferences(self) -> None:
        prefs = self.qbo.preferences() or {}
        kept = {"CurrencyPrefs": prefs.get("CurrencyPrefs") or {}}
        self.snapshot.preferences, self.snapshot.preferences_at = kept, timezone.now()
        QboSnapshot.objects.filter(pk=self.snapshot.pk).update(preferences=kept, preferences_at=timezone.now())
        self.preferences_read = True

    def other_name_keys(self) -> set[str]:
        """Normalised names of customers and employees (they share the vendors' namespace: 6240)."""
        return {normalize_name(name or "") for name in self.other_names.values()}

    def term_refs(self) -> dict[str, dict]:
        """Normalised term name -> TermRef, for active terms."""
        return {normalize_name(name or ""): {"value": term_id, "name": name} for term_id, name in self.terms.items()}


def qbo_view(ctx) -> QboView:
    """The run's view of QuickBooks, brought up to date on first use (one CDC request, or a full read)."""
    view = ctx.shared.get(SHARED_KEY)
    if view is None:
        view = ctx.shared[SHARED_KEY] = qbo_view_load(tenant=ctx.tenant, qbo=ctx.qbo, full=ctx.run.full,
                                                      refresh_mappings=_catalogs_not_in_run(ctx.run))
        view.recheck_after = preferences_recheck_after(ctx.run)
    return view


def preferences_recheck_after(run) -> dt.timedelta:
    """How old kept preferences must be before a document refused for its currency has them read again.

    QuickBooks cannot turn multicurrency off once it is on, nor change the home currency: kept preferences go
    stale only by multicurrency being turned on, which matters only to a document they would refuse. A run a
    person started (command, API, replay) reads them again on such a refusal (whoever turned multicurrency on
    sees it at once); a scheduled run does so only when they are older than `QBO_PREFERENCES_RECHECK_SECONDS`
    (20 h: once a day), so a tenant with documents held for their currency does not pay `/preferences` in
    every run of the day."""
    if run.trigger == run.Trigger.SCHEDULE:
        return dt.timedelta(seconds=settings.QBO_PREFERENCES_RECHECK_SECONDS)
    return dt.timedelta(0)


def _catalogs_not_in_run(run) -> bool:
    return bool(run.targets) or bool(run.entities and "catalogs" not in run.entities)


def qbo_view_load(*, tenant, qbo, full: bool = False, refresh_mappings: bool = False) -> QboView:
    """Bring the tenant's snapshot up to date (CDC, or a full read when due) and return the run's view of it."""
    now = timezone.now()
    snapshot, _ = QboSnapshot.objects.get_or_create(tenant=tenant)
    realm_id = str(getattr(qbo, "realm_id", "") or "")
    reason = _full_read_reason(snapshot, realm_id, full=full, now=now)
    view = None
    if reason is None:
        view = _apply_cdc(tenant, qbo, snapshot, now=now, refresh_mappings=refresh_mappings)
        if view is None:
            reason = "the CDC answer could not be used"
    if view is None:
        logger.info("QBO snapshot of tenant %s: full read (%s)", tenant.pk, reason)
        view = _full_read(tenant, qbo, snapshot, realm_id, now=now, refresh_mappings=refresh_mappings)
    return view


def _full_read_reason(snapshot: QboSnapshot, realm_id: str, *, full: bool, now: dt.datetime) -> str | None:
    if full:
        return "a full run"
    if snapshot.changed_since is None or snapshot.full_read_at is None:
        return "no snapshot yet"
    if snapshot.realm_id != realm_id:
        return "another QuickBooks company"
    since = snapshot.changed_since - dt.timedelta(seconds=settings.QBO_CDC_OVERLAP_SECONDS)
    if now - since > dt.timedelta(days=CDC_MAX_DAYS):
        return "the cursor is older than CDC's 30 days"
    if now - snapshot.full_read_at > dt.timedelta(days=settings.QBO_FULL_READ_DAYS):
        return "the weekly full read is due"
    return None


def _full_read(tenant, qbo, snapshot: QboSnapshot, realm_id: str, *, now: dt.datetime,
               refresh_mappings: bool) -> QboView:
    for kind in (Kind.GL_ACCOUNT, Kind.DEPARTMENT):
        qbo_catalog_import(tenant=tenant, qbo=qbo, kind=kind)
        if refresh_mappings:
            mappings_refresh(tenant=tenant, kind=kind)
    vendors = {str(v["Id"]): slim_vendor(v) for page in qbo.query_pages("Vendor", ALL_ROWS) for v in page}
    other_names = {f"{entity}:{row['Id']}": row.get("DisplayName") or ""
                   for entity in ("Customer", "Employee")
                   for page in qbo.query_pages(entity, ALL_ROWS) for row in page}
    terms = {str(t["Id"]): t.get("Name") or "" for page in qbo.query_pages("Term") for t in page}
    if snapshot.realm_id != realm_id:
        snapshot.preferences, snapshot.preferences_at = {}, None   # another company: its preferences are unknown
    snapshot.realm_id, snapshot.changed_since, snapshot.full_read_at = realm_id, now, now
    snapshot.cdc_preferences = True     # asked of CDC again: a refusal is not kept past a full read
    snapshot.classes_changed_at = now   # classes are not kept: they may have changed unseen
    snapshot.vendors, snapshot.other_names, snapshot.terms = vendors, other_names, terms
    snapshot.save()
    return QboView(qbo=qbo, snapshot=snapshot, mode="full", vendors=dict(vendors), other_names=dict(other_names),
                   terms=dict(terms))


def _classes_changed(rows: list[dict], since: dt.datetime | None) -> bool:
    """Whether a CDC answer's classes hold a change after `since` (its overlap window repeats older ones). QBO's
    stamps count whole seconds: a class changed in the second `since` falls in counts as changed (a needless
    re-plan of a few holds at worst, never a missed class)."""
    for row in rows:
        stamp = parse_datetime(str((row.get("MetaData") or {}).get("LastUpdatedTime") or ""))
        if since is None or stamp is None or stamp >= since.replace(microsecond=0):
            return True
    return False


def _apply_cdc(tenant, qbo, snapshot: QboSnapshot, *, now: dt.datetime, refresh_mappings: bool) -> QboView | None:
    """One CDC request applied to the snapshot; None when the answer cannot be used (a full read follows)."""
    since = snapshot.changed_since - dt.timedelta(seconds=settings.QBO_CDC_OVERLAP_SECONDS)
    changes: dict = {"changed_since": now}
    entities = CDC_ENTITIES + ([PREFERENCES] if snapshot.cdc_preferences else [])
    found = _cdc(tenant, qbo, entities, since)
    if found is None and PREFERENCES in entities:
        logger.warning("QBO CDC of tenant %s refused with Preferences: asking without them until the next full "
                       "read", tenant.pk)
        entities = CDC_ENTITIES
        found = _cdc(tenant, qbo, entities, since)
        changes["cdc_preferences"] = False
    if found is None:
        logger.warning("QBO CDC of tenant %s refused: reading the lists whole", tenant.pk)
        return None
    if any(len(rows) >= CDC_MAX_ROWS for rows in found.values()):
        return None
    preferences_current = False
    if PREFERENCES in entities:
        answered = [row for row in found.get(PREFERENCES) or [] if isinstance(row, dict)]
        if answered:                   # changed since the cursor: the answer's are the company's now
            changes["preferences"] = {"CurrencyPrefs": answered[-1].get("CurrencyPrefs") or {}}
            preferences_current = True
        else:                          # unchanged since the cursor: kept ones current then are current now
            preferences_current = (bool(snapshot.preferences) and snapshot.preferences_at is not None
                                   and snapshot.preferences_at >= since)
        if preferences_current:
            changes["preferences_at"] = now
    vendors, other_names, terms = dict(snapshot.vendors), dict(snapshot.other_names), dict(snapshot.terms)
    for row in found.get("Vendor", []):
        if _deleted(row):
            vendors.pop(str(row.get("Id")), None)
        else:
            vendors[str(row["Id"])] = slim_vendor(row)
    for entity in ("Customer", "Employee"):
        for row in found.get(entity, []):
            key = f"{entity}:{row.get('Id')}"
            if _deleted(row):
                other_names.pop(key, None)
            else:
                other_names[key] = row.get("DisplayName") or ""
    for row in found.get("Term", []):
        if _deleted(row) or row.get("Active") is False:
            terms.pop(str(row.get("Id")), None)
        else:
            terms[str(row["Id"])] = row.get("Name") or ""
    for entity, kind in KIND_OF.items():
        rows = found.get(entity) or []
        if rows and qbo_catalog_store(tenant=tenant, kind=kind, entities=rows, complete=False):
            if refresh_mappings:
                mappings_refresh(tenant=tenant, kind=kind)
    if _classes_changed(found.get("Class") or [], snapshot.classes_changed_at):
        changes["classes_changed_at"] = now      # documents held for a missing class are planned again
    if vendors != snapshot.vendors:
        changes["vendors"] = vendors
    if other_names != snapshot.other_names:
        changes["other_names"] = other_names
    if terms != snapshot.terms:
        changes["terms"] = terms
    for name, value in changes.items():
        setattr(snapshot, name, value)
    QboSnapshot.objects.filter(pk=snapshot.pk).update(**changes, updated_at=timezone.now())
    return QboView(qbo=qbo, snapshot=snapshot, mode="cdc", vendors=dict(vendors), other_names=other_names, terms=terms,
                   changed={entity: len(rows) for entity, rows in found.items() if rows},
                   preferences_current=preferences_current)


def _cdc(tenant, qbo, entities: list[str], since: dt.datetime) -> dict[str, list[dict]] | None:
    """The CDC answer, or None when QuickBooks refused the request (an error that is not transient)."""
    try:
        return qbo.cdc(entities, since)
    except ConnectionFailure:
        raise
    except RemoteError as e:
        if e.transient:
            raise
        logger.warning("QBO CDC of tenant %s refused (%s)", tenant.pk, e.code or e.status)
        return None

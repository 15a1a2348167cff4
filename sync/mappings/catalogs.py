"""Import both sides' catalogs (GL accounts, departments) and keep the mappings' states in step."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from sync.mappings.matching import Candidate, auto_match, mapping_state
from sync.models import JaggaerCatalogItem, Kind, Mapping, QboCatalogItem
from sync.transforms.validation import validate

logger = logging.getLogger(__name__)

ALL_ROWS = "Active IN (true,false)"
QBO_ENTITY = {Kind.GL_ACCOUNT: "Account", Kind.DEPARTMENT: "Department"}
JAGGAER_ENTITY = {Kind.GL_ACCOUNT: "gl_accounts", Kind.DEPARTMENT: "departments"}


def _qbo_row(tenant, kind: str, entity: dict) -> QboCatalogItem:
    return QboCatalogItem(
        tenant=tenant, kind=kind, qbo_id=str(entity["Id"]), name=str(entity.get("Name") or "")[:255],
        fully_qualified_name=str(entity.get("FullyQualifiedName") or entity.get("Name") or "")[:1000],
        number=str(entity.get("AcctNum") or "")[:40], account_type=str(entity.get("AccountType") or "")[:60],
        account_sub_type=str(entity.get("AccountSubType") or "")[:60],
        classification=str(entity.get("Classification") or "")[:30],
        active=entity.get("Active", True) is not False, present=True,
    )


def qbo_catalog_import(*, tenant, qbo, kind: str) -> int:
    """Read the whole QBO list of `kind` (inactive rows too) and store it; rows QBO no longer has go absent."""
    entities = [entity for page in qbo.query_pages(QBO_ENTITY[kind], ALL_ROWS) for entity in page]
    return qbo_catalog_store(tenant=tenant, kind=kind, entities=entities, complete=True)


FIELDS = ["name", "fully_qualified_name", "number", "account_type", "account_sub_type", "classification", "active",
          "present"]


def qbo_catalog_store(*, tenant, kind: str, entities: list[dict], complete: bool) -> int:
    """Store QBO Accounts or Departments: the whole list (`complete`: rows missing from it go absent) or the
    ones CDC says changed (a row with `status: Deleted` goes absent; a row as we have it already is left alone).
    Returns how many rows were stored (`complete`) or changed (CDC)."""
    rows, deleted = {}, set()
    for entity in entities:
        if entity.get("status") == "Deleted":
            deleted.add(str(entity.get("Id")))
        else:
            rows[str(entity["Id"])] = _qbo_row(tenant, kind, entity)
    stored = QboCatalogItem.objects.for_tenant(tenant).filter(kind=kind)
    # Only rows that differ cost writes (CDC repeats what its overlap window saw already, a full read repeats
    # everything): `updated_at` then tells when the catalog last changed (held records wait on it).
    known = {i.qbo_id: i for i in (stored if complete else stored.filter(qbo_id__in=sorted(set(rows) | deleted)))}
    listed = len(rows)
    changed = {qbo_id: row for qbo_id, row in rows.items() if qbo_id not in known or any(
        getattr(row, f) != getattr(known[qbo_id], f) for f in FIELDS)}
    if complete:
        deleted = {qbo_id for qbo_id, item in known.items() if item.present and qbo_id not in rows}
    else:
        deleted = {qbo_id for qbo_id in deleted if qbo_id in known and known[qbo_id].present}
    with transaction.atomic():
        if changed:
            QboCatalogItem.objects.bulk_create(
                list(changed.values()), update_conflicts=True, unique_fields=["tenant", "kind", "qbo_id"],
                update_fields=[*FIELDS, "updated_at"])
        if deleted:
            stored.filter(present=True, qbo_id__in=sorted(deleted)).update(present=False, updated_at=timezone.now())
    return listed if complete else len(changed) + len(deleted)


def jaggaer_catalog_import(*, tenant, jaggaer, kind: str) -> tuple[int, list[str]]:
    """Import the JAGGAER catalog (inactive codes included); returns (count, problems with rows). A row that is
    not as the contract says (the validation's finding) is skipped and named in the problems."""
    rows, problems, kept = {}, [], set()
    for page in jaggaer.iter_pages(JAGGAER_ENTITY[kind]):
        for record in page:
            finding = validate(JAGGAER_ENTITY[kind], record)
            code = record.get("code") if isinstance(record, dict) else None
            code = code.strip() if isinstance(code, str) else ""
            if finding is not None:
                # skipped until JAGGAER corrects it; a code we knew keeps what we knew of it
                problems.append(f"JAGGAER {kind} {code or '(no code)'} skipped: {finding.message}"[:600])
                if code:
                    kept.add(code[:100])
                continue
            rows[code] = JaggaerCatalogItem(tenant=tenant, kind=kind, code=code[:100],
                                            name=str(record.get("name") or "")[:255],
                                            active=record.get("active", True) is not False, present=True)
    stored = JaggaerCatalogItem.objects.for_tenant(tenant).filter(kind=kind)
    known = {i.code: (i.name, i.active, i.present) for i in stored}
    changed = [row for code, row in rows.items() if known.get(code) != (row.name, row.active, True)]
    gone = sorted(code for code, (_, _, present) in known.items() if present and code not in rows and code not in kept)
    with transaction.atomic():   # only rows that differ are written: `updated_at` tells when the catalog changed
        if changed:
            JaggaerCatalogItem.objects.bulk_create(
                changed, update_conflicts=True, unique_fields=["tenant", "kind", "code"],
                update_fields=["name", "active", "present", "updated_at"])
        if gone:
            stored.filter(code__in=gone).update(present=False, updated_at=timezone.now())
    return len(rows), problems


def _candidate(item: QboCatalogItem) -> Candidate:
    return Candidate(key=item.pk, number=item.number, name=item.name, active=item.active, present=item.present)


def mappings_refresh(*, tenant, kind: str, rematch: bool = False, include_person: bool = False) -> dict:
    """Create mappings for codes seen for the first time, auto-match unmapped automatic ones, and
    recompute every state (drift). `rematch` re-runs auto-matching on every automatic mapping (and on
    a person's too with `include_person`). Returns counts of what changed."""
    qbo_items = {i.pk: i for i in QboCatalogItem.objects.for_tenant(tenant).filter(kind=kind)}
    candidates = [_candidate(i) for i in qbo_items.values()]
    candidates = [c for c in candidates if qbo_items[c.key].takes_lines]
    jaggaer = {i.code: i for i in JaggaerCatalogItem.objects.for_tenant(tenant).filter(kind=kind)}
    mappings = {m.code: m for m in Mapping.objects.for_tenant(tenant).filter(kind=kind)}
    counts = {"new": 0, "matched": 0, "changed": 0}

    new = []
    for code in jaggaer:
        if code not in mappings:
            mapping = Mapping(tenant=tenant, kind=kind, code=code, source=Mapping.Source.AUTO)
            mappings[code] = mapping
            new.append(mapping)
    changed = []
    for code, mapping in mappings.items():
        before = (mapping.qbo_item_id, mapping.state, mapping.state_detail)
        item = jaggaer.get(code)
        automatic = mapping.source == Mapping.Source.AUTO
        if (mapping.pk is None or (automatic and mapping.state == Mapping.State.UNMAPPED)
                or (rematch and (automatic or include_person))):
            mapping.qbo_item_id = auto_match(code=code, name=item.name if item else "", candidates=candidates)
            mapping.source = Mapping.Source.AUTO
        qbo = qbo_items.get(mapping.qbo_item_id)
        jaggaer_active = None if item is None else (item.active and item.present)
        mapping.state, mapping.state_detail = mapping_state(
            kind=kind, qbo=_candidate(qbo) if qbo else None, jaggaer_active=jaggaer_active)
        if mapping.pk is None:
            counts["new"] += 1
            counts["matched"] += mapping.qbo_item_id is not None
        elif before != (mapping.qbo_item_id, mapping.state, mapping.state_detail):
            counts["changed"] += 1
            counts["matched"] += mapping.qbo_item_id is not None and before[0] != mapping.qbo_item_id
            changed.append(mapping)
    now = timezone.now()
    for mapping in changed:
        mapping.updated_at = now     # bulk_update leaves auto_now alone: held records wait on this stamp
    with transaction.atomic():
        # A webhook's catalog refresh may create the same new codes at the same moment as a run's:
        # the first one in wins, the other's duplicates are skipped (its next refresh sees them).
        Mapping.objects.bulk_create(new, ignore_conflicts=True)
        Mapping.objects.bulk_update(changed, ["qbo_item", "source", "state", "state_detail", "updated_at"])
    return counts


def catalogs_sync(*, tenant, qbo, jaggaer) -> tuple[dict, list[str]]:
    """The catalogs step of a run: both catalogs of both kinds, then mapping states. With `qbo` None the QBO
    side is taken as stored (a run's QBO snapshot brought it up to date already)."""
    counts: dict = {}
    problems: list[str] = []
    for kind in (Kind.GL_ACCOUNT, Kind.DEPARTMENT):
        if qbo is not None:
            counts[f"qbo_{kind}"] = qbo_catalog_import(tenant=tenant, qbo=qbo, kind=kind)
        else:
            counts[f"qbo_{kind}"] = QboCatalogItem.objects.for_tenant(tenant).filter(kind=kind, present=True).count()
        n, kind_problems = jaggaer_catalog_import(tenant=tenant, jaggaer=jaggaer, kind=kind)
        counts[f"jaggaer_{kind}"] = n
        problems += kind_problems
        for key, value in mappings_refresh(tenant=tenant, kind=kind).items():
            counts[f"mappings_{kind}_{key}"] = value
    return counts, problems

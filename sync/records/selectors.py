"""Reads for the support console: find records by any number they are known by, and one record's story."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from audit.models import Action, RecordEvent
from core.tenancy import tenant_scope, unscoped
from sync.links.services import LINKS
from sync.models import Hold, RecordIdentifier
from sync.records.identifiers import KINDS, identifier_normalize

SEARCH_LIMIT = 50
LINK_KIND = {entity: kind for kind, (_, _, entity) in LINKS.items()}   # "invoices" -> "invoice"


@dataclass
class Found:
    tenant_id: object
    entity: str
    source_id: str
    exact: bool
    matched: list[str] = field(default_factory=list)     # "PO number 4500012345", ...
    tenant: object = None
    hold: Hold | None = None
    link: object = None


@unscoped("the support search looks across every tenant")
def record_search(*, query: str, limit: int = SEARCH_LIMIT) -> list[Found]:
    """Records known by `query` (case and spacing ignored): exact matches first, then those it begins; each
    with its tenant, its hold and its link (one query per table, by the records' keys)."""
    from tenants.models import Tenant

    value = identifier_normalize(query)
    if not value:
        return []
    rows = (RecordIdentifier.objects.filter(Q(value=value) | Q(value__startswith=value))   # LIKE escaped by Django
            .order_by().values_list("tenant_id", "entity", "source_id", "kind", "value")[:limit * 10])
    found: dict[tuple, Found] = {}
    for tenant_id, entity, source_id, kind, matched in rows:
        key = (tenant_id, entity, source_id)
        item = found.setdefault(key, Found(tenant_id, entity, source_id, exact=False))
        item.exact = item.exact or matched == value
        item.matched.append(f"{KINDS.get(kind, kind)} {matched}")
    ordered = sorted(found.values(), key=lambda f: (not f.exact, f.entity, f.source_id))[:limit]
    _attach(ordered, Tenant.objects.select_related("partner").in_bulk({f.tenant_id for f in ordered}))
    return ordered


def _keys_q(items: list[Found], source_field: str = "source_id", with_entity: bool = True) -> Q:
    q = Q(pk__in=[])
    for f in items:
        q |= Q(tenant_id=f.tenant_id, **({"entity": f.entity} if with_entity else {}), **{source_field: f.source_id})
    return q


def _attach(items: list[Found], tenants: dict) -> None:
    if not items:
        return
    holds = {(h.tenant_id, h.entity, h.source_id): h for h in Hold.objects.filter(_keys_q(items)).defer("record")}
    for f in items:
        f.tenant = tenants.get(f.tenant_id)
        f.hold = holds.get((f.tenant_id, f.entity, f.source_id))
    for model, id_field, entity in LINKS.values():
        mine = [f for f in items if f.entity == entity]
        if mine:
            links = {(x.tenant_id, getattr(x, id_field)): x
                     for x in model.objects.filter(_keys_q(mine, id_field, with_entity=False))}
            for f in mine:
                f.link = links.get((f.tenant_id, f.source_id))


@dataclass
class Story:
    tenant: object
    entity: str
    source_id: str
    hold: Hold | None
    link: object
    link_kind: str | None
    identifiers: list[tuple[str, str]]
    entries: list[dict]            # {"at", "what", "kind": event|action, "row"}, newest first


STORY_EVENTS = 200


def record_story(*, tenant, entity: str, source_id: str) -> Story:
    """One record's timeline: its audit rows, the people's actions on it (replay, link forgotten) and on the
    codes it waited on (the mapping that released it), with its hold and link as they are now."""
    with tenant_scope(tenant):
        hold = Hold.objects.filter(entity=entity, source_id=source_id).select_related("last_run").first()
        link_kind = LINK_KIND.get(entity)
        link = None
        if link_kind:
            model, id_field, _ = LINKS[link_kind]
            link = model.objects.filter(**{id_field: source_id}).first()
        idents = list(RecordIdentifier.objects.filter(entity=entity, source_id=source_id)
                      .order_by("kind", "value").values_list("kind", "value"))
        events = list(RecordEvent.objects.filter(entity=entity, source_id=source_id)
                      .order_by("-created_at", "-id")[:STORY_EVENTS])
        codes = {"mapping.gl_account": [v for k, v in idents if k == "gl_code"],
                 "mapping.department": [v for k, v in idents if k == "department_code"]}
        q = Q(target_type=entity, target_id=source_id)
        # A replay of several records is audited once, its records listed in `data` (read by the tenant's index).
        q |= Q(action="record.replay", **{f"data__records__{entity}__contains": [source_id]})
        if link_kind:
            q |= Q(target_type=f"{link_kind}_link", target_id=source_id)
        for target_type, values in codes.items():
            if values:   # codes are stored case-folded; JAGGAER's codes are digits and upper case
                q |= Q(target_type=target_type, target_id__in=values + [v.upper() for v in values])
        actions = list(Action.objects.filter(q).order_by("-created_at", "-id")[:STORY_EVENTS])
    entries = [{"at": e.created_at, "kind": "event", "row": e} for e in events]
    entries += [{"at": a.created_at, "kind": "action", "row": a} for a in actions]
    entries.sort(key=lambda x: x["at"], reverse=True)
    return Story(tenant=tenant, entity=entity, source_id=source_id, hold=hold, link=link, link_kind=link_kind,
                 identifiers=[(KINDS.get(k, k), v) for k, v in idents], entries=entries)


def record_replay_rows(*, tenant, entity: str, source_id: str) -> list[tuple]:
    """What replaying a record reads again: the record, and for an invoice the held purchase orders its lines
    name (written first, in step order, so the invoice finds them)."""
    rows = [(tenant.pk, entity, source_id)]
    if entity != "invoices":
        return rows
    with tenant_scope(tenant):
        numbers = RecordIdentifier.objects.filter(entity="invoices", source_id=source_id, kind="po_number")
        po_ids = RecordIdentifier.objects.filter(entity="purchase_orders", kind="po_number",
                                                 value__in=numbers.values("value")).values("source_id")
        held = Hold.objects.filter(entity="purchase_orders", source_id__in=po_ids).values_list("source_id", flat=True)
        return [(tenant.pk, "purchase_orders", po) for po in sorted(held)] + rows

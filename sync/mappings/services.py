"""Writes of mappings and of the per-tenant sync settings, each with its people-audit row."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

import audit
from core.actor import Actor
from core.exceptions import ApplicationError
from sync.mappings.catalogs import mappings_refresh
from sync.mappings.matching import LABELS, Candidate, mapping_state
from sync.models import JaggaerCatalogItem, Kind, Mapping, QboCatalogItem, SyncSettings

# ---------------------------------------------------------------------------- mappings

def _qbo_item(*, tenant, kind: str, qbo_id: str) -> QboCatalogItem:
    item = QboCatalogItem.objects.for_tenant(tenant).filter(kind=kind, qbo_id=str(qbo_id)).first()
    label = LABELS[kind]
    if item is None or not item.present:
        raise ApplicationError(f"QuickBooks has no {label} with id {qbo_id} (as of the last catalog import).",
                               code="qbo_item_not_found", fields={"qbo_id": [f"No such {label}."]})
    if not item.active:
        raise ApplicationError(f"QuickBooks {label} '{item.name}' is inactive; choose an active one.",
                               code="qbo_item_inactive", fields={"qbo_id": ["Inactive."]})
    if not item.takes_lines:
        raise ApplicationError(f"'{item.name}' is an {item.account_type} account; bill lines cannot post to it.",
                               code="qbo_item_unusable", fields={"qbo_id": ["Not an expense account."]})
    return item


def _apply(mapping: Mapping, item: QboCatalogItem | None, jaggaer_active: bool | None) -> Mapping:
    mapping.qbo_item = item
    mapping.source = Mapping.Source.PERSON
    candidate = None if item is None else Candidate(item.pk, item.number, item.name, item.active, item.present)
    mapping.state, mapping.state_detail = mapping_state(kind=mapping.kind, qbo=candidate, jaggaer_active=jaggaer_active)
    return mapping


def _jaggaer_active(tenant, kind: str, codes: list[str]) -> dict[str, bool]:
    return {i.code: i.active and i.present
            for i in JaggaerCatalogItem.objects.for_tenant(tenant).filter(kind=kind, code__in=codes)}


def _check_kind(kind: str) -> None:
    if kind not in Kind.values:
        raise ApplicationError(f"Unknown kind {kind!r}; use one of {', '.join(Kind.values)}.", code="invalid_kind",
                               fields={"kind": ["Unknown kind."]})


def mapping_audit_view(mapping: Mapping | None) -> dict | None:
    """A mapping as the people audit shows it before and after a change."""
    if mapping is None:
        return None
    item = mapping.qbo_item
    return {"qbo_id": item.qbo_id if item else None, "qbo_name": item.name if item else None,
            "state": mapping.state, "source": mapping.source}


@transaction.atomic
def mapping_set(*, tenant, kind: str, code: str, qbo_id: str | None, actor: Actor | None = None) -> Mapping:
    """A person maps a code (or, with qbo_id None, clears it); auto-matching never overrides this.
    With `actor`, audited as mapping.set or mapping.clear."""
    _check_kind(kind)
    item = None if qbo_id in (None, "") else _qbo_item(tenant=tenant, kind=kind, qbo_id=qbo_id)
    mapping, created = Mapping.objects.select_for_update().get_or_create(tenant=tenant, kind=kind, code=code)
    before = None if created else mapping_audit_view(mapping)
    _apply(mapping, item, _jaggaer_active(tenant, kind, [code]).get(code))
    mapping.save()
    if actor is not None:
        audit.action("mapping.set" if mapping.qbo_item_id else "mapping.clear", actor=actor, tenant=tenant,
                     target_type=f"mapping.{kind}", target_id=code, before=before, after=mapping_audit_view(mapping))
    return mapping


@transaction.atomic
def mappings_bulk_set(*, tenant, items: list[dict], actor: Actor | None = None) -> list[Mapping]:
    """Several mappings at once, all or nothing: [{"kind", "code", "qbo_id"}, ...]."""
    if not items:
        raise ApplicationError("Send at least one mapping.", code="validation_error",
                               fields={"mappings": ["This list may not be empty."]})
    errors, resolved = {}, []
    for n, entry in enumerate(items):
        try:
            _check_kind(entry["kind"])
            qbo_id = entry.get("qbo_id")
            item = None if qbo_id in (None, "") else _qbo_item(tenant=tenant, kind=entry["kind"], qbo_id=qbo_id)
            resolved.append((entry["kind"], entry["code"], item))
        except ApplicationError as e:
            errors[str(n)] = [e.message]
    if errors:
        raise ApplicationError("Some mappings are not valid; nothing was changed.", code="validation_error",
                               fields={"mappings": errors})
    out, before = [], {}
    for kind, code, item in resolved:
        mapping, created = Mapping.objects.select_for_update().get_or_create(tenant=tenant, kind=kind, code=code)
        before[f"{kind}:{code}"] = None if created else mapping_audit_view(mapping)
        out.append(_apply(mapping, item, _jaggaer_active(tenant, kind, [code]).get(code)))
    now = timezone.now()
    for mapping in out:
        mapping.updated_at = now     # bulk_update leaves auto_now alone: held records wait on this stamp
    Mapping.objects.bulk_update(out, ["qbo_item", "source", "state", "state_detail", "updated_at"])
    if actor is not None:
        after = {f"{m.kind}:{m.code}": mapping_audit_view(m) for m in out}
        audit.action("mapping.bulk_set", actor=actor, tenant=tenant, target_type="mapping",
                     before={key: before.get(key) for key in after}, after=after, data={"count": len(after)})
    return out


@transaction.atomic
def mappings_auto_match(*, tenant, kind: str | None = None, include_person: bool = False,
                        actor: Actor | None = None) -> dict:
    """Re-run auto-matching on automatic mappings (and a person's too when asked); with `actor`, audited as
    mapping.auto_match with only the mappings it changed."""
    kinds = [kind] if kind else list(Kind.values)
    for k in kinds:
        _check_kind(k)
    scope = Mapping.objects.for_tenant(tenant).select_related("qbo_item").filter(kind__in=kinds)
    before = {f"{m.kind}:{m.code}": mapping_audit_view(m) for m in scope} if actor is not None else {}
    counts = {k: mappings_refresh(tenant=tenant, kind=k, rematch=True, include_person=include_person) for k in kinds}
    if actor is not None:
        changed_before, changed_after = audit.changes(before, {f"{m.kind}:{m.code}": mapping_audit_view(m)
                                                               for m in scope.all()})
        audit.action("mapping.auto_match", actor=actor, tenant=tenant, target_type="mapping",
                     before=changed_before, after=changed_after,
                     data={"kind": kind, "counts": counts, "include_person": include_person})
    return counts


# ---------------------------------------------------------------------------- settings

_UNSET = object()


@transaction.atomic
def sync_settings_update(*, tenant, ap_account_id: str | None | object = _UNSET,
                         department_policy: str | object = _UNSET, actor: Actor | None = None) -> SyncSettings:
    """Change the tenant's sync settings (only what is passed); with `actor`, one sync_settings.update row.

    - `ap_account_id`: the default AP account, a QBO Liability account of subtype AccountsPayable (None clears);
    - `department_policy`: what to do with a document whose lines are on several departments: hold it, or a
      QBO Class per line.
    """
    if department_policy is not _UNSET and department_policy not in SyncSettings.DepartmentPolicy.values:
        raise ApplicationError(f"Unknown department policy {department_policy!r}; use one of "
                               f"{', '.join(SyncSettings.DepartmentPolicy.values)}.", code="invalid_department_policy",
                               fields={"department_policy": ["Unknown policy."]})
    current, _ = SyncSettings.objects.select_related("ap_account").get_or_create(tenant=tenant)
    before, after = {}, {}
    if ap_account_id is not _UNSET:
        before["ap_account_id"] = current.ap_account.qbo_id if current.ap_account else None
        current.ap_account = _ap_account(tenant=tenant, ap_account_id=ap_account_id)
        after["ap_account_id"] = current.ap_account.qbo_id if current.ap_account else None
    if department_policy is not _UNSET:
        before["department_policy"] = current.department_policy
        current.department_policy = department_policy
        after["department_policy"] = department_policy
    current.save()
    if actor is not None and after:
        audit.action("sync_settings.update", actor=actor, tenant=tenant, target_type="sync_settings",
                     target_id=current.pk, before=before, after=after)
    return current


def _ap_account(*, tenant, ap_account_id: str | None) -> QboCatalogItem | None:
    if ap_account_id in (None, ""):
        return None
    item = QboCatalogItem.objects.for_tenant(tenant).filter(
        kind=Kind.GL_ACCOUNT, qbo_id=str(ap_account_id), present=True).first()
    if item is None:
        raise ApplicationError(f"QuickBooks has no account with id {ap_account_id} (as of the last catalog "
                               f"import; run a sync to refresh it).", code="qbo_item_not_found",
                               fields={"ap_account_id": ["No such account."]})
    if not item.is_ap_account:
        raise ApplicationError(f"'{item.name}' is not an active Liability account of type Accounts Payable.",
                               code="invalid_ap_account",
                               fields={"ap_account_id": ["Must be an active Accounts Payable account."]})
    return item

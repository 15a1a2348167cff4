"""Writes of tenants: partners and their keys, tenants, their schedule and whether they are active.

Each write takes `actor` (core.actor) and writes its people-audit row in the transaction of the change.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

import audit
from core.actor import Actor
from core.exceptions import Conflict
from tenants.models import Partner, PartnerAPIKey, Tenant

# What the people audit shows of a tenant; a change is audited under the code of its group.
SCHEDULE_AUDITED = ("time_zone", "sync_hour", "schedule_paused")
ACTIVE_AUDITED = ("is_active",)
OTHER_AUDITED = ("name", "slug", "partner")


def _audit_view(tenant: Tenant) -> dict:
    view = {name: getattr(tenant, name) for name in ("name", "slug", *SCHEDULE_AUDITED, *ACTIVE_AUDITED)}
    view["partner"] = str(tenant.partner_id) if tenant.partner_id else None
    return view


def _audit_changes(*, tenant: Tenant, before: dict, actor: Actor) -> None:
    """One people-audit row per group of changed fields: tenant.update, tenant.schedule.update, and
    tenant.activate / tenant.deactivate."""
    old, new = audit.changes(before, _audit_view(tenant))
    _audit_group("tenant.update", OTHER_AUDITED, tenant=tenant, old=old, new=new, actor=actor)
    _audit_group("tenant.schedule.update", SCHEDULE_AUDITED, tenant=tenant, old=old, new=new, actor=actor)
    _audit_group("tenant.activate" if new.get("is_active") else "tenant.deactivate", ACTIVE_AUDITED, tenant=tenant,
                 old=old, new=new, actor=actor)


def _audit_group(code: str, group: tuple, *, tenant: Tenant, old: dict, new: dict, actor: Actor) -> None:
    names = [name for name in old if name in group]
    if names:
        audit.action(code, actor=actor, tenant=tenant, target_type="tenant", target_id=tenant.pk,
                     before={n: old[n] for n in names}, after={n: new[n] for n in names})


def _slug_taken(slug: str) -> Conflict:
    return Conflict(f"You already have a tenant with the slug '{slug}'; choose another.", code="slug_taken",
                    fields={"slug": ["You already have a tenant with this slug."]})


def _check_slug_free(*, partner: Partner, slug: str, exclude=None) -> None:
    """Slugs are unique per partner: only the caller's own tenants are looked at (nothing about others leaks)."""
    others = Tenant.objects.for_partner(partner).filter(slug=slug)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise _slug_taken(slug)


def tenant_create(*, partner: Partner, data: dict, actor: Actor) -> Tenant:
    """A new tenant of `partner`; 409 `slug_taken` when the partner has one with that slug (also under a race)."""
    _check_slug_free(partner=partner, slug=data["slug"])
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(partner=partner, **data)
            audit.action("tenant.create", actor=actor, tenant=tenant, target_type="tenant", target_id=tenant.pk,
                         after=_audit_view(tenant))
            return tenant
    except IntegrityError:
        _check_slug_free(partner=partner, slug=data["slug"])  # a concurrent request took it first
        raise


def tenant_require_active(*, tenant: Tenant) -> None:
    """Runs, replays, pings and webhook work are refused for a deactivated tenant (409 `tenant_inactive`)."""
    if not tenant.is_active:
        raise Conflict("This tenant is deactivated: nothing runs for it. Reactivate it first "
                       "(POST /api/v1/tenants/{id}/activate).", code="tenant_inactive")


PARTNER_AUDITED = ("name", "is_active", "return_url_origins")
API_KEY_AUDITED = ("name", "expiry_date", "revoked")


@transaction.atomic
def partner_create(*, name: str, return_url_origins: list[str] | None = None, is_active: bool = True,
                   initial_key: bool = True, actor: Actor) -> tuple[Partner, str | None]:
    """Create a partner and (unless `initial_key` is False) its first API key; the key is returned once
    and stored hashed."""
    partner = Partner.objects.create(name=name, return_url_origins=return_url_origins or [], is_active=is_active)
    api_key, key = (PartnerAPIKey.objects.create_key(partner=partner, name=f"{name} (initial key)")
                    if initial_key else (None, None))
    audit.action("partner.create", actor=actor, target_type="partner", target_id=partner.pk,
                 after={**{name: getattr(partner, name) for name in PARTNER_AUDITED},
                        "api_key_prefix": api_key.prefix if api_key else None})
    return partner, key


def _apply_and_compare(obj, data: dict, audited: tuple) -> tuple[dict, dict]:
    """Set `data` on `obj`, save it, and return what changed among the `audited` fields (before, after)."""
    before = {name: getattr(obj, name) for name in audited}
    for name, value in data.items():
        setattr(obj, name, value)
    obj.save()
    return audit.changes(before, {name: getattr(obj, name) for name in audited})


@transaction.atomic
def partner_update(*, partner: Partner, data: dict, actor: Actor) -> Partner:
    """Change a partner's name, whether it is active, or the origins its portal may be sent back to."""
    old, new = _apply_and_compare(partner, data, PARTNER_AUDITED)
    if old:
        audit.action("partner.update", actor=actor, target_type="partner", target_id=partner.pk, before=old,
                     after=new)
    return partner


@transaction.atomic
def api_key_create(*, partner: Partner, name: str, expiry_date=None, actor: Actor) -> tuple[PartnerAPIKey, str]:
    """A new API key of `partner`; the key is returned once and stored hashed."""
    api_key, key = PartnerAPIKey.objects.create_key(partner=partner, name=name, expiry_date=expiry_date)
    audit.action("api_key.create", actor=actor, target_type="partner_api_key", target_id=api_key.pk,
                 after={"partner": str(partner.pk), "name": name, "prefix": api_key.prefix,
                        "expiry_date": expiry_date})
    return api_key, key


@transaction.atomic
def api_key_update(*, api_key: PartnerAPIKey, data: dict, actor: Actor) -> PartnerAPIKey:
    """Rename a key, change its expiry, or revoke it (audited as api_key.revoke; a revoked key stays revoked)."""
    old, new = _apply_and_compare(api_key, data, API_KEY_AUDITED)
    if old:
        code = "api_key.revoke" if new.get("revoked") is True else "api_key.update"
        audit.action(code, actor=actor, target_type="partner_api_key", target_id=api_key.pk, before=old, after=new,
                     data={"partner": str(api_key.partner_id), "prefix": api_key.prefix})
    return api_key


def partner_api_key_add(*, partner: Partner, name: str, actor: Actor) -> tuple[PartnerAPIKey, str]:
    """A partner's own new key (to rotate): refused (409) when it already has PARTNER_MAX_ACTIVE_KEYS usable
    keys. The key is returned once."""
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).first()   # one key count at a time per partner
        active = partner_active_keys(partner=partner).count()
        limit = settings.PARTNER_MAX_ACTIVE_KEYS
        if active >= limit:
            raise Conflict(f"This partner already has {active} active API keys (at most {limit}): revoke one you no "
                           f"longer use first (POST /api/v1/api-keys/<id>/revoke).", code="too_many_api_keys")
        return api_key_create(partner=partner, name=name, actor=actor)


def partner_active_keys(*, partner: Partner):
    return PartnerAPIKey.objects.filter(partner=partner, revoked=False).filter(
        Q(expiry_date__isnull=True) | Q(expiry_date__gt=timezone.now()))


def partner_api_key_revoke(*, api_key: PartnerAPIKey, calling_key: PartnerAPIKey, actor: Actor) -> PartnerAPIKey:
    """Revokes one of a partner's keys; the calling key cannot revoke itself while it is the partner's last
    active key (the partner would lock itself out)."""
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=api_key.partner_id).first()
        if api_key.revoked:
            return api_key
        others = partner_active_keys(partner=api_key.partner).exclude(pk=api_key.pk)
        if api_key.pk == calling_key.pk and not others.exists():
            raise Conflict("This is your only active API key: create a new one first (POST /api/v1/api-keys), then "
                           "revoke this one with the new key.", code="last_api_key")
        return api_key_update(api_key=api_key, data={"revoked": True}, actor=actor)


def _tenant_set_active(*, tenant: Tenant, active: bool, actor: Actor) -> Tenant:
    was_active = tenant.is_active
    with transaction.atomic():
        tenant.is_active = active
        tenant.save(update_fields=["is_active", "updated_at"])
        audit.action("tenant.activate" if active else "tenant.deactivate", actor=actor, tenant=tenant,
                     target_type="tenant", target_id=tenant.pk, before={"is_active": was_active},
                     after={"is_active": tenant.is_active})
    return tenant


def tenant_deactivate(*, tenant: Tenant, actor: Actor) -> Tenant:
    """Nothing runs for a deactivated tenant (its runs, replays, pings and webhook work are refused)."""
    return _tenant_set_active(tenant=tenant, active=False, actor=actor)


def tenant_activate(*, tenant: Tenant, actor: Actor) -> Tenant:
    return _tenant_set_active(tenant=tenant, active=True, actor=actor)


SCHEDULE_FIELDS = ("sync_hour", "time_zone")


def tenant_update(*, tenant: Tenant, data: dict, actor: Actor) -> Tenant:
    """Apply validated changes, audited per group (see `_audit_changes`). A new hour or time zone makes the
    scheduler recompute the next run, and so does resuming a paused schedule (a date left over from
    before the pause would fire at once)."""
    reschedule = any(name in data and data[name] != getattr(tenant, name) for name in SCHEDULE_FIELDS)
    if tenant.schedule_paused and data.get("schedule_paused") is False:
        reschedule = True
    if "slug" in data and data["slug"] != tenant.slug:
        _check_slug_free(partner=data.get("partner") or tenant.partner, slug=data["slug"], exclude=tenant)
    before = _audit_view(tenant)
    for name, value in data.items():
        setattr(tenant, name, value)
    if reschedule:
        tenant.next_sync_at = None
    try:
        with transaction.atomic():
            tenant.save()
            _audit_changes(tenant=tenant, before=before, actor=actor)
    except IntegrityError:
        _check_slug_free(partner=tenant.partner, slug=tenant.slug, exclude=tenant)
        raise
    return tenant


# Deletions (the admin's; the API only deactivates): the row records what was deleted, by whom.

@transaction.atomic
def partner_delete(*, partner: Partner, actor: Actor) -> None:
    """Delete a partner without tenants (its keys go with it); one with tenants is refused by the database."""
    before = {name: getattr(partner, name) for name in PARTNER_AUDITED}
    before["api_key_prefixes"] = sorted(partner.api_keys.values_list("prefix", flat=True))
    pk = partner.pk
    partner.delete()
    audit.action("partner.delete", actor=actor, target_type="partner", target_id=pk, before=before)


@transaction.atomic
def api_key_delete(*, api_key: PartnerAPIKey, actor: Actor) -> None:
    before = {name: getattr(api_key, name) for name in API_KEY_AUDITED}
    data = {"partner": str(api_key.partner_id), "prefix": api_key.prefix}
    pk = api_key.pk
    api_key.delete()
    audit.action("api_key.delete", actor=actor, target_type="partner_api_key", target_id=pk, before=before,
                 data=data)


@transaction.atomic
def tenant_delete(*, tenant: Tenant, actor: Actor) -> None:
    """Delete a tenant and everything it owns (the admin's; partners deactivate). The audit row outlives it,
    without a tenant."""
    before = _audit_view(tenant)
    pk = tenant.pk
    tenant.delete()
    audit.action("tenant.delete", actor=actor, target_type="tenant", target_id=pk, before=before)

from django.db import IntegrityError, transaction

from core.exceptions import Conflict
from tenants.models import Partner, PartnerAPIKey, Tenant


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


def tenant_create(*, partner: Partner, data: dict) -> Tenant:
    """A new tenant of `partner`; 409 `slug_taken` when the partner has one with that slug (also under a race)."""
    _check_slug_free(partner=partner, slug=data["slug"])
    try:
        with transaction.atomic():
            return Tenant.objects.create(partner=partner, **data)
    except IntegrityError:
        _check_slug_free(partner=partner, slug=data["slug"])  # a concurrent request took it first
        raise


def tenant_require_active(*, tenant: Tenant) -> None:
    """Runs, replays, pings and webhook work are refused for a deactivated tenant (409 `tenant_inactive`)."""
    if not tenant.is_active:
        raise Conflict("This tenant is deactivated: nothing runs for it. Reactivate it first "
                       "(POST /api/v1/tenants/{id}/activate).", code="tenant_inactive")


@transaction.atomic
def partner_create(*, name: str, return_url_origins: list[str] | None = None) -> tuple[Partner, str]:
    """Create a partner and its first API key; the key is returned once and stored hashed."""
    partner = Partner.objects.create(name=name, return_url_origins=return_url_origins or [])
    _, key = PartnerAPIKey.objects.create_key(partner=partner, name=f"{name} (initial key)")
    return partner, key


def api_key_create(*, partner: Partner, name: str, expiry_date=None) -> tuple[PartnerAPIKey, str]:
    return PartnerAPIKey.objects.create_key(partner=partner, name=name, expiry_date=expiry_date)


def tenant_set_active(*, tenant: Tenant, active: bool) -> Tenant:
    tenant.is_active = active
    tenant.save(update_fields=["is_active", "updated_at"])
    return tenant


SCHEDULE_FIELDS = ("sync_hour", "time_zone")


def tenant_update(*, tenant: Tenant, data: dict) -> Tenant:
    """Apply validated changes; a new hour or time zone makes the scheduler recompute the next run."""
    reschedule = any(name in data and data[name] != getattr(tenant, name) for name in SCHEDULE_FIELDS)
    if "slug" in data and data["slug"] != tenant.slug:
        _check_slug_free(partner=tenant.partner, slug=data["slug"], exclude=tenant)
    for name, value in data.items():
        setattr(tenant, name, value)
    if reschedule:
        tenant.next_sync_at = None
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError:
        _check_slug_free(partner=tenant.partner, slug=tenant.slug, exclude=tenant)
        raise
    return tenant

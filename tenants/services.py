from django.db import transaction

from tenants.models import Partner, PartnerAPIKey, Tenant


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
    for name, value in data.items():
        setattr(tenant, name, value)
    if reschedule:
        tenant.next_sync_at = None
    tenant.save()
    return tenant

"""What the management commands of every app share: the tenant a command names, by slug or id."""

import uuid

from django.core.management.base import CommandError

from tenants.models import Tenant


def tenant_named(given: str) -> Tenant:
    """The tenant named by id or by slug; a slug two partners use must be given as the tenant's id."""
    try:
        found = list(Tenant.objects.filter(pk=uuid.UUID(given)))
    except ValueError:
        found = list(Tenant.objects.filter(slug=given).select_related("partner")[:10])
    if not found:
        raise CommandError(f"No tenant with slug or id {given!r}.")
    if len(found) > 1:
        choices = ", ".join(f"{t.pk} ({t.partner.name})" for t in found)
        raise CommandError(f"Several partners have a tenant with slug {given!r}; give its id instead: {choices}.")
    return found[0]

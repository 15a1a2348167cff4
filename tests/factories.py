import factory

from tenants.models import Partner, Tenant


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner Portal {n}")
    return_url_origins = factory.LazyFunction(lambda: ["https://portal.example"])


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Manufacturer {n}")
    slug = factory.Sequence(lambda n: f"manufacturer-{n}")
    time_zone = "America/Chicago"
    sync_hour = 2


def connections_stored(tenant, *, jaggaer_url: str = "https://jaggaer.example.com", realm_id: str = "9130350000001"):
    """Both connections stored as usable, for tests whose runs never reach either system (they stay queued)."""
    from connections.models import ConnectionStatus, JaggaerConnection, QboConnection

    JaggaerConnection.objects.update_or_create(tenant=tenant, defaults={
        "api_base_url": jaggaer_url, "client_id": "client-id", "client_secret": "client-secret",
        "status": ConnectionStatus.CONNECTED})
    QboConnection.objects.update_or_create(tenant=tenant, defaults={
        "realm_id": realm_id, "status": ConnectionStatus.CONNECTED})
    return tenant

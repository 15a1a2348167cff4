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

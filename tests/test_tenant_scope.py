"""Tenant scope that fails loudly (core.tenancy): a tenant-owned row is read inside its tenant's scope,
or inside an explicit unscoped(); anything else raises instead of reading every tenant's rows."""

import pytest
from django.apps import apps

from core.tenancy import (
    ScopeMissing,
    TenantOwnedManager,
    TenantOwnedModel,
    current_scope,
    no_scope,
    tenant_scope,
    unscoped,
)
from sync.models import Kind, Mapping, QboCatalogItem, SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants(tenant, outsider_tenant):
    mine = SyncRun.objects.create(tenant=tenant)
    theirs = SyncRun.objects.create(tenant=outsider_tenant)
    return tenant, outsider_tenant, mine, theirs


def test_every_model_with_a_tenant_is_tenant_owned_and_scoped():
    owned = [m for m in apps.get_models() if any(f.name == "tenant" for f in m._meta.concrete_fields)]
    assert len(owned) >= 15
    for model in owned:
        assert issubclass(model, TenantOwnedModel), model
        assert isinstance(model._default_manager, TenantOwnedManager), model


def test_a_query_outside_any_scope_raises(two_tenants):
    with no_scope():
        with pytest.raises(ScopeMissing, match="SyncRun rows belong to a tenant"):
            SyncRun.objects.count()
        with pytest.raises(ScopeMissing):
            list(SyncRun.objects.filter(status=SyncRun.Status.QUEUED))
        with pytest.raises(ScopeMissing):
            SyncRun.objects.get(pk=two_tenants[2].pk)
        with pytest.raises(ScopeMissing):
            SyncRun.objects.filter(pk=two_tenants[3].pk).update(cancel_requested=True)
        with pytest.raises(ScopeMissing):
            SyncRun.objects.all().delete()
    assert not SyncRun.objects.get(pk=two_tenants[3].pk).cancel_requested


def test_inside_a_tenant_scope_another_tenants_rows_do_not_exist(two_tenants):
    tenant, outsider, mine, theirs = two_tenants
    with no_scope(), tenant_scope(tenant):
        assert list(SyncRun.objects.values_list("pk", flat=True)) == [mine.pk]
        with pytest.raises(SyncRun.DoesNotExist):
            SyncRun.objects.get(pk=theirs.pk)
        assert SyncRun.objects.filter(pk=theirs.pk).update(cancel_requested=True) == 0
        assert not tenant.sync_runs.filter(pk=theirs.pk).exists()
    theirs.refresh_from_db()
    assert not theirs.cancel_requested


def test_unscoped_says_so_and_sees_every_tenant(two_tenants):
    with no_scope(), unscoped("a cross-tenant job") as scope:
        assert scope.unscoped and scope.reason == "a cross-tenant job"
        assert SyncRun.objects.count() == 2


def test_a_queryset_made_outside_a_scope_takes_the_scope_it_runs_in(two_tenants):
    tenant, outsider, mine, theirs = two_tenants
    with no_scope():
        made_at_import = SyncRun.objects.all()     # e.g. a form field's choices
        with tenant_scope(outsider):
            assert [r.pk for r in made_at_import.all()] == [theirs.pk]
        with pytest.raises(ScopeMissing):
            list(made_at_import.all())


def test_scopes_nest_and_are_restored(two_tenants):
    tenant, outsider, *_ = two_tenants
    with no_scope():
        assert current_scope() is None
        with tenant_scope(tenant):
            with tenant_scope(outsider):
                assert current_scope().tenant_id == outsider.pk
            assert current_scope().tenant_id == tenant.pk
        assert current_scope() is None


def test_related_rows_and_custom_querysets_follow_the_scope(tenant, outsider_tenant):
    for owner in (tenant, outsider_tenant):
        QboCatalogItem.objects.create(tenant=owner, kind=Kind.GL_ACCOUNT, qbo_id="7", name="Freight")
        Mapping.objects.create(tenant=owner, kind=Kind.GL_ACCOUNT, code="6100")
    with no_scope(), tenant_scope(tenant):
        assert QboCatalogItem.objects.postable(Kind.GL_ACCOUNT).get().tenant_id == tenant.pk
        assert Mapping.objects.get(code="6100").tenant_id == tenant.pk


def test_an_api_request_reads_only_its_tenants_rows_and_leaves_no_scope_behind(alice, tenant, outsider_tenant):
    theirs = SyncRun.objects.create(tenant=outsider_tenant)
    with no_scope():
        response = alice.client.get(f"/api/v1/tenants/{tenant.pk}/syncs/{theirs.pk}")
        assert response.status_code == 404
        assert current_scope() is None

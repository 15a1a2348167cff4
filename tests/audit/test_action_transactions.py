"""A service's people-audit row is written in the transaction of its change: when the row cannot be
written, the change is not kept either (and when it is written, both are there).

The database itself refuses the row: a PostgreSQL trigger on the Action table raises for one actor
label, so the failure is a real one, after the change was made, inside the service's transaction.
"""

import pytest
from django.db import DatabaseError, connection

from audit.models import Action
from core.actor import Actor, ActorKind
from sync.mappings import services as sync_services
from sync.models import Mapping, QboCatalogItem, SyncLease, SyncRun, SyncSettings
from sync.runs.lifecycle import sync_request, sync_run_cancel
from tenants import services as tenant_services
from tenants.models import Partner, PartnerAPIKey, Tenant

pytestmark = pytest.mark.django_db

REFUSED = Actor(ActorKind.STAFF_USER, "refused-by-the-database", "1")
ALLOWED = Actor(ActorKind.STAFF_USER, "support.jo", "2")


@pytest.fixture
def refusing_database():
    """Install (inside the test's transaction, so it goes away with it) a trigger refusing REFUSED's rows."""
    table = Action._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION mlc_test_refuse_action() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit row refused for this test'; END $$ LANGUAGE plpgsql""")
        cursor.execute(f"""
            CREATE TRIGGER mlc_test_refuse_action BEFORE INSERT ON {table} FOR EACH ROW
            WHEN (NEW.actor_label = '{REFUSED.label}') EXECUTE FUNCTION mlc_test_refuse_action()""")


@pytest.fixture
def expense(tenant):
    return QboCatalogItem.objects.create(tenant=tenant, kind="gl_account", qbo_id="57", number="6850",
                                         name="Professional services", account_type="Expense",
                                         classification="Expense")


def _refused(call):
    with pytest.raises(DatabaseError, match="audit row refused"):
        call(REFUSED)
    assert not Action.objects.filter(actor_label=REFUSED.label).exists()


def test_the_trigger_refuses_only_its_actor(refusing_database, tenant):
    name = tenant.name
    tenant_services.tenant_update(tenant=tenant, data={"name": "Kept"}, actor=ALLOWED)
    tenant.refresh_from_db()
    assert tenant.name == "Kept"
    row = Action.objects.get(action="tenant.update", tenant=tenant)
    assert (row.actor_label, row.before, row.after) == ("support.jo", {"name": name}, {"name": "Kept"})


def test_tenant_writes_roll_back_with_their_audit_row(refusing_database, alice, tenant):
    name = tenant.name
    _refused(lambda actor: tenant_services.tenant_create(partner=alice.partner, actor=actor,
                                                         data={"name": "Globex", "slug": "globex"}))
    assert not Tenant.objects.filter(slug="globex").exists()

    _refused(lambda actor: tenant_services.tenant_update(tenant=Tenant.objects.get(pk=tenant.pk), actor=actor,
                                                         data={"name": "Renamed", "sync_hour": 7}))
    tenant.refresh_from_db()
    assert (tenant.name, tenant.sync_hour) == (name, 2)

    _refused(lambda actor: tenant_services.tenant_deactivate(tenant=Tenant.objects.get(pk=tenant.pk), actor=actor))
    tenant.refresh_from_db()
    assert tenant.is_active is True

    _refused(lambda actor: tenant_services.partner_create(name="Initech", actor=actor))
    assert not Partner.objects.filter(name="Initech").exists()
    assert not PartnerAPIKey.objects.filter(name="Initech (initial key)").exists()


def test_sync_writes_roll_back_with_their_audit_row(refusing_database, tenant, expense,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        _refused(lambda actor: sync_request(tenant=tenant, actor=actor))
    assert not SyncRun.objects.filter(tenant=tenant).exists() and queued == []
    assert not SyncLease.objects.filter(tenant=tenant, run__isnull=False).exists()

    run = SyncRun.objects.create(tenant=tenant)
    _refused(lambda actor: sync_run_cancel(run=SyncRun.objects.get(pk=run.pk), actor=actor))
    assert SyncRun.objects.get(pk=run.pk).cancel_requested is False

    _refused(lambda actor: sync_services.mapping_set(tenant=tenant, kind="gl_account", code="6850",
                                                     qbo_id=expense.qbo_id, actor=actor))
    assert not Mapping.objects.filter(tenant=tenant).exists()

    _refused(lambda actor: sync_services.sync_settings_update(tenant=tenant, department_policy="class_per_line",
                                                              actor=actor))
    assert not SyncSettings.objects.filter(tenant=tenant, department_policy="class_per_line").exists()


def test_the_change_and_its_row_commit_together(tenant, expense, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = sync_request(tenant=tenant, actor=ALLOWED)
    mapping = sync_services.mapping_set(tenant=tenant, kind="gl_account", code="6850", qbo_id=expense.qbo_id,
                                        actor=ALLOWED)
    rows = {a.action: a for a in Action.objects.filter(tenant=tenant)}
    assert rows["sync.request"].target_id == str(run.pk)
    assert rows["mapping.set"].after["qbo_id"] == expense.qbo_id and rows["mapping.set"].before is None
    assert Mapping.objects.get(pk=mapping.pk).qbo_item_id == expense.pk

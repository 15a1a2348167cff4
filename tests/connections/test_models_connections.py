"""Connection rows: encrypted credential fields, defaults, the one-realm-one-tenant rule, health bookkeeping."""

import pytest
from django.db import IntegrityError
from django.db import connection as db
from django.test import override_settings

from connections import health
from connections.crypto import CredentialDecryptionError
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from tests.factories import TenantFactory

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]

SECRET = "s3cr3t-client-secret-value-0042"


def _raw(model, pk, column):
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])
        value = cursor.fetchone()[0]
    return value.tobytes() if isinstance(value, memoryview) else value


def test_a_secret_reads_back_but_is_stored_encrypted(tenant):
    connection = JaggaerConnection.objects.create(tenant=tenant, client_id="abc", client_secret=SECRET)
    assert JaggaerConnection.objects.get(pk=connection.pk).client_secret == SECRET
    raw = _raw(JaggaerConnection, connection.pk, "client_secret")
    assert isinstance(raw, bytes) and SECRET.encode() not in raw


def test_two_writes_of_one_secret_give_different_ciphertexts(tenant):
    one = JaggaerConnection.objects.create(tenant=tenant, client_secret=SECRET)
    two = JaggaerConnection.objects.create(tenant=TenantFactory(partner=tenant.partner), client_secret=SECRET)
    assert _raw(JaggaerConnection, one.pk, "client_secret") != _raw(JaggaerConnection, two.pk, "client_secret")


def test_an_unset_secret_is_null_and_filterable(tenant):
    JaggaerConnection.objects.create(tenant=tenant)
    assert JaggaerConnection.objects.filter(client_secret__isnull=True).count() == 1
    assert _raw(JaggaerConnection, JaggaerConnection.objects.get().pk, "client_secret") is None


def test_the_key_is_credentials_key_not_secret_key(tenant):
    connection = JaggaerConnection.objects.create(tenant=tenant, client_secret=SECRET)
    with override_settings(SECRET_KEY="a-completely-different-secret-key-for-django-000000000"):
        assert JaggaerConnection.objects.get(pk=connection.pk).client_secret == SECRET
    with override_settings(CREDENTIALS_KEY="another-credentials-key-000000000000000000000000"):
        with pytest.raises(CredentialDecryptionError):
            JaggaerConnection.objects.get(pk=connection.pk)


def test_a_new_connection_is_not_configured(tenant):
    connection = QboConnection.objects.create(tenant=tenant)
    assert connection.status == ConnectionStatus.NOT_CONFIGURED
    assert connection.last_error is None and connection.consecutive_failures == 0
    assert not connection.has_tokens


def test_one_quickbooks_company_belongs_to_one_tenant(tenant):
    QboConnection.objects.create(tenant=tenant, realm_id="123")
    QboConnection.objects.create(tenant=TenantFactory(partner=tenant.partner), realm_id="")
    QboConnection.objects.create(tenant=TenantFactory(partner=tenant.partner), realm_id="")
    with pytest.raises(IntegrityError):
        QboConnection.objects.create(tenant=TenantFactory(partner=tenant.partner), realm_id="123")


def test_failures_count_up_and_a_success_resets_the_streak(tenant):
    connection = JaggaerConnection.objects.create(tenant=tenant, status=ConnectionStatus.CONNECTED)
    health.connection_record_failure(connection=connection, code="timeout", message="JAGGAER did not answer")
    health.connection_record_failure(connection=connection, code="timeout", message="JAGGAER did not answer")
    connection.refresh_from_db()
    assert connection.consecutive_failures == 2
    assert connection.status == ConnectionStatus.CONNECTED   # a transient failure does not change the status
    assert connection.last_error["code"] == "timeout" and connection.last_error["at"]
    health.connection_record_success(connection=connection)
    connection.refresh_from_db()
    assert connection.consecutive_failures == 0 and connection.last_success_at
    assert connection.last_error_code == "timeout"   # the last error stays for the record


def test_a_connection_level_failure_sets_the_status(tenant):
    qbo = QboConnection.objects.create(tenant=tenant, realm_id="1", status=ConnectionStatus.CONNECTED)
    health.connection_record_failure(connection=qbo, code="needs_reauthorization", message="reconnect")
    qbo.refresh_from_db()
    assert qbo.status == ConnectionStatus.NEEDS_REAUTHORIZATION and qbo.status_reason == "reconnect"
    health.connection_record_success(connection=qbo)
    qbo.refresh_from_db()
    assert qbo.status == ConnectionStatus.NEEDS_REAUTHORIZATION   # only a reconnect clears it

"""`manage.py rotate_credentials_key`: every secret moves to the new key, in one transaction."""

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from connections.crypto import CredentialDecryptionError
from connections.models import JaggaerConnection, QboConnection
from tests.factories import TenantFactory

# Every test fails if a captured log line carries a secret.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]

OLD = "old-credentials-key-0000000000000000000000000000000000"
NEW = "new-credentials-key-1111111111111111111111111111111111"


def _rows():
    return (list(JaggaerConnection.objects.order_by("pk").values_list("client_secret", "access_token")),
            list(QboConnection.objects.order_by("pk").values_list("access_token", "refresh_token")))


@pytest.fixture
def secrets_under_old_key(tenant):
    with override_settings(CREDENTIALS_KEY=OLD):
        JaggaerConnection.objects.create(tenant=tenant, client_id="id", client_secret="jaggaer-secret-1",
                                         access_token="jaggaer-token-1")
        QboConnection.objects.create(tenant=tenant, realm_id="1", access_token="qbo-access-1",
                                     refresh_token="qbo-refresh-1")
        other = TenantFactory(partner=tenant.partner)
        QboConnection.objects.create(tenant=other, realm_id="2", access_token=None, refresh_token="qbo-refresh-2")
        return _rows()


def test_old_ciphertext_becomes_readable_under_the_new_key_only(secrets_under_old_key, capsys):
    with override_settings(CREDENTIALS_KEY=NEW):
        with pytest.raises(CredentialDecryptionError):
            _rows()
        call_command("rotate_credentials_key", old_key=OLD)
        assert _rows() == secrets_under_old_key
    out = capsys.readouterr().out
    assert "re-encrypted 5 value(s)" in out
    assert "secret" not in out and "token-1" not in out
    with override_settings(CREDENTIALS_KEY=OLD):
        with pytest.raises(CredentialDecryptionError):
            _rows()


def test_a_second_run_changes_nothing(secrets_under_old_key, capsys):
    with override_settings(CREDENTIALS_KEY=NEW):
        call_command("rotate_credentials_key", old_key=OLD)
        call_command("rotate_credentials_key", old_key=OLD)
        assert _rows() == secrets_under_old_key
    assert "re-encrypted 0 value(s); 5 already under the current key" in capsys.readouterr().out


def test_a_value_readable_under_neither_key_aborts_everything(secrets_under_old_key, tenant):
    with override_settings(CREDENTIALS_KEY="a-third-key-22222222222222222222222222222222"):
        QboConnection.objects.create(tenant=TenantFactory(partner=tenant.partner), realm_id="3",
                                     refresh_token="lost")
    with override_settings(CREDENTIALS_KEY=NEW):
        with pytest.raises(CommandError, match="readable under neither key"):
            call_command("rotate_credentials_key", old_key=OLD)
    with override_settings(CREDENTIALS_KEY=OLD):   # the transaction rolled back: all still under the old key
        rows = JaggaerConnection.objects.values_list("client_secret", flat=True)
        assert list(rows) == ["jaggaer-secret-1"]


def test_the_dry_run_changes_nothing(secrets_under_old_key, capsys):
    with override_settings(CREDENTIALS_KEY=NEW):
        call_command("rotate_credentials_key", old_key=OLD, dry_run=True)
        with pytest.raises(CredentialDecryptionError):
            _rows()
    assert "would re-encrypt 5" in capsys.readouterr().out


def test_the_old_key_can_come_from_the_environment(secrets_under_old_key, monkeypatch):
    monkeypatch.setenv("OLD_CREDENTIALS_KEY", OLD)
    with override_settings(CREDENTIALS_KEY=NEW):
        call_command("rotate_credentials_key")
        assert _rows() == secrets_under_old_key


def test_it_refuses_without_an_old_key_or_with_the_current_one(monkeypatch):
    monkeypatch.delenv("OLD_CREDENTIALS_KEY", raising=False)
    with pytest.raises(CommandError, match="--old-key"):
        call_command("rotate_credentials_key")
    with override_settings(CREDENTIALS_KEY=NEW):
        with pytest.raises(CommandError, match="equals the current"):
            call_command("rotate_credentials_key", old_key=NEW)

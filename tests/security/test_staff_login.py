"""Staff accounts: django-axes locks after failed admin logins; django-otp asks for a TOTP code when required."""

import pytest
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db
PASSWORD = "pw-staff-login-1"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_superuser("sam", password=PASSWORD)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def login(client, password, ip="192.0.2.10", username="sam", **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra}, REMOTE_ADDR=ip)


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
@pytest.mark.parametrize("wrong", [5, 60])
def test_after_n_wrong_passwords_the_right_one_is_refused(client, staff_user, wrong):
    for n in range(wrong):
        assert login(client, f"wrong-{n}").status_code in (200, 429)
    answer = login(client, PASSWORD)
    assert answer.status_code == 429
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302
    attempt = AccessAttempt.objects.get(username="sam")        # kept in the database
    assert attempt.failures_since_start >= 5


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
def test_the_lockout_also_holds_the_address_for_other_usernames(client, staff_user, django_user_model):
    django_user_model.objects.create_superuser("other", password=PASSWORD)
    for n in range(5):
        login(client, f"wrong-{n}", ip="192.0.2.20")
    assert login(client, PASSWORD, ip="192.0.2.20", username="other").status_code == 429
    assert not logged_in(client)


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
def test_a_successful_login_resets_the_count(client, staff_user):
    for n in range(4):
        login(client, f"wrong-{n}")
    assert login(client, PASSWORD).status_code == 302 and logged_in(client)
    client.logout()
    for n in range(4):
        login(client, f"again-{n}")
    assert login(client, PASSWORD).status_code == 302 and logged_in(client)


def test_without_the_requirement_a_password_is_enough(client, staff_user):
    assert login(client, PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


@override_settings(STAFF_REQUIRE_2FA=True)
def test_with_the_requirement_a_password_alone_does_not_open_the_admin(client, staff_user):
    page = client.get(LOGIN)
    assert 'name="otp_token"' in page.content.decode()
    login(client, PASSWORD)
    assert client.get("/admin/").status_code == 302
    client.force_login(staff_user)                           # a session without a verified device
    assert client.get("/admin/tenants/tenant/").status_code == 302


@override_settings(STAFF_REQUIRE_2FA=True)
def test_with_the_requirement_the_totp_code_opens_the_admin(client, staff_user, capsys):
    call_command("staff_totp", "sam")
    printed = capsys.readouterr().out
    assert "otpauth://totp/ml-connector%3Asam?secret=" in printed
    device = TOTPDevice.objects.get(user=staff_user)
    assert login(client, PASSWORD, otp_device=device.persistent_id, otp_token="000000").status_code == 200
    assert not logged_in(client)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1              # django-otp slows down guessing of codes too
    device.throttle_reset()
    token = f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"
    assert login(client, PASSWORD, otp_device=device.persistent_id, otp_token=token).status_code == 302
    assert client.get("/admin/tenants/tenant/").status_code == 200


def test_the_setup_command_refuses_a_second_device_unless_told(staff_user, django_user_model):
    call_command("staff_totp", "sam", stdout=open("/dev/null", "w"))
    with pytest.raises(CommandError, match="already has a TOTP device"):
        call_command("staff_totp", "sam")
    call_command("staff_totp", "sam", "--replace", stdout=open("/dev/null", "w"))
    assert TOTPDevice.objects.filter(user=staff_user).count() == 1
    django_user_model.objects.create_user("plain", password=PASSWORD)
    with pytest.raises(CommandError, match="No staff user"):
        call_command("staff_totp", "plain")


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(client, staff_user, django_user_model):
    django_user_model.objects.create_superuser("other", password=PASSWORD)
    for n in range(5):
        login(client, f"wrong-{n}", ip="192.0.2.30", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    answer = login(client, PASSWORD, ip="192.0.2.30", username="other", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert answer.status_code == 429 and not logged_in(client)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.30"}

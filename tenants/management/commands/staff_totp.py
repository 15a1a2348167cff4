"""python manage.py staff_totp <username> [--replace]: give a staff user the TOTP device the admin asks for.

Prints the otpauth:// URL (scan it, or type the secret, into an authenticator app) once; the admin then asks
for the six-digit code after the password (STAFF_REQUIRE_2FA, on in production).
"""

from base64 import b32encode

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "authenticator"


class Command(BaseCommand):
    help = "Create the TOTP device (second factor) of a staff user and print its otpauth:// URL once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--replace", action="store_true",
                            help="Remove the user's TOTP devices first (a lost phone).")

    def handle(self, *args, username, replace, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not user.is_staff:
            raise CommandError(f"No staff user {username!r}; create it first (createsuperuser).")
        devices = TOTPDevice.objects.devices_for_user(user)
        if devices.exists() and not replace:
            raise CommandError(f"{username} already has a TOTP device; pass --replace to issue a new one.")
        devices.delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
        self.stdout.write(f"TOTP device created for {username}. Add it to an authenticator app now; it is not "
                          f"shown again.")
        self.stdout.write(f"  URL:    {device.config_url}")
        self.stdout.write(f"  secret: {b32encode(device.bin_key).decode()}")

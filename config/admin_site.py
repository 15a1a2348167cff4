"""The admin site: with STAFF_REQUIRE_2FA a staff user also needs a verified TOTP device (django-otp).

The setting is read per request, so a test can turn it on and off; production defaults it on.
"""

from django.conf import settings
from django.contrib import admin
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class StaffAdminSite(admin.AdminSite):

    @property
    def login_form(self):
        return OTPAdminAuthenticationForm if settings.STAFF_REQUIRE_2FA else None

    @property
    def login_template(self):
        return OTPAdminSite.login_template if settings.STAFF_REQUIRE_2FA else None

    site_url = None   # no public site: the admin header has no "View site" link that ends on a 404

    def index(self, request, extra_context=None):
        # The support home: tenants needing attention, today's runs and holds by reason above the model lists.
        from console.home import support_home

        return super().index(request, {**support_home(), **(extra_context or {})})

    def has_permission(self, request) -> bool:
        allowed = super().has_permission(request)
        if allowed and settings.STAFF_REQUIRE_2FA:
            return bool(getattr(request.user, "is_verified", lambda: False)())
        return allowed

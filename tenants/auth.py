"""Partner API key authentication: `Authorization: Api-Key <key>`."""

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from tenants.models import Partner, PartnerAPIKey

KEYWORD = "Api-Key"


@dataclass(frozen=True)
class PartnerPrincipal:
    """The caller of an API request: a partner, identified by one of its keys."""

    partner: Partner
    api_key: PartnerAPIKey
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def label(self) -> str:
        return f"api-key:{self.api_key.prefix} ({self.partner.name})"

    def __str__(self) -> str:
        return self.label


class PartnerAPIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        from core.throttles import authentication_check

        authentication_check(request)  # an address that spent its failed attempts gets 429, before any key check
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, key = header.strip().partition(" ")
        key = key.strip()
        if keyword != KEYWORD or not key:
            raise exceptions.AuthenticationFailed(
                f"Malformed Authorization header: send 'Authorization: {KEYWORD} <key>'.",
                code="invalid_api_key",
            )
        prefix, _, _ = key.partition(".")
        api_key = PartnerAPIKey.objects.select_related("partner").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed(
                "This API key is not valid. Check that it was copied whole, or ask for a new one.",
                code="invalid_api_key",
            )
        if api_key.revoked:
            raise exceptions.AuthenticationFailed(
                "This API key has been revoked. Ask your ml-connector contact for a new one.",
                code="api_key_revoked",
            )
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(
                "This API key has expired. Ask your ml-connector contact for a new one.",
                code="api_key_expired",
            )
        if not api_key.partner.is_active:
            raise exceptions.PermissionDenied("This partner account is disabled.")
        return PartnerPrincipal(partner=api_key.partner, api_key=api_key), api_key

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="ml-connector"'

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


_PRINCIPAL_ATTRIBUTE = "_mlc_partner_principal"


def principal_for_request(request) -> PartnerPrincipal | None:
    """The caller of a Django request when its Authorization header holds a usable key, else None (no error:
    the API's own authentication answers it). Found once per request, and reused by the authentication."""
    if hasattr(request, _PRINCIPAL_ATTRIBUTE):
        return getattr(request, _PRINCIPAL_ATTRIBUTE)
    try:
        principal = _principal_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
    except (exceptions.AuthenticationFailed, exceptions.PermissionDenied):
        principal = None
    setattr(request, _PRINCIPAL_ATTRIBUTE, principal)
    return principal


def _key_used(api_key: PartnerAPIKey) -> None:
    """Notes when the key was last used, at most once a minute per key (one UPDATE)."""
    from django.utils import timezone

    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() >= 60:
        PartnerAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


class PartnerAPIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        from core.throttles import authentication_check

        authentication_check(request)  # an address that spent its failed attempts gets 429, before any key check
        django_request = getattr(request, "_request", request)
        principal = getattr(django_request, _PRINCIPAL_ATTRIBUTE, None)
        if principal is None:
            principal = _principal_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        if principal is None:
            return None
        _key_used(principal.api_key)
        return principal, principal.api_key

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="ml-connector"'


def _principal_from_header(header: str) -> PartnerPrincipal | None:
    """The caller named by an Authorization header; None without one; AuthenticationFailed when it is wrong."""
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
    return PartnerPrincipal(partner=api_key.partner, api_key=api_key)

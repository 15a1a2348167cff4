"""Throttles of the partner API, counted in the shared cache (Redis when REDIS_URL is set).

- every call, per API key (API_THROTTLE_PARTNER);
- pings, and sync and replay requests, per API key on their own tighter rates (API_THROTTLE_PING, _SYNC);
- failed authentication (no key, a malformed, unknown, revoked or expired key), per client address
  (API_THROTTLE_AUTH_FAILURES): once spent, the address gets 429 before any key is checked.

Rates are read from the settings on every request. A 429 carries `Retry-After` and the error format.
"""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


class Throttled(exceptions.Throttled):
    def __init__(self, wait: float | None, what: str):
        seconds = max(1, math.ceil(wait or 1))
        super().__init__(wait=seconds, detail=f"Too many {what}; retry after {seconds} seconds.")


class _SettingRateThrottle(SimpleRateThrottle):
    setting = ""
    what = "requests"

    def get_rate(self):
        return getattr(settings, self.setting)

    def __init__(self):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def parse_rate(self, rate):
        count, _, period = rate.partition("/")
        return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


class PartnerKeyThrottle(_SettingRateThrottle):
    """Every call of one API key."""

    scope = "partner"
    setting = "API_THROTTLE_PARTNER"
    what = "requests with this API key"

    def get_cache_key(self, request, view):
        api_key = getattr(getattr(request, "user", None), "api_key", None)   # a tenants.auth.PartnerPrincipal
        if api_key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}

    def allow_request(self, request, view):
        if super().allow_request(request, view):
            _note_budget(request, self)
            return True
        _note_budget(request, self)
        raise Throttled(self.wait(), self.what)


class _UnsafePartnerThrottle(PartnerKeyThrottle):
    """Only POST/PUT/PATCH/DELETE count (reading a run's status is not starting one)."""

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


class PingThrottle(_UnsafePartnerThrottle):
    scope = "ping"
    setting = "API_THROTTLE_PING"
    what = "pings with this API key"


class SyncRequestThrottle(_UnsafePartnerThrottle):
    scope = "sync"
    setting = "API_THROTTLE_SYNC"
    what = "sync and replay requests with this API key"


class FailedAuthenticationThrottle(_SettingRateThrottle):
    """Failed authentications of one client address: checked before a key is, recorded after it fails."""

    scope = "auth_failures"
    setting = "API_THROTTLE_AUTH_FAILURES"
    what = "failed authentications from your address"

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def _load(self, request) -> None:
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]

    def check(self, request) -> None:
        """Throttled when this address has spent its failures."""
        self._load(request)
        if len(self.history) >= self.num_requests:
            _note_budget(request, self)
            raise Throttled(self.wait(), self.what)

    def record(self, request) -> None:
        """One more failure of the address; its answer (a 401) tells the address's budget in RateLimit-*."""
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
        _note_budget(request, self)


RATE_LIMIT_ATTRIBUTE = "_mlc_rate_limit"


def _note_budget(request, throttle: _SettingRateThrottle) -> None:
    """Keeps the tightest budget of the request's throttles for the RateLimit-* headers of its answer."""
    if getattr(throttle, "key", None) is None:
        return
    remaining = max(0, throttle.num_requests - len(throttle.history))
    oldest = throttle.history[-1] if throttle.history else throttle.now
    reset = max(0, math.ceil(throttle.duration - (throttle.now - oldest)))
    django_request = getattr(request, "_request", request)
    noted = getattr(django_request, RATE_LIMIT_ATTRIBUTE, None)
    if noted is None or remaining < noted[1]:
        setattr(django_request, RATE_LIMIT_ATTRIBUTE, (throttle.num_requests, remaining, reset))


class RateLimitHeadersMiddleware:
    """Adds RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds) to answers of throttled calls:
    the tightest of the call's budgets (per API key; syncs and pings have their own)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        noted = getattr(request, RATE_LIMIT_ATTRIBUTE, None)
        if noted is not None:
            limit, remaining, reset = noted
            response["RateLimit-Limit"] = str(limit)
            response["RateLimit-Remaining"] = str(remaining)
            response["RateLimit-Reset"] = str(reset)
        return response


def client_address(request) -> str:
    """The client's address as the throttles see it (REMOTE_ADDR, or X-Forwarded-For behind trusted proxies)."""
    return BaseThrottle().get_ident(request)


def authentication_check(request) -> None:
    FailedAuthenticationThrottle().check(request)


def authentication_failed(request) -> None:
    FailedAuthenticationThrottle().record(request)

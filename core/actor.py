"""Who did something: a partner's API key, a staff user, or the system.

Services take `actor=` and write it into the people audit with the change. Nothing here imports
another app: a request's user is read duck-typed (a `PartnerPrincipal` has `partner` and `api_key`,
a staff user has `get_username`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    API_KEY = "api_key"
    STAFF_USER = "staff_user"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who did something: an API key (its prefix and partner, never the key), a staff user, or the system."""

    kind: str
    label: str
    id: str = ""


SYSTEM = Actor(ActorKind.SYSTEM, "system")


def actor_from_request(request) -> Actor:
    """The actor of an API request (a partner's key) or of an admin request (a staff user)."""
    user = getattr(request, "user", None)
    api_key = getattr(user, "api_key", None)
    if api_key is not None and getattr(user, "partner", None) is not None:
        return Actor(ActorKind.API_KEY, str(getattr(user, "label", "") or f"api-key:{api_key.prefix}"),
                     str(api_key.pk))
    if user is not None and getattr(user, "is_authenticated", False) and hasattr(user, "get_username"):
        return Actor(ActorKind.STAFF_USER, user.get_username(), str(user.pk))
    return Actor(ActorKind.SYSTEM, "anonymous request")

"""The one client of partner webhook endpoints: sign a body (Standard Webhooks) and POST it once.

Partner URLs are customer-given hosts: every request follows the outbound address policy (`core.outbound`):
checked before anything is sent, the checked address dialled, no proxy, no redirect followed, https only
in production. The answer's body is never read: only its status code is kept, and every failure is said
in our words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import requests
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from core.outbound import GuardedAdapter, OutboundBlocked, OutboundPolicy

USER_AGENT = "ml-connector-webhooks/1.0"

WEBHOOK_POLICY = OutboundPolicy(system="webhook", field="webhook endpoint URL", display_name="the webhook endpoint",
                                allowed_hosts_setting="WEBHOOK_ALLOWED_HOSTS")


def signature_header(*, secrets: list[str], message_id: str, timestamp: dt.datetime, body: bytes) -> str:
    """`webhook-signature`: one `v1,<base64>` per secret, space-separated (both during a rotation)."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""                 # in our words, never the remote body
    permanent: bool = False         # the URL itself is refused: retrying cannot help until it changes


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False       # no proxy from the environment: we dial the checked address
    adapter = GuardedAdapter(WEBHOOK_POLICY, pool_connections=4, pool_maxsize=4, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _transport_problem(exc: requests.RequestException, timeout: tuple[float, float]) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "the secure (TLS) connection failed: the certificate is not trusted or the host does not speak HTTPS"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"the endpoint did not accept a connection within {timeout[0]:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"the endpoint did not answer within {timeout[1]:g} s"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return "the endpoint URL is not valid"
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text or "resolution" in text:
        return "the endpoint's host name does not resolve"
    if "refused" in text:
        return "the endpoint refused the connection (nothing listening there)"
    return "the connection to the endpoint failed or was dropped before an answer"


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url` once; a 2xx answer is a delivery, anything else a failed attempt."""
    timeout = (min(float(settings.WEBHOOK_CONNECT_TIMEOUT), float(settings.OUTBOUND_CONNECT_TIMEOUT)),
               float(settings.WEBHOOK_READ_TIMEOUT))
    send = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        WEBHOOK_POLICY.check_url(url)
        with _session() as session:
            response = session.post(url, data=body, headers=send, timeout=timeout, allow_redirects=False,
                                    stream=True)
            response.close()        # the body is never read
    except OutboundBlocked as exc:
        return Outcome(False, error=f"refused before connecting: {exc.problem}", permanent=True)
    except requests.RequestException as exc:
        return Outcome(False, error=_transport_problem(exc, timeout))
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True, status_code=status)
    if 300 <= status < 400:
        return Outcome(False, status_code=status, error=f"the endpoint answered with a redirect (HTTP {status}), "
                                                        f"which is never followed: use the final https:// address")
    return Outcome(False, status_code=status, error=f"the endpoint answered HTTP {status}")

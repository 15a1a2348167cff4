"""The outbound policies of connections: the JAGGAER base URL is a customer-given host.

The policy itself (what a public address is, the check before a call, dialling the checked address) is
`core.outbound`, shared with the partner webhooks. Here a refused JAGGAER call is a `TransportError`
(code `blocked_address`), so the HTTP layer, the runs and the ping treat it like any other unreachable host.
The QuickBooks/Intuit URLs are operator settings, not customer input: they are not subject to this policy.
"""

from __future__ import annotations

from connections.exceptions import SYSTEM_NAMES, TransportError
from core import outbound as core_outbound
from core.outbound import (
    BLOCKED_CODE,
    REDIRECT_CODE,
    OutboundPolicy,
    address_problem,
    host_literal,
    is_this_machine,
    normalize_host,
    parse_ipv4_loose,
    private_hosts_allowed,
)


class OutboundBlocked(core_outbound.OutboundBlocked, TransportError):
    """A call to JAGGAER the outbound policy refused before any connection was attempted."""

    def __init__(self, message: str, *, system: str, problem: str = ""):
        TransportError.__init__(self, message, system=system, code=BLOCKED_CODE, transient=False)
        self.problem = problem or message

    def __str__(self) -> str:
        return self.message


JAGGAER_POLICY = OutboundPolicy(system="jaggaer", field="API base URL", allowed_hosts_setting="JAGGAER_ALLOWED_HOSTS",
                                display_name=SYSTEM_NAMES["jaggaer"], error_class=OutboundBlocked)

# Every HttpClient of one of these systems calls a customer-given host and follows its policy.
POLICIES: dict[str, OutboundPolicy] = {"jaggaer": JAGGAER_POLICY}


def policy_for(system: str) -> OutboundPolicy | None:
    return POLICIES.get(system)


__all__ = ["BLOCKED_CODE", "JAGGAER_POLICY", "POLICIES", "REDIRECT_CODE", "OutboundBlocked", "OutboundPolicy",
           "address_problem", "host_literal", "is_this_machine", "normalize_host", "parse_ipv4_loose", "policy_for",
           "private_hosts_allowed"]

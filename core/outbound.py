"""The outbound address policy: which customer-given hosts ml-connector may call, and how it dials them.

A customer (or a partner on their behalf) types hosts: the JAGGAER base URL, partner webhook URLs. Such a
host must never be able to point our servers at this machine or its private network. For every call to a
customer-given host:

1. the URL is checked without DNS (`OutboundPolicy.check_url`): scheme (only https in production), a host
   name that is a public DNS name or a public IP literal in any spelling (decimal `2130706433`, hex
   `0x7f000001`, octal, short `127.1`, bracketed IPv6, IPv4-mapped/compatible IPv6, NAT64, 6to4, trailing
   dots), no local names (`localhost`, single labels, `.internal`, ...), and the optional allow-list;
2. the name is resolved once, when a connection opens, refused when any address is not public
   (`OutboundPolicy.resolve`), and the connection goes to exactly the address checked (`GuardedAdapter`):
   no second lookup, so a name that changes its answer between check and connect (DNS rebinding) cannot
   reach a private host. TLS still verifies the certificate and sends SNI for the host name.

Callers never follow redirects and never use proxies from the environment. `OUTBOUND_ALLOW_PRIVATE_HOSTS`
(off by default, never honoured in production) lets development and the test suite talk to local servers
on 127.0.0.1. Each caller's layer names its policies (connections: JAGGAER; webhooks: partner endpoints).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3.exceptions
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from core.transport import LeanAdapter, OneWriteConnectionMixin

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

BLOCKED_CODE = "blocked_address"
REDIRECT_CODE = "redirect_refused"


class OutboundBlocked(Exception):
    """A call the outbound policy refused before any connection was attempted (never transient)."""

    def __init__(self, message: str, *, system: str, problem: str = ""):
        super().__init__(message)
        self.message = message
        self.system = system
        self.code = BLOCKED_CODE
        self.status = None
        self.transient = False
        self.problem = problem or message

    def __str__(self) -> str:
        return self.message


# ============================================================================ addresses

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_BENCHMARK = ipaddress.ip_network("198.18.0.0/15")
_V4_DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_V6_DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in ("2001:db8::/32", "3fff::/20"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def address_problem(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address ('a loopback address', ...), or None when it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            inner = address_problem(ip.ipv4_mapped)
            return f"{inner} written as an IPv4-mapped IPv6 address" if inner else None
        if ip == ipaddress.IPv6Address("::"):
            return "the unspecified address"
        if ip == ipaddress.IPv6Address("::1"):
            return "a loopback address"
        if int(ip) >> 32 == 0:   # ::a.b.c.d, the deprecated IPv4-compatible form
            return "an IPv4-compatible IPv6 address (deprecated, never public)"
        if ip in _NAT64:
            inner = address_problem(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            return f"{inner} reached through NAT64" if inner else None
        if ip in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        if ip.sixtofour is not None:
            inner = address_problem(ip.sixtofour)
            if inner:
                return f"{inner} reached through 6to4"
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        if any(ip in net for net in _V6_DOCUMENTATION):
            return "a documentation address"
        if ip.is_site_local:
            return "a site-local address"
    else:
        if ip == _BROADCAST:
            return "the broadcast address"
        if ip in _SHARED:
            return "a shared (carrier-grade NAT) address"
        if any(ip in net for net in _V4_DOCUMENTATION):
            return "a documentation address"
        if ip in _BENCHMARK:
            return "a benchmarking address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def _ipv4_part(text: str) -> int:
    if text.startswith("0x"):
        return int(text[2:] or "0", 16)
    if len(text) > 1 and text.startswith("0"):
        return int(text, 8)
    return int(text, 10)


def parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """The address of an IPv4 literal in any spelling inet_aton accepts (`127.1`, `0x7f000001`, `017700000001`,
    `2130706433`); None when `host` is no IPv4 literal; ValueError when it looks like one but is not valid."""
    parts = host.split(".")
    if not _NUMERIC_PART.match(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        raise ValueError(host)
    try:
        values = [_ipv4_part(p) for p in parts]
    except ValueError:
        raise ValueError(host) from None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(host)
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def normalize_host(host: str) -> str:
    """Lower case, no brackets, no trailing dots, no IPv6 zone; IDNA for a name with other characters."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.split("%", 1)[0]
    host = host.rstrip(".")
    if host and not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host


def host_literal(host: str) -> IPAddress | None:
    """The IP address a normalized host spells (IPv4 in any inet_aton form, or IPv6), or None for a name.
    ValueError when the host is neither a valid address nor a valid name."""
    if ":" in host:
        return ipaddress.IPv6Address(host)
    return parse_ipv4_loose(host)


_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))+$")
# Names that only ever mean something inside a private network or on this machine.
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".intranet", ".lan", ".home", ".corp",
                   ".private", ".home.arpa", ".arpa", ".onion", ".test", ".invalid", ".example")


def _local_name_problem(host: str) -> str | None:
    if host == "localhost" or host.endswith(".localhost"):
        return "names this machine"
    if "." not in host:
        return "is a single-label name that only resolves inside a private network"
    if any(host.endswith(suffix) for suffix in _LOCAL_SUFFIXES):
        return "is a name that is not public on the internet"
    return None


# ============================================================================ the policy

def _production() -> bool:
    return getattr(settings, "ENVIRONMENT", "development") == "production"


def private_hosts_allowed() -> bool:
    """OUTBOUND_ALLOW_PRIVATE_HOSTS, which production never honours."""
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_HOSTS", False)) and not _production()


def loopback_sandboxes_allowed(host: str) -> bool:
    """Only config/settings_production_boot_test.py sets OUTBOUND_ALLOW_LOOPBACK_SANDBOXES (no variable does): the
    production boot test calls the sandboxes on 127.0.0.1 over http; any other private host stays refused."""
    return bool(getattr(settings, "OUTBOUND_ALLOW_LOOPBACK_SANDBOXES", False)) and is_this_machine(host)


def is_this_machine(host: str) -> bool:
    """localhost or a loopback literal (in any spelling)."""
    host = normalize_host(host)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        literal = host_literal(host)
    except ValueError:
        return False
    return literal is not None and literal.is_loopback


@dataclass(frozen=True)
class OutboundPolicy:
    """The rules for one kind of customer-given host (the JAGGAER base URL; partner webhook URLs later)."""

    system: str                       # the HttpClient system whose calls it governs
    field: str                        # what the customer fixes, as the messages name it
    allowed_hosts_setting: str = ""   # the setting holding the optional allow-list of host patterns
    display_name: str = ""            # how messages name the system (default: `system`)
    # What a refusal raises: OutboundBlocked or a subclass the caller's layer catches as its own error.
    error_class: type[OutboundBlocked] = OutboundBlocked

    @property
    def name(self) -> str:
        return self.display_name or self.system

    def allowed_patterns(self) -> list[str]:
        if not self.allowed_hosts_setting:
            return []
        value = getattr(settings, self.allowed_hosts_setting, None) or []
        if isinstance(value, str):
            value = value.split(",")
        return [normalize_host(p) for p in value if p and p.strip()]

    # ---- checks without DNS
    def host_problem(self, scheme: str, host: str) -> str | None:
        """Why a call to `scheme://host` is refused, as a sentence for the customer; None when it may go ahead
        (subject to what the name resolves to)."""
        if not host:
            return f"the {self.field} has no host name"
        try:
            host = normalize_host(host)
            literal = host_literal(host)
        except (ValueError, UnicodeError):
            return f"{host!r} is neither a valid host name nor a valid IP address"
        patterns = self.allowed_patterns()
        if patterns and not any(fnmatch.fnmatchcase(host, p) for p in patterns):
            return (f"{host} is not among the hosts this installation may call ({self.allowed_hosts_setting}: "
                    f"{', '.join(patterns)})")
        loopback = loopback_sandboxes_allowed(host)
        allow_private = private_hosts_allowed() or loopback
        if not allow_private:
            if literal is not None:
                problem = address_problem(literal)
                if problem:
                    shown = host if host == str(literal) else f"{host} ({literal})"
                    return f"{shown} is {problem}, which ml-connector never calls"
            else:
                local = _local_name_problem(host)
                if local:
                    return f"{host} {local}, which ml-connector never calls"
                if not _NAME.match(host):
                    return f"{host!r} is not a valid host name"
        if scheme != "https" and (scheme != "http" or (_production() and not loopback) or not allow_private):
            return "only https:// addresses are called"
        return None

    def url_problem(self, url: str) -> str | None:
        """The host part of `host_problem` for a whole URL (None when it may be called)."""
        try:
            split = urlsplit(url)
            split.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return f"the {self.field} is not a valid URL"
        return self.host_problem(split.scheme.lower(), split.hostname or "")

    def check_url(self, url: str) -> None:
        """At call time: OutboundBlocked (nothing is sent) when the URL breaks the policy."""
        problem = self.url_problem(url)
        if problem:
            raise self.error_class(f"the call to {self.name} was refused before connecting: {problem}; fix the "
                                  f"{self.name} {self.field}", system=self.system, problem=problem)

    # ---- with DNS
    def resolve(self, host: str, port: int) -> list[tuple[int, tuple]]:
        """(family, sockaddr) to connect to for `host`, each checked; socket.gaierror when the name does not
        resolve, OutboundBlocked when any of its addresses is not public. One lookup, no more."""
        host = normalize_host(host)
        literal = host_literal(host)
        if literal is not None:
            addresses: list[tuple[int, tuple]] = [
                (socket.AF_INET6, (str(literal), port, 0, 0)) if literal.version == 6
                else (socket.AF_INET, (str(literal), port))]
        else:
            addresses = [(family, sockaddr) for family, _type, _proto, _name, sockaddr
                         in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                         if family in (socket.AF_INET, socket.AF_INET6)]
            if not addresses:
                raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")
        if not private_hosts_allowed() and not loopback_sandboxes_allowed(host):
            for _family, sockaddr in addresses:
                problem = address_problem(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
                if problem:
                    problem = f"{host} resolves to {problem}, which ml-connector never calls"
                    raise self.error_class(f"the call to {self.name} was refused before connecting: {problem}; fix "
                                          f"the {self.name} {self.field}", system=self.system, problem=problem)
        return addresses

    def configuration_problem(self, url: str) -> str | None:
        """At configuration time: the check without DNS, then what the name resolves to now. A name that does
        not resolve yet is accepted (the ping says so); every call checks again."""
        problem = self.url_problem(url)
        if problem:
            return problem
        split = urlsplit(url)
        if private_hosts_allowed() or loopback_sandboxes_allowed(split.hostname or ""):
            return None
        try:
            self.resolve(split.hostname or "", split.port or 443)
        except OutboundBlocked as exc:
            return exc.problem
        except (OSError, UnicodeError):
            return None
        return None


# ============================================================================ dialing a checked address

class _GuardedConnectionMixin:
    """A urllib3 connection that resolves its host once through the outbound policy and dials the checked address.

    `self.host` stays the host name, so TLS sends it as SNI and verifies the certificate against it."""

    outbound_policy: OutboundPolicy

    def _new_conn(self) -> socket.socket:
        try:
            targets = self.outbound_policy.resolve(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for family, sockaddr in targets:
            sock = None
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                if sock is not None:
                    sock.close()
        if isinstance(error, TimeoutError):
            raise urllib3.exceptions.ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})") from error
        raise urllib3.exceptions.NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


_POOL_CLASSES: dict[OutboundPolicy, dict[str, type]] = {}
_POOL_CLASSES_LOCK = threading.Lock()


def _guarded_pool_classes(policy: OutboundPolicy) -> dict[str, type]:
    with _POOL_CLASSES_LOCK:
        if policy not in _POOL_CLASSES:
            http_conn = type("GuardedHTTPConnection",
                             (_GuardedConnectionMixin, OneWriteConnectionMixin, HTTPConnection),
                             {"outbound_policy": policy})
            https_conn = type("GuardedHTTPSConnection",
                              (_GuardedConnectionMixin, OneWriteConnectionMixin, HTTPSConnection),
                              {"outbound_policy": policy})
            _POOL_CLASSES[policy] = {
                "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
                "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
            }
        return _POOL_CLASSES[policy]


class GuardedAdapter(LeanAdapter):
    """A requests adapter whose connections follow an outbound policy; it never goes through a proxy."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any):
        self.outbound_policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _guarded_pool_classes(self.outbound_policy)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=None)


__all__ = ["BLOCKED_CODE", "REDIRECT_CODE", "GuardedAdapter", "OutboundBlocked", "OutboundPolicy", "address_problem",
           "host_literal", "is_this_machine", "normalize_host", "parse_ipv4_loose", "private_hosts_allowed"]

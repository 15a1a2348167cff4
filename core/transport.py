"""What every outbound HTTP call of ours goes through beneath requests: fewer system calls a call.

A sync's QBO batches are sent from a helper thread while the run's thread works (sync/pipeline/engine.py). In
CPython a thread that comes back from a system call waits for the interpreter's lock, up to its 5 ms switch
interval while another thread keeps it busy: each system call an exchange makes costs it that wait. requests and
urllib3 make several a call that carry nothing: ~/.netrc looked for (two file-system calls), the CA bundle asked
whether it is a directory, the headers and the body written apart, the answer read 8 KB at a time. Here:

- `NoNetrc`: a session-wide auth that adds nothing, so requests never reads ~/.netrc (our clients send their
  credentials themselves: a bearer header or an explicit `auth=`; a netrc entry on the host must never reach
  anyone).
- `LeanAdapter`: what the pool keys on (scheme, host, port, CA bundle, client certificate) worked out once per
  host and bundle, not at every call; its connections are `OneWriteConnectionMixin`'s.
- `OneWriteConnectionMixin`: a request's headers and body leave in one write, and its answer is read through a
  buffer of `RESPONSE_BUFFER` bytes (one read takes what has arrived).
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

RESPONSE_BUFFER = 256 * 1024


class NoNetrc(requests.auth.AuthBase):
    """Set as a session's `auth`: requests then never looks for ~/.netrc (it does when no auth is set); a call's
    own `auth=` still wins."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class BufferedResponse(http.client.HTTPResponse):
    """An answer read through a large buffer: its status line, headers and body in as few reads as they arrive."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any):
        super().__init__(sock, *args, **kwargs)
        self.fp.close()      # the 8 KB reader made above: the socket stays open (it counts its readers)
        self.fp = sock.makefile("rb", buffering=RESPONSE_BUFFER)


class OneWriteConnectionMixin:
    """A urllib3 connection that writes a request (its headers and a body in memory) in one call."""

    response_class = BufferedResponse
    _outgoing: list[bytes] | None = None

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._outgoing = []
        try:
            super().request(*args, **kwargs)
            outgoing = self._outgoing
        finally:
            self._outgoing = None
        if outgoing:
            super().send(b"".join(outgoing))

    def send(self, data: Any) -> None:
        outgoing = self._outgoing
        if outgoing is None:
            super().send(data)
            return
        if isinstance(data, bytes | bytearray | memoryview):
            outgoing.append(bytes(data))
            return
        # A body that is not in memory (a file, an iterator): what is held goes first, the body as it comes.
        self._outgoing = None
        try:
            if outgoing:
                super().send(b"".join(outgoing))
            super().send(data)
        finally:
            outgoing.clear()
            self._outgoing = outgoing


class LeanHTTPConnection(OneWriteConnectionMixin, HTTPConnection):
    pass


class LeanHTTPSConnection(OneWriteConnectionMixin, HTTPSConnection):
    pass


class LeanHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = LeanHTTPConnection


class LeanHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = LeanHTTPSConnection


class LeanAdapter(HTTPAdapter):
    """An adapter whose connections write once a request, and which works out a host's pool key once."""

    pool_classes = {"http": LeanHTTPConnectionPool, "https": LeanHTTPSConnectionPool}

    def __init__(self, *args: Any, **kwargs: Any):
        self._pool_keys: dict[tuple, tuple[dict, dict]] = {}
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self.pool_classes)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict, dict]:
        """requests' answer, kept per (scheme, host, port, bundle, certificate): it asks the file system whether
        the CA bundle is a directory at every call."""
        parts = urlsplit(request.url)
        key = (parts.scheme.lower(), parts.hostname, parts.port, verify, tuple(cert) if isinstance(cert, list)
               else cert)
        known = self._pool_keys.get(key)
        if known is None:
            if len(self._pool_keys) >= 64:
                self._pool_keys.clear()
            known = self._pool_keys[key] = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params, pool_kwargs = known
        return dict(host_params), dict(pool_kwargs)


__all__ = ["RESPONSE_BUFFER", "BufferedResponse", "LeanAdapter", "NoNetrc", "OneWriteConnectionMixin"]

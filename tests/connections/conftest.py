"""Fixtures of the connection tests, defined in support.py: qbo_app, jaggaer_app, fast_http, secret_guard."""

from tests.connections.support import fast_http, jaggaer_app, qbo_app, secret_guard  # noqa: F401

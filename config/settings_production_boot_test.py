"""Production settings with the sandboxes on this machine: for the production boot test only.

tests/ops/test_production_boot.py starts `bin/ml-connector` with these settings. Everything production
checks is checked (ENVIRONMENT=production, the keys, PostgreSQL, https for QuickBooks' URLs); after
that, QuickBooks' URLs point at the QBO sandbox given in SANDBOX_QBO_URL, and the outbound policy lets
calls reach the sandboxes on the loopback address only (no other private host, no other http host).
Never use it for a deployment.
"""

import os

os.environ["ENVIRONMENT"] = "production"
# The production checks see Intuit's https URLs; the sandbox's http ones are set after them, below.
for _name in ("QBO_AUTHORIZE_URL", "QBO_TOKEN_URL", "QBO_REVOKE_URL", "QBO_API_BASE"):
    os.environ.pop(_name, None)
os.environ["QBO_REDIRECT_URI"] = "https://boot-test.invalid/oauth/qbo/callback"

from config.settings import *  # noqa: E402,F403

_sandbox_qbo = os.environ["SANDBOX_QBO_URL"].rstrip("/")   # e.g. http://127.0.0.1:8101
QBO_AUTHORIZE_URL = f"{_sandbox_qbo}/connect/oauth2"
QBO_TOKEN_URL = f"{_sandbox_qbo}/oauth2/v1/tokens/bearer"
QBO_REVOKE_URL = f"{_sandbox_qbo}/v2/oauth2/tokens/revoke"
QBO_API_BASE = _sandbox_qbo
QBO_REDIRECT_URI = f"{PUBLIC_BASE_URL.rstrip('/')}/oauth/qbo/callback"  # noqa: F405
OUTBOUND_ALLOW_LOOPBACK_SANDBOXES = True   # core/outbound.py: loopback hosts only

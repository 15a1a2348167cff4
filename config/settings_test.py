"""Settings for the test suite: the real settings, on PostgreSQL unless DATABASE_URL says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ml_connector")
# Every test talks to the sandbox's default realm: a production-sized budget shared in Redis would
# make unrelated tests wait on each other. Tests of the budget set their own (limiter, workers).
for name in ("QBO_REQUESTS_PER_MINUTE", "QBO_REQUESTS_PER_SECOND", "QBO_BATCHES_PER_MINUTE"):
    os.environ.setdefault(name, "100000")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The sandboxes listen on 127.0.0.1: the outbound policy lets the tests call them. The security tests
# switch this off (and ENVIRONMENT to production) to test the policy itself.
OUTBOUND_ALLOW_PRIVATE_HOSTS = True

# Tasks run in the test process unless a test starts real workers (tests/sync/test_workers.py).
CELERY_TASK_ALWAYS_EAGER = True

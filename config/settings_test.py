"""Settings for the test suite: the real settings, on PostgreSQL unless DATABASE_URL says otherwise."""

import os
import uuid

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ml_connector")
# Every test talks to the sandbox's default realm: a production-sized budget shared in Redis would
# make unrelated tests wait on each other. Tests of the budget set their own (limiter, workers).
for name in ("QBO_REQUESTS_PER_MINUTE", "QBO_REQUESTS_PER_SECOND", "QBO_BATCHES_PER_MINUTE"):
    os.environ.setdefault(name, "100000")
# Every test talks to the sandbox's one realm id: each test run (and the workers it starts, which inherit
# the environment) keeps that realm's budget under its own Redis keys, so runs side by side do not share it.
os.environ.setdefault("QBO_LIMITER_KEY_PREFIX", f"mlc-test-{uuid.uuid4().hex[:12]}")

# The whole suite calls the API far faster than any partner: throttle tests set low rates themselves.
for name in ("API_THROTTLE_PARTNER", "API_THROTTLE_PING", "API_THROTTLE_SYNC", "API_THROTTLE_AUTH_FAILURES"):
    os.environ.setdefault(name, "1000000/minute")
# Every test run keeps its cache keys (throttle counters) apart in the shared Redis.
os.environ.setdefault("CACHE_KEY_PREFIX", f"mlc-test-{uuid.uuid4().hex[:12]}")
# pytest-xdist's workers inherit the prefixes from the process that started them, and each has a test database
# of its own (the same ids in each): each keeps its keys under its own prefix. The processes a worker starts
# inherit the prefixes it made.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
for name in ("QBO_LIMITER_KEY_PREFIX", "CACHE_KEY_PREFIX"):
    if _xdist_worker and not os.environ[name].endswith(f"-{_xdist_worker}"):
        os.environ[name] = f"{os.environ[name]}-{_xdist_worker}"

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The sandboxes listen on 127.0.0.1: the outbound policy lets the tests call them. The security tests
# switch this off (and ENVIRONMENT to production) to test the policy itself.
OUTBOUND_ALLOW_PRIVATE_HOSTS = True

# Tasks run in the test process unless a test starts real workers (tests/sync/test_workers.py); a worker that
# must send tasks to the broker itself (a retried task) is started with TEST_TASKS_EAGER=false.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("TEST_TASKS_EAGER", "true") != "false"

# The test client logs staff in without a request, which django-axes refuses; tests of the lockout turn it on.
AXES_ENABLED = False
STAFF_REQUIRE_2FA = False

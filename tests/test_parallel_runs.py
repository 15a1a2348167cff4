"""The suite's processes keep their shared state apart: each pytest-xdist worker has a test database of its own
(the same ids in each), so its Redis keys (throttle counters, realm budgets) live under a prefix of its own, and
the processes a worker starts (Celery workers) share the worker's."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("CACHE_KEY_PREFIX", "QBO_LIMITER_KEY_PREFIX")
READ = ("import json; import config.settings_test as s; "
        "print(json.dumps([s.CACHES['default'].get('KEY_PREFIX', ''), s.QBO_LIMITER_KEY_PREFIX]))")


def _prefixes(**env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in NAMES and not k.startswith(("PYTEST_", "DJANGO_"))}
    base.update({"REDIS_URL": "redis://127.0.0.1:6379/0", **env})
    done = subprocess.run([sys.executable, "-c", READ], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_each_worker_keeps_its_keys_under_its_own_prefix_and_its_subprocesses_share_it():
    inherited = {"CACHE_KEY_PREFIX": "mlc-test-run1", "QBO_LIMITER_KEY_PREFIX": "mlc-test-run2"}
    gw0 = _prefixes(PYTEST_XDIST_WORKER="gw0", **inherited)
    gw1 = _prefixes(PYTEST_XDIST_WORKER="gw1", **inherited)
    assert gw0 == ["mlc-test-run1-gw0", "mlc-test-run2-gw0"]
    assert gw1 == ["mlc-test-run1-gw1", "mlc-test-run2-gw1"]
    # A Celery worker started by gw0 inherits gw0's environment, prefixes included: the same keys, not gw0-gw0.
    started_by_gw0 = _prefixes(PYTEST_XDIST_WORKER="gw0", CACHE_KEY_PREFIX=gw0[0], QBO_LIMITER_KEY_PREFIX=gw0[1])
    assert started_by_gw0 == gw0


def test_two_runs_in_one_process_each_never_share_a_prefix():
    first, second = _prefixes(), _prefixes()
    assert first[0].startswith("mlc-test-") and first[1].startswith("mlc-test-")
    assert not set(first) & set(second)

"""pytest plugin: both sandboxes for the session, reset per test.

Register with `pytest_plugins = ["sandbox.testing"]` in tests/conftest.py.
"""
from __future__ import annotations

import pytest

from sandbox.runner import Sandboxes, load_dataset, start_sandboxes

TEST_DATASET = "small"
TEST_SEED = 42


@pytest.fixture(scope="session")
def sandboxes():
    sb = start_sandboxes(TEST_DATASET, TEST_SEED)
    yield sb
    sb.stop()


def _reset(server) -> None:
    server.app.reset(load_dataset(TEST_DATASET, TEST_SEED))
    server.faults.clear()
    server.log.clear()


@pytest.fixture
def qbo_sandbox(sandboxes: Sandboxes):
    """The QBO server (`.url`, `.app`, `.faults`, `.log`), reset to the small dataset with seed 42."""
    _reset(sandboxes.qbo_server)
    yield sandboxes.qbo_server
    sandboxes.qbo_server.faults.clear()


@pytest.fixture
def jaggaer_sandbox(sandboxes: Sandboxes):
    """The JAGGAER server, reset to the small dataset with seed 42."""
    if sandboxes.jaggaer_server is None:
        pytest.skip("sandbox.jaggaer is not available")
    _reset(sandboxes.jaggaer_server)
    yield sandboxes.jaggaer_server
    sandboxes.jaggaer_server.faults.clear()


@pytest.fixture
def qbo_tokens(qbo_sandbox) -> dict:
    """A fresh OAuth grant for the default realm: access_token, refresh_token, realm_id, ..."""
    return qbo_sandbox.app.issue_tokens()

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.officernd import OfficeRnDSandbox
from tests.sandbox.officernd.client import OfficeRnDClient

ANCHOR = datetime(2026, 11, 2, 10, 0, 0, tzinfo=UTC)
RESOURCES = ("companies", "members", "plans", "resources", "locations", "contracts",
             "memberships", "opportunities", "opportunity-statuses", "fees")


@pytest.fixture(scope="module")
def sandbox():
    """A shared read-mostly sandbox (limits off so many tests can share it)."""
    with OfficeRnDSandbox(port=0, seed=42, scale=500, anchor=ANCHOR, rate_limit=0,
                          token_rate_limit=0) as sb:
        yield sb


@pytest.fixture
def fresh_sandbox():
    """A private sandbox with the default limits."""
    with OfficeRnDSandbox(port=0, seed=7, scale=100, anchor=ANCHOR) as sb:
        yield sb


def make_client(sb: OfficeRnDSandbox, **kwargs) -> OfficeRnDClient:
    return OfficeRnDClient(sb.url, sb.org, sb.client_id, sb.client_secret, **kwargs)


@pytest.fixture(scope="module")
def client(sandbox):
    return make_client(sandbox)

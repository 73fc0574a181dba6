"""Fixtures for the HubSpot sandbox tests.

``sandbox`` is one server for the whole session with rate limits off, reset before each
test that asks for ``hs``; tests about limits start their own small sandbox.
"""

from __future__ import annotations

import hubspot
import pytest
import requests

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.state import HubSpotState

TOKEN = "sandbox-token"


@pytest.fixture(scope="session")
def sandbox():
    sb = HubSpotSandbox(port=0, token=TOKEN, burst_limit=0, search_limit=0)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def hs(sandbox):
    """The shared sandbox, reset (records, properties, stats, faults, windows)."""
    sandbox.reset()
    yield sandbox
    sandbox.faults.clear()


@pytest.fixture
def client(hs):
    """The official hubspot-api-client pointed at the sandbox."""
    return hubspot.HubSpot(access_token=TOKEN, host=hs.url)


@pytest.fixture
def http(hs):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    yield session
    session.close()


@pytest.fixture
def state():
    return HubSpotState()

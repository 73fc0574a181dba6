"""Fixtures for the integration tests: both sandboxes, each started once per session and
reset before every test that uses it (``hs_sandbox``, ``ornd_sandbox``). Unlike the shared
fixtures in tests/conftest.py these keep the sandboxes' default rate limits on, so the
clients' pacing and 429 handling are exercised. Tests skip (with the reason) when a sandbox
package cannot be imported."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _hubspot_server():
    mod = pytest.importorskip("sandbox.hubspot", reason="HubSpot sandbox not importable")
    sandbox = mod.HubSpotSandbox(port=0, token="sandbox-token").start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hs_sandbox(_hubspot_server):
    _hubspot_server.reset()
    yield _hubspot_server
    _hubspot_server.reset()


@pytest.fixture(scope="session")
def _officernd_server():
    mod = pytest.importorskip("sandbox.officernd", reason="OfficeRnD sandbox not importable")
    sandbox = mod.OfficeRnDSandbox(port=0, seed=42, scale=300).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def ornd_sandbox(_officernd_server):
    _officernd_server.reset()
    yield _officernd_server

"""Both sandboxes' latency model: a seeded lognormal around the median, and an async wait
that concurrent requests share (N requests in about one latency, not N)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sandbox._latency import LatencyModel, LatencySettingsError
from sandbox.hubspot import HubSpotSandbox
from sandbox.officernd import OfficeRnDSandbox

AUTH = {"Authorization": "Bearer sandbox-token"}


def test_lognormal_draws_have_the_median_and_p95_asked_and_replay_by_seed():
    model = LatencyModel()
    model.configure(250, 400, seed=3)
    draws = [model.draw_ms() for _ in range(4000)]
    ordered = sorted(draws)
    assert 240 < statistics.median(draws) < 260
    assert 385 < ordered[int(0.95 * len(ordered))] < 415
    assert min(draws) > 0 and max(draws) > 400  # a right tail, never negative
    model.configure(250, 400, seed=3)
    assert [model.draw_ms() for _ in range(5)] == draws[:5]
    model.configure(250, None, seed=3)
    assert {model.draw_ms() for _ in range(5)} == {250.0}  # latency_ms alone: constant


@pytest.mark.parametrize("median, p95", [(-1, None), (0, 300), (300, 200), ("x", None)])
def test_bad_latency_settings_are_refused(median, p95):
    with pytest.raises(LatencySettingsError):
        LatencyModel().configure(median, p95, None)


def _concurrently(n: int, call) -> float:
    with ThreadPoolExecutor(n) as pool:
        call()  # connection warm-up, outside the timing
        started = time.perf_counter()
        list(pool.map(lambda _: call(), range(n)))
        return time.perf_counter() - started


def test_hubspot_sandbox_answers_concurrent_requests_in_about_one_latency():
    with HubSpotSandbox(port=0, burst_limit=190) as hs:
        described = hs.configure_faults(latency_ms=300, latency_p95_ms=450, seed=1)
        assert (described["latency_ms"], described["latency_p95_ms"]) == (300, 450)
        session = requests.Session()
        url = f"{hs.url}/crm/v3/objects/contacts"
        elapsed = _concurrently(16, lambda: session.get(url, headers=AUTH, timeout=10))
        # serialised, 16 waits would take >= 4.8 s; overlapped, about the slowest draw
        assert 0.2 < elapsed < 2.0, elapsed
        remaining = [int(r["count"]) for r in hs.stats()["requests"]]
        assert sum(remaining) == 17
        response = session.get(url, headers=AUTH, timeout=10)
        assert response.headers["X-HubSpot-RateLimit-Remaining"] == str(190 - 18)
        assert requests.post(f"{hs.url}/_sandbox/faults",
                             json={"latency_p95_ms": 100, "latency_ms": 200}).status_code == 400


def test_officernd_sandbox_has_the_same_latency_keys():
    with OfficeRnDSandbox(port=0, scale=20, rate_limit=0, token_rate_limit=0) as od:
        token = requests.post(f"{od.url}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": "sandbox-client",
            "client_secret": "sandbox-secret", "scope": "flex.community.members.read"},
            timeout=10).json()["access_token"]
        described = requests.post(f"{od.url}/_sandbox/faults", json={
            "latency_ms": 300, "latency_p95_ms": 450, "seed": 2}, timeout=10).json()
        assert (described["latency_ms"], described["latency_p95_ms"]) == (300, 450)
        session = requests.Session()
        url = f"{od.api_url}/members"
        headers = {"Authorization": f"Bearer {token}"}
        elapsed = _concurrently(12, lambda: session.get(url, headers=headers, timeout=10))
        assert 0.2 < elapsed < 2.0, elapsed
        started = time.perf_counter()
        requests.get(f"{od.url}/_sandbox/stats", timeout=10)
        assert time.perf_counter() - started < 0.2  # control routes never wait
        assert od.configure_faults(latency_ms=0)["latency_ms"] == 0
        od.reset()
        assert od.faults.describe()["latency_p95_ms"] is None

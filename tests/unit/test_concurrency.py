"""The HubSpot client's requests in flight: the portal budget (fake clock), the bounded
dispatcher, and the hook sending chunks concurrently against an in-memory HubSpot that
takes a little time per answer (no socket)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from hubspot_sync.hubspot_client import HubSpotError, HubSpotHook
from hubspot_sync.hubspot_client.budget import (
    EXPIRY_EPSILON,
    PortalBudget,
    budget_for,
    portal_key,
)
from hubspot_sync.hubspot_client.session import MAX_IN_FLIGHT_ENV, _resolve_in_flight
from hubspot_sync.transport import Backoff, dispatch
from tests.unit.fake_http import FakeHTTP

HOST = "http://hubspot.test"
LIMIT_HEADERS = {"X-HubSpot-RateLimit-Max": "20",
                 "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------- budget
def test_budget_hands_out_the_window_minus_headroom_then_waits_for_the_oldest():
    clock = Clock()
    budget = PortalBudget(clock)
    budget.observe(clock(), {**LIMIT_HEADERS, "X-HubSpot-RateLimit-Remaining": "20"})
    waits = []
    for _ in range(15):
        waits.append(budget.reserve(headroom=5)[0])
        clock.now += 0.1
    assert waits == [0.0] * 15  # 20 - 5 headroom
    wait, slot = budget.reserve(headroom=5)
    # the first send leaves the window (and a margin for a late arrival passes)
    assert slot == pytest.approx(100.0 + 10.0 + EXPIRY_EPSILON)
    assert wait == pytest.approx(slot - clock.now)
    # slots already promised count: the next one waits for the second send to leave
    assert budget.reserve(headroom=5)[1] == pytest.approx(100.1 + 10.0 + EXPIRY_EPSILON)


def test_budget_leaves_room_for_what_other_processes_used():
    clock = Clock()
    budget = PortalBudget(clock)
    slot = budget.reserve(headroom=2)[1]
    # HubSpot counted 10 of 20 in the window: ours is 1, so others sent 9
    budget.observe(slot, {**LIMIT_HEADERS, "X-HubSpot-RateLimit-Remaining": "10"})
    assert budget.learned and budget.max == 20
    # an older answer does not overwrite what a newer one said
    budget.observe(slot - 5, {**LIMIT_HEADERS, "X-HubSpot-RateLimit-Remaining": "20"})
    # others send: the headroom grows to 8, so 20 - 8 - 9 = 3 of ours fit in the window
    waits = [budget.reserve(headroom=2)[0] for _ in range(3)]
    assert waits[:2] == [0.0] * 2
    assert waits[2] == pytest.approx(10.0 + EXPIRY_EPSILON)  # our first send leaves
    # others filling the window: nothing until what they sent is a window old
    budget.observe(clock(), {**LIMIT_HEADERS, "X-HubSpot-RateLimit-Remaining": "0"})
    assert budget.reserve(headroom=2)[1] >= clock() + 10.0


def test_budget_registry_is_per_portal_and_never_keyed_by_the_token():
    token = f"pat-{uuid.uuid4()}"
    assert budget_for(HOST, token) is budget_for(HOST + "/", token)
    assert budget_for(HOST, token) is not budget_for(HOST, token + "x")
    assert token not in portal_key(HOST, token)


# ---------------------------------------------------------------------- dispatcher
def test_dispatch_bounds_the_calls_in_flight_and_keeps_input_order():
    running, peak, lock = [0], [0], threading.Lock()

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02 * (n % 3))
        with lock:
            running[0] -= 1
        return n * n

    seen: list[int] = []
    done = dispatch(work, range(20), 4, lambda i, _: seen.append(i))
    assert done.ordered() == [n * n for n in range(20)]
    assert 1 < peak[0] <= 4 and sorted(seen) == list(range(20))


def test_dispatch_stops_starting_items_after_a_failure_and_keeps_what_finished():
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 2:
            raise ValueError("chunk 2 refused")
        time.sleep(0.05)
        return n

    done = dispatch(work, range(50), 3, None)
    assert isinstance(done.error, ValueError) and done.failed_index == 2
    assert len(started) < 10  # nothing new after the failure
    assert set(done.results) == set(started) - {2}
    with pytest.raises(ValueError):
        done.ordered()


def test_nested_dispatch_runs_one_by_one():
    threads: set[str] = set()

    def inner(n: int) -> int:
        threads.add(threading.current_thread().name)
        return n

    def outer(n: int) -> list[int]:
        before = len(threads)
        out = dispatch(inner, range(3), 8, None).ordered()
        assert len(threads) <= before + 1
        return out

    assert dispatch(outer, range(2), 2, None).ordered() == [[0, 1, 2], [0, 1, 2]]


# ---------------------------------------------------------------------- the hook
class SlowHubSpot:
    """batch/upsert, batch/read and assoc create answering after ``delay`` seconds, with
    rate-limit headers; records the requests in flight."""

    def __init__(self, delay: float = 0.03, fail_chunk_with: str | None = None,
                 throttle_every: int = 0) -> None:
        self.delay = delay
        self.fail = fail_chunk_with
        self.throttle_every = throttle_every
        self.lock = threading.Lock()
        self.running = self.peak = self.answered = 0

    def __call__(self, method: str, path: str, query: dict, body: Any):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.answered += 1
            n = self.answered
        try:
            time.sleep(self.delay)
            headers = {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "150",
                       "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
            if self.throttle_every and n % self.throttle_every == 0:
                return 429, {**headers, "Retry-After": "0"}, {
                    "status": "error", "message": "You have reached your ten_secondly_rolling "
                    "limit.", "policyName": "TEN_SECONDLY_ROLLING"}
            inputs = body["inputs"]
            if self.fail and any(i.get("id") == self.fail for i in inputs):
                return 403, headers, {"status": "error", "category": "MISSING_SCOPES",
                                      "message": "no"}
            if path.endswith("/batch/read"):
                return 200, headers, {"results": [{"id": i["id"], "properties": {}}
                                                  for i in inputs]}
            return 200, headers, {"status": "COMPLETE", "results": [
                {"id": f"h{i['id']}", "properties": {"officernd_id": i["id"]},
                 "objectWriteTraceId": i["objectWriteTraceId"]} for i in inputs]}
        finally:
            with self.lock:
                self.running -= 1


def hook_on(server: SlowHubSpot, **kwargs: Any) -> tuple[HubSpotHook, FakeHTTP]:
    kwargs.setdefault("backoff", Backoff(initial=0.01, jitter=0))
    # a token of its own: the process-wide budget of this portal is this test's alone
    hook = HubSpotHook.from_url(HOST, f"pat-{uuid.uuid4()}", **kwargs)
    adapter = FakeHTTP(server)
    hook._get_session().mount(HOST, adapter)
    return hook, adapter


def _inputs(n: int) -> list[dict]:
    return [{"id": f"s{i}", "properties": {"firstname": f"n{i}"}} for i in range(n)]


def test_chunks_go_out_concurrently_and_every_input_is_accounted_for_in_order():
    server = SlowHubSpot()
    hook, adapter = hook_on(server, max_in_flight=5)
    started = time.perf_counter()
    outcome = hook.batch_upsert("contacts", _inputs(2000), "officernd_id")
    elapsed = time.perf_counter() - started
    assert hook.call_count == 20 == len(adapter.requests) == server.answered
    assert 1 < server.peak <= 5
    assert elapsed < 20 * server.delay  # overlapped, not one after another
    assert [r["objectWriteTraceId"] for r in outcome.results] == [f"s{i}" for i in range(2000)]
    assert outcome.errors == []
    assert hook.hubspot_seconds <= elapsed + 0.01
    records = hook.batch_read("contacts", [f"x{i}" for i in range(950)], ["email"])
    assert [r["id"] for r in records] == [f"x{i}" for i in range(950)]
    assert hook.call_count == 30


def test_counters_stay_exact_when_429s_come_back_concurrently():
    server = SlowHubSpot(delay=0.01, throttle_every=4)
    hook, _ = hook_on(server, max_in_flight=6)
    outcome = hook.batch_upsert("contacts", _inputs(1500), "officernd_id")
    assert len(outcome.results) == 1500
    assert hook.rate_limited == server.answered // 4
    assert hook.call_count == server.answered == 15 + hook.rate_limited
    assert hook.calls[("POST", "/crm/v3/objects/{objectType}/batch/upsert")] == server.answered


def test_a_chunk_refused_whole_stops_the_rest_and_carries_what_was_written():
    server = SlowHubSpot(fail_chunk_with="s450")
    hook, _ = hook_on(server, max_in_flight=3)
    with pytest.raises(HubSpotError) as info:
        hook.batch_upsert("contacts", _inputs(3000), "officernd_id")
    assert info.value.category == "MISSING_SCOPES"
    written = info.value.outcome.results
    assert hook.call_count < 30  # no chunk started after the failure
    assert len(written) == (hook.call_count - 1) * 100
    traces = [r["objectWriteTraceId"] for r in written]
    assert traces == sorted(traces, key=lambda t: int(t[1:]))  # input order


def test_max_in_flight_comes_from_argument_env_or_connection_extra(monkeypatch):
    monkeypatch.delenv(MAX_IN_FLIGHT_ENV, raising=False)
    assert _resolve_in_flight(None, None) == 16
    assert _resolve_in_flight(None, "4") == 4
    monkeypatch.setenv(MAX_IN_FLIGHT_ENV, "6")
    assert _resolve_in_flight(None, "4") == 6
    assert _resolve_in_flight(3, "4") == 3
    assert _resolve_in_flight(500, None) == 64
    monkeypatch.setenv(MAX_IN_FLIGHT_ENV, "zero")
    with pytest.raises(ValueError, match=MAX_IN_FLIGHT_ENV):
        _resolve_in_flight(None, None)
    monkeypatch.delenv(MAX_IN_FLIGHT_ENV)
    with pytest.raises(ValueError, match="at least 1"):
        _resolve_in_flight(None, "0")

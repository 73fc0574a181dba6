"""Unit tests of the shared retry loop and the cursor guard (fake sleep, no I/O)."""

from __future__ import annotations

import pytest
import requests

from hubspot_sync.paging import CursorGuard, RepeatedCursorError
from hubspot_sync.transport import (
    MAX_WAIT_ENV,
    Backoff,
    Retrier,
    Retry,
    TransportError,
    max_retry_wait,
)
from tests.unit.fake_http import Sleeps


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def test_run_retries_until_a_value_and_sleeps_between_attempts():
    sleeps = Sleeps()
    retrier = Retrier(4, Backoff(jitter=0), sleeps, max_wait=60)
    answers = [Retry(1.5, "HTTP 503", 503), Retry(2.0, "ConnectionError"), "done"]
    assert retrier.run(lambda n: answers[n - 1], "test") == "done"
    assert sleeps == [1.5, 2.0]


def test_out_of_attempts_returns_the_last_response_or_raises_network_error():
    retrier = Retrier(2, Backoff(jitter=0), Sleeps(), max_wait=60)
    last = _response(503)
    assert retrier.run(lambda n: Retry(0.1, "HTTP 503", 503, last), "t") is last
    with pytest.raises(TransportError) as info:
        retrier.run(lambda n: Retry(0.1, "ReadTimeout"), "HubSpot GET /x")
    assert info.value.category == "NETWORK_ERROR" and "after 2 attempts" in info.value.message


def test_a_wait_over_the_cap_raises_with_the_reason_instead_of_sleeping():
    sleeps = Sleeps()
    retrier = Retrier(6, Backoff(jitter=0), sleeps, max_wait=60)
    with pytest.raises(TransportError) as info:
        retrier.run(lambda n: Retry(3600, "HTTP 429", 429), "OfficeRnD GET /members")
    err = info.value
    assert (err.status, err.category) == (429, "RETRY_WAIT_TOO_LONG")
    assert "3600" in err.message and MAX_WAIT_ENV in err.message and "/members" in err.message
    assert sleeps == []


def test_attempt_classifies_responses_and_network_errors():
    retrier = Retrier(3, Backoff(initial=0.5, jitter=0), Sleeps(), max_wait=60)

    def down() -> requests.Response:
        raise requests.ConnectionError("refused")

    verdict = retrier.attempt(down, lambda r, n: None, 2)
    assert isinstance(verdict, Retry) and verdict.wait == 1.0 and verdict.status == 0
    ok = _response(200)
    assert retrier.attempt(lambda: ok, lambda r, n: 9.0, 1) is ok
    bad = _response(400)
    assert retrier.attempt(lambda: bad, lambda r, n: None, 1) is bad
    again = retrier.attempt(lambda: _response(502), lambda r, n: 4.0, 1)
    assert isinstance(again, Retry) and again.wait == 4.0 and again.status == 502


def test_max_wait_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(MAX_WAIT_ENV, raising=False)
    assert max_retry_wait() == 60.0
    monkeypatch.setenv(MAX_WAIT_ENV, "5")
    assert Retrier().max_wait == 5.0
    monkeypatch.setenv(MAX_WAIT_ENV, "soon")
    with pytest.raises(ValueError, match=MAX_WAIT_ENV):
        max_retry_wait()


def test_cursor_guard_names_the_endpoint_on_a_repeat():
    guard = CursorGuard("HubSpot GET /crm/v3/objects/contacts")
    assert guard.follow("a") == "a" and guard.follow("b") == "b"
    with pytest.raises(RepeatedCursorError, match="/crm/v3/objects/contacts.*'a'"):
        guard.follow("a")

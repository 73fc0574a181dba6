"""OfficeRnDSource against the OfficeRnD sandbox: windows agree with a scan, mutations are
found by the next window, one token serves many extracts, 401 and 429 are handled."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from hubspot_sync.mapping import SourceSpec
from hubspot_sync.sources import OfficeRnDSource, source_for
from hubspot_sync.sources.officernd import clear_token_cache
from hubspot_sync.transport import Backoff


def _source(sandbox, **kwargs) -> OfficeRnDSource:
    kwargs.setdefault("backoff", Backoff(initial=0.01, maximum=0.1))
    return OfficeRnDSource.from_url(sandbox.url, "sandbox-client", "sandbox-secret", "sandbox",
                                    **kwargs)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _token_calls(sandbox) -> int:
    stats = sandbox.app.state.stats.snapshot()
    return sum(r["count"] for r in stats["requests"] if r["route"] == "/oauth/token")


@pytest.fixture(autouse=True)
def _fresh_tokens(tmp_path, monkeypatch):
    """No token from an earlier test: a fresh process cache and a fresh shared file."""
    monkeypatch.setenv("SYNC_TOKEN_CACHE_DIR", str(tmp_path / "tokens"))
    clear_token_cache()
    yield
    clear_token_cache()


def _extract_in_a_new_process(url: str, resource: str) -> int:
    source = OfficeRnDSource.from_url(url, "sandbox-client", "sandbox-secret", "sandbox",
                                      backoff=Backoff(initial=0.01, maximum=0.1))
    return len(list(source.extract(resource, None, None)))


def test_processes_of_one_machine_share_one_token(ornd_sandbox, tmp_path):
    """Six entity DAGs start at the same minute in six task processes: one token request,
    not six (the endpoint allows five a minute)."""
    import multiprocessing

    before = _token_calls(ornd_sandbox)
    resources = ["companies", "members", "plans", "resources", "contracts", "opportunities"]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        counts = pool.starmap(_extract_in_a_new_process,
                              [(ornd_sandbox.url, r) for r in resources])
    assert all(counts)
    assert _token_calls(ornd_sandbox) - before == 1
    shared = tmp_path / "tokens" / "officernd-tokens.json"
    assert oct(shared.stat().st_mode & 0o777) == "0o600"
    assert "sandbox-client" not in shared.read_text()  # keys are hashed


@pytest.mark.parametrize("resource", ["members", "companies", "contracts"])
def test_window_extract_agrees_with_a_scan(ornd_sandbox, resource):
    source = _source(ornd_sandbox)
    everything = list(source.extract(resource, None, None))
    stamps = sorted(_ts(r["modifiedAt"]) for r in everything)
    assert len(everything) > 50
    for since, until in [(stamps[10], stamps[len(stamps) // 2]),
                         (stamps[0], stamps[-1] + timedelta(milliseconds=1)),
                         (stamps[5], stamps[5])]:
        expected = {r["_id"] for r in everything if since <= _ts(r["modifiedAt"]) < until}
        got = [r["_id"] for r in source.extract(resource, since, until)]
        assert len(got) == len(set(got)) and set(got) == expected


def test_mutations_are_exactly_the_next_window(ornd_sandbox):
    source = _source(ornd_sandbox)
    ornd_sandbox.advance_clock(3 * 3600)
    since = ornd_sandbox.now()
    changed = ornd_sandbox.mutate(resource="members", update=12, create=4, delete=2, seed=5)
    ornd_sandbox.advance_clock(60)
    until = ornd_sandbox.now()
    got = {r["_id"] for r in source.extract("members", since, until)}
    assert got == set(changed["updated"]) | set(changed["created"])
    assert not got & set(changed["deleted"])
    assert list(source.extract("members", until, until + timedelta(hours=1))) == []


def test_plans_have_no_change_filter(ornd_sandbox):
    source = _source(ornd_sandbox)
    all_plans = list(source.extract("plans", None, None, changed_at=None))
    windowed = list(source.extract("plans", datetime(2000, 1, 1, tzinfo=UTC),
                                   datetime(2000, 1, 2, tzinfo=UTC), changed_at=None))
    assert all_plans and [p["_id"] for p in windowed] == [p["_id"] for p in all_plans]


def test_one_token_for_many_extracts_and_sources(ornd_sandbox):
    before = _token_calls(ornd_sandbox)
    for _ in range(3):
        source = _source(ornd_sandbox)
        for resource in ("members", "companies", "plans", "contracts"):
            assert list(source.extract(resource, None, None))
    assert _token_calls(ornd_sandbox) - before == 1


def test_expired_token_is_refreshed_once(ornd_sandbox):
    source = _source(ornd_sandbox)
    first = list(source.extract("companies", None, None))
    ornd_sandbox.expire_tokens()
    again = list(source.extract("companies", None, None))
    assert [c["_id"] for c in again] == [c["_id"] for c in first]
    assert source.calls[("POST", "/oauth/token")] == 2


def test_429_waits_for_retry_after(ornd_sandbox):
    waits: list[float] = []
    limits = ornd_sandbox.limits

    def sleep(seconds: float) -> None:  # stands in for the wait: the window frees at once
        waits.append(seconds)
        limits.clear()

    source = _source(ornd_sandbox, sleep=sleep)
    list(source.extract("plans", None, None))  # token taken before the limit bites
    limits.reads.set_limit(2)
    try:
        members = list(source.extract("members", None, None))
    finally:
        limits.reads.set_limit(400)
        limits.clear()
    assert len(members) == len(list(_source(ornd_sandbox).extract("members")))
    assert waits and all(w >= 1 for w in waits)


def test_get_many_by_id_and_by_scan(ornd_sandbox):
    members = list(_source(ornd_sandbox).extract("members"))
    ids = [m["_id"] for m in members]
    source = _source(ornd_sandbox)
    few = source.get_many("members", ids[:3] + ["0" * 24])
    assert set(few) == set(ids[:3]) and source.calls[("GET", "/members/{id}")] == 4
    assert source.get_many("members", ids[:3]) == few  # cached: no new calls
    assert source.calls[("GET", "/members/{id}")] == 4
    many = source.get_many("members", ids[:200])
    assert set(many) == set(ids[:200])
    assert source.calls[("GET", "/members")] == -(-len(ids) // 50)


def test_source_for_uses_the_airflow_connection(ornd_sandbox, monkeypatch):
    sb = ornd_sandbox
    monkeypatch.setenv("AIRFLOW_CONN_OFFICERND_DEFAULT", json.dumps({
        "conn_type": "http", "host": sb.url, "login": "sandbox-client",
        "password": "sandbox-secret",
        "extra": {"org_slug": "sandbox", "token_url": f"{sb.url}/oauth/token"}}))
    source = source_for(SourceSpec(system="officernd", resource="companies"))
    assert isinstance(source, OfficeRnDSource)
    assert len(list(source.extract("companies", None, None))) == len(
        list(_source(sb).extract("companies")))


def test_no_token_lock_is_held_while_waiting(tmp_path):
    """A 429 on the token endpoint waits outside both locks: another process (or thread)
    can take the shared token file while this one sleeps."""
    import fcntl

    from hubspot_sync.sources.officernd.authenticator import _TOKEN_LOCK
    from tests.unit.fake_http import FakeHTTP, scripted

    url = "http://officernd.test"
    replies = [(429, {"Retry-After": "2"}, {"message": "Too many requests"}),
               (200, {}, {"access_token": "tok", "expires_in": 3599}),
               (200, {}, {"results": [{"_id": "a"}], "cursorNext": None})]
    held: list[tuple[bool, bool]] = []
    shared = tmp_path / "tokens" / "officernd-tokens.json"

    def sleep(seconds: float) -> None:
        with open(shared, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
                file_free = True
            except BlockingIOError:
                file_free = False
        held.append((file_free, not _TOKEN_LOCK.locked()))

    source = OfficeRnDSource.from_url(url, "cid", "secret", "acme", sleep=sleep,
                                      token_cache_dir=tmp_path / "tokens")
    source.http._get_session().mount(url, FakeHTTP(scripted(replies)))
    assert [r["_id"] for r in source.extract("members")] == ["a"]
    assert held == [(True, True)]
    assert source.calls[("POST", "/oauth/token")] == 2


def test_the_shared_token_file_is_written_out_before_its_lock_is_released(tmp_path,
                                                                         monkeypatch):
    """The next process takes the lock and reads the file at once: a write still in this
    process's buffer when the lock goes is a token it cannot see (it fetches another)."""
    import fcntl

    from hubspot_sync.sources.officernd import authenticator

    shared = authenticator.SharedTokenFile(tmp_path)
    seen_at_unlock: list[str] = []
    real_flock = fcntl.flock

    def flock(handle, operation):
        if operation == fcntl.LOCK_UN:
            seen_at_unlock.append(shared.path.read_text())
        return real_flock(handle, operation)

    monkeypatch.setattr(authenticator.fcntl, "flock", flock)
    with shared.locked() as entries:
        entries["k"] = {"token": "t-1", "expires_at": time.time() + 3600}
    assert '"t-1"' in seen_at_unlock[-1]

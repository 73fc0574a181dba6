"""Unit tests of the sources on an in-memory scripted OfficeRnD (no socket, no file): token
caching, refresh, 429 / 5xx handling, cursor paging, window parameters, get_many strategy, the
factory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from hubspot_sync.mapping import SourceSpec
from hubspot_sync.paging import RepeatedCursorError
from hubspot_sync.sources import OfficeRnDSource, SourceError, SQLSource, source_for
from hubspot_sync.sources.base import iso_ms
from hubspot_sync.sources.officernd import clear_token_cache
from hubspot_sync.transport import Backoff
from tests.unit.fake_http import FakeHTTP, Sleeps

API = "/api/v2/organizations/acme"


class FakeOfficeRnD(FakeHTTP):
    """In-memory token endpoint + paged resources; ``script`` queues forced replies per path
    prefix. Mounted on a source's session: no socket."""

    url = "http://officernd.test"

    def __init__(self, records: dict[str, list[dict]]) -> None:
        super().__init__(self._handle)
        self.records = records
        self.script: list[tuple[str, int, dict, Any]] = []
        self.valid_tokens: set[str] = set()
        self.issued = 0

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = super().send(request, **kwargs)
        last = self.requests[-1]
        last["form"] = last["body"] or {}
        last["auth"] = last["headers"].get("Authorization")
        return response

    def _handle(self, method: str, path: str, query: dict, body: Any) -> tuple:
        for n, (prefix, status, headers, payload) in enumerate(self.script):
            if path.startswith(prefix):
                self.script.pop(n)
                return status, headers, payload
        if path == "/oauth/token":
            self.issued += 1
            token = f"tok{self.issued}"
            self.valid_tokens.add(token)
            return 200, {}, {"access_token": token, "token_type": "Bearer", "expires_in": 3599}
        auth = (self.requests[-1]["headers"].get("Authorization") or "").removeprefix("Bearer ")
        if auth not in self.valid_tokens:
            return 401, {}, {"message": "Invalid token"}
        rest = path.removeprefix(API + "/").split("/")
        rows = self.records.get(rest[0])
        if rows is None:
            return 404, {}, {"message": "not found"}
        if len(rest) == 2:
            match = [r for r in rows if r["_id"] == rest[1]]
            return (200, {}, match[0]) if match else (404, {}, {})
        lo, hi = query.get("modifiedAt[$gte]"), query.get("modifiedAt[$lt]")
        rows = [r for r in rows if (lo is None or r["modifiedAt"] >= lo)
                and (hi is None or r["modifiedAt"] < hi)]
        start = int(query.get("$cursorNext") or 0)
        limit = min(int(query.get("$limit", 50)), 50)
        page = rows[start:start + limit]
        nxt = str(start + limit) if start + limit < len(rows) else None
        return 200, {}, {"results": page, "cursorNext": nxt, "cursorPrev": None}


T0 = datetime(2025, 6, 1, tzinfo=UTC)


def _members(n: int) -> list[dict]:
    return [{"_id": f"{i:024x}", "name": f"M {i}", "modifiedAt": iso_ms(T0 + timedelta(hours=i))}
            for i in range(n)]


@pytest.fixture
def fake():
    clear_token_cache()
    server = FakeOfficeRnD({"members": _members(120), "plans": [{"_id": "p1"}, {"_id": "p2"}]})
    yield server
    clear_token_cache()


def _source(fake: FakeHTTP, **kwargs: Any) -> OfficeRnDSource:
    kwargs.setdefault("backoff", Backoff(initial=0.01, jitter=0))
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("token_cache_dir", None)  # no shared token file: no file I/O
    source = OfficeRnDSource.from_url(fake.url, "cid", "secret", "acme", **kwargs)
    source.http._get_session().mount(fake.url, fake)
    return source


def test_paging_follows_cursor_next_with_limit_50(fake):
    source = _source(fake)
    records = list(source.extract("members"))
    assert [r["_id"] for r in records] == [m["_id"] for m in fake.records["members"]]
    pages = [r for r in fake.requests if r["path"] == f"{API}/members"]
    assert [p["query"].get("$cursorNext") for p in pages] == [None, "50", "100"]
    assert all(p["query"]["$limit"] == "50" for p in pages)
    assert source.calls[("GET", "/members")] == 3


def test_window_parameters_are_iso_ms_utc(fake):
    source = _source(fake)
    since = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))  # 10:00 UTC
    got = list(source.extract("members", since, T0 + timedelta(hours=15, microseconds=1500)))
    assert [r["name"] for r in got] == [f"M {i}" for i in range(10, 16)]
    query = fake.requests[-1]["query"]
    assert query["modifiedAt[$gte]"] == "2025-06-01T10:00:00.000Z"
    assert query["modifiedAt[$lt]"] == "2025-06-01T15:00:00.001Z"


def test_no_change_field_means_no_filter(fake):
    source = _source(fake)
    assert len(list(source.extract("plans", T0, T0 + timedelta(days=1), changed_at=None))) == 2
    assert not any(k.startswith("modifiedAt") for k in fake.requests[-1]["query"])


def test_one_token_for_many_extracts_and_instances(fake):
    for _ in range(4):
        source = _source(fake)
        list(source.extract("members", T0, T0 + timedelta(hours=5)))
        list(source.extract("plans", changed_at=None))
    assert fake.count("/oauth/token") == 1
    form = fake.requests[0]["form"]
    assert form == {"grant_type": ["client_credentials"], "client_id": ["cid"],
                    "client_secret": ["secret"]}


def test_scopes_are_requested_when_configured(fake):
    source = _source(fake, scopes=["flex.community.members.read", "flex.billing.plans.read"])
    list(source.extract("plans", changed_at=None))
    assert fake.requests[0]["form"]["scope"] == [
        "flex.community.members.read flex.billing.plans.read"]


def test_401_refreshes_the_token_once(fake):
    source = _source(fake)
    list(source.extract("plans", changed_at=None))
    fake.valid_tokens.clear()  # the server forgot every token
    assert len(list(source.extract("plans", changed_at=None))) == 2
    assert fake.count("/oauth/token") == 2
    fake.script = [(f"{API}/plans", 401, {}, {"message": "Invalid token"})] * 3
    with pytest.raises(SourceError) as info:
        list(source.extract("plans", changed_at=None))
    assert info.value.status == 401 and fake.count("/oauth/token") == 3


def test_429_on_token_endpoint_and_reads_waits_retry_after(fake):
    fake.script = [("/oauth/token", 429, {"Retry-After": "7"}, {"message": "Too many"}),
                   (f"{API}/members", 429, {"Retry-After": "3"}, {"message": "Too many"})]
    sleeps = Sleeps()
    source = _source(fake, sleep=sleeps)
    assert len(list(source.extract("members"))) == 120
    assert sleeps == [7.0, 3.0]
    assert source.calls[("POST", "/oauth/token")] == 2


def test_5xx_and_connection_errors_are_retried(fake):
    fake.script = [(f"{API}/members", 502, {}, {}), (f"{API}/members", 503, {}, {})]
    sleeps = Sleeps()
    source = _source(fake, sleep=sleeps)
    assert len(list(source.extract("members"))) == 120
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]

    def network_down(method, path, query, body):
        raise requests.ConnectionError("connection refused")

    clear_token_cache()
    dead = _source(fake, max_attempts=2)
    dead.http._get_session().mount(fake.url, FakeHTTP(network_down))
    with pytest.raises(SourceError, match="NETWORK_ERROR"):
        list(dead.extract("members"))


def test_bad_credentials_fail_clearly(fake):
    fake.script = [("/oauth/token", 401, {}, {"error": "invalid_client",
                                              "error_description": "Client authentication failed"})]
    with pytest.raises(SourceError, match="Client authentication failed"):
        list(_source(fake).extract("members"))


def test_get_many_few_by_id_many_by_scan_and_cached(fake):
    source = _source(fake, get_many_threshold=5)
    ids = [m["_id"] for m in fake.records["members"]]
    few = source.get_many("members", [ids[0], ids[1], "f" * 24, ids[0]])
    assert list(few) == [ids[0], ids[1]]
    assert source.calls[("GET", "/members/{id}")] == 3
    many = source.get_many("members", ids[10:40])
    assert list(many) == ids[10:40] and source.calls[("GET", "/members")] == 3
    source.get_many("members", ids[:120] + ["nope"])  # scanned already: no new calls
    assert source.call_count == 1 + 3 + 3


def test_extract_fills_the_get_many_cache(fake):
    source = _source(fake)
    list(source.extract("members", T0, T0 + timedelta(hours=3)))
    before = source.call_count
    assert len(source.get_many("members", [f"{i:024x}" for i in range(3)])) == 3
    assert source.call_count == before


def test_source_for_builds_each_kind(monkeypatch):
    # The engine is created lazily: nothing is opened here.
    monkeypatch.setenv("AIRFLOW_CONN_SQL_SOURCE_DEFAULT", json.dumps(
        {"conn_type": "generic", "extra": {"url": "sqlite:///never-opened.db"}}))
    sql = source_for(SourceSpec(system="sql", table="members", id="member_id",
                                changed_at="updated_at"))
    assert isinstance(sql, SQLSource) and sql.id_column == "member_id"
    assert sql.changed_at == "updated_at" and sql.conn_id == "sql_source_default"
    rnd = source_for(SourceSpec(system="officernd", resource="members", conn_id="other"))
    assert isinstance(rnd, OfficeRnDSource) and rnd.conn_id == "other"


def test_officernd_connection_needs_org_slug(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OFFICERND_DEFAULT", json.dumps(
        {"conn_type": "http", "host": "http://127.0.0.1:9", "login": "a", "password": "b"}))
    with pytest.raises(SourceError, match="org_slug"):
        list(OfficeRnDSource(token_cache_dir=None).extract("members"))


def test_a_repeated_cursor_stops_with_the_endpoint(fake):
    fake.script = [(f"{API}/members", 200, {}, {"results": [{"_id": "a"}], "cursorNext": "c1"}),
                   (f"{API}/members", 200, {}, {"results": [{"_id": "b"}], "cursorNext": "c1"})]
    source = _source(fake)
    with pytest.raises(RepeatedCursorError, match="OfficeRnD GET /members.*c1"):
        list(source.extract("members"))
    assert source.calls[("GET", "/members")] == 2


def test_a_retry_after_over_the_cap_fails_instead_of_sleeping(fake):
    fake.script = [(f"{API}/members", 429, {"Retry-After": "3600"}, {"message": "Too many"})]
    sleeps = Sleeps()
    source = _source(fake, sleep=sleeps, max_wait=60)
    with pytest.raises(SourceError, match="RETRY_WAIT_TOO_LONG") as info:
        list(source.extract("members"))
    assert info.value.status == 429 and "3600" in str(info.value) and sleeps == []


def test_a_2xx_that_is_not_json_is_an_error(fake):
    fake.script = [(f"{API}/members", 200, {"Content-Type": "text/html"},
                    b"<html>maintenance</html>")]
    with pytest.raises(SourceError, match="not JSON"):
        list(_source(fake).extract("members"))

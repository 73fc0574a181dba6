"""Unit tests of HubSpotHook against an in-memory scripted HubSpot (no socket, no sandbox)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from hubspot_sync.hubspot_client import BatchOutcome, HubSpotError, HubSpotHook, RowError
from hubspot_sync.hubspot_client.budget import EXPIRY_EPSILON
from hubspot_sync.paging import RepeatedCursorError
from hubspot_sync.transport import Backoff, RollingLimiter
from tests.unit.fake_http import FakeHTTP, Handler, Sleeps, scripted

HOST = "http://hubspot.test"


@pytest.fixture
def serve():
    """``serve(handler)``: an in-memory HubSpot answering with ``handler``."""
    return FakeHTTP


def make_hook(server: FakeHTTP, **kwargs: Any) -> tuple[HubSpotHook, Sleeps]:
    sleeps = Sleeps()
    kwargs.setdefault("backoff", Backoff(initial=0.01, jitter=0))
    kwargs.setdefault("search_per_second", 0)
    hook = HubSpotHook.from_url(HOST, "pat-secret-token", sleep=sleeps, **kwargs)
    hook._get_session().mount(HOST, server)
    return hook, sleeps


# ---------------------------------------------------------------------- retries
def test_retries_5xx_then_succeeds_and_counts_every_request(serve):
    server = serve(scripted([(502, {}, {"message": "bad gateway"}), (503, {}, None)],
                            then=(200, {}, {"results": [{"id": "1"}]})))
    hook, sleeps = make_hook(server)
    assert hook.batch_read("contacts", ["1"], ["email"]) == [{"id": "1"}]
    assert hook.call_count == 3
    assert hook.calls[("POST", "/crm/v3/objects/{objectType}/batch/read")] == 3
    assert hook.write_call_count == 0  # batch/read is a read
    assert len(sleeps) == 2


def test_gives_up_after_max_attempts_with_hubspot_error(serve):
    server = serve(scripted([], then=(500, {"X-HubSpot-Correlation-Id": "c-1"},
                                      {"status": "error", "message": "boom",
                                       "category": "INTERNAL_ERROR"})))
    hook, sleeps = make_hook(server, max_attempts=4)
    with pytest.raises(HubSpotError) as info:
        list(hook.list_objects("contacts", ["email"]))
    assert info.value.status == 500 and info.value.category == "INTERNAL_ERROR"
    assert info.value.correlation_id == "c-1"
    assert hook.call_count == 4 and len(sleeps) == 3
    # exponential growth of the waits
    assert sleeps == sorted(sleeps)


def test_429_ten_secondly_waits_for_the_window(serve):
    body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
    server = serve(scripted([(429, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, body),
                             (429, {"Retry-After": "3"}, body)],
                            then=(200, {}, {"results": []})))
    hook, sleeps = make_hook(server)
    assert list(hook.list_objects("contacts", [])) == []
    assert sleeps == [10.0, 3.0]


def test_429_daily_is_not_retried(serve):
    body = {"status": "error", "message": "You have reached your daily limit.",
            "errorType": "RATE_LIMIT", "policyName": "DAILY"}
    server = serve(scripted([], then=(429, {}, body)))
    hook, sleeps = make_hook(server)
    with pytest.raises(HubSpotError) as info:
        hook.batch_upsert("contacts", [{"id": "a@b.c", "properties": {}}], "email")
    assert info.value.category == "DAILY_LIMIT" and "daily" in str(info.value)
    assert hook.call_count == 1 and sleeps == []


def test_search_secondly_limit_waits_about_a_second(serve):
    body = {"status": "error", "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT"}
    server = serve(scripted([(429, {}, body)],
                            then=(200, {}, {"total": 1, "results": [{"id": "7"}]})))
    hook, sleeps = make_hook(server)
    assert [r["id"] for r in hook.search("contacts", [], ["email"])] == ["7"]
    assert sleeps == [1.0]


def test_423_and_477_waits(serve):
    server = serve(scripted([(423, {}, {"message": "locked"}), (477, {"Retry-After": "5"}, {})],
                            then=(200, {}, {"results": []})))
    hook, sleeps = make_hook(server)
    list(hook.list_objects("deals", []))
    assert sleeps[0] >= 2.0 and sleeps[1] == 5.0


def _network_down(method, path, query, body):
    raise requests.ConnectionError("connection refused")


def test_connection_errors_are_retried_then_raised(serve):
    hook, sleeps = make_hook(serve(_network_down), max_attempts=3)
    with pytest.raises(HubSpotError) as info:
        hook.get_properties("contacts")
    assert info.value.category == "NETWORK_ERROR"
    assert hook.call_count == 3 and len(sleeps) == 2


def test_timeouts_are_retried(serve):
    state = {"n": 0}

    def slow_then_ok(method, path, query, body):
        state["n"] += 1
        if state["n"] == 1:
            raise requests.ReadTimeout("read timed out")
        return 200, {}, {"results": [{"name": "email"}]}

    hook, sleeps = make_hook(serve(slow_then_ok))
    assert list(hook.get_properties("contacts")) == ["email"]
    assert hook.call_count == 2 and len(sleeps) == 1


def test_non_retryable_error_carries_category_and_never_the_token(serve):
    server = serve(scripted([], then=(403, {}, {
        "status": "error", "category": "MISSING_SCOPES", "correlationId": "xyz",
        "message": "This app hasn't been granted all required scopes to make this call."})))
    hook, sleeps = make_hook(server)
    with pytest.raises(HubSpotError) as info:
        hook.get_pipelines()
    err = info.value
    assert (err.status, err.category, err.correlation_id) == (403, "MISSING_SCOPES", "xyz")
    assert "pat-secret-token" not in str(err) and sleeps == []
    assert server.requests[0]["headers"]["Authorization"] == "Bearer pat-secret-token"


def test_paces_when_remaining_is_low(serve):
    server = serve(scripted([], then=(200, {"X-HubSpot-RateLimit-Remaining": "1",
                                            "X-HubSpot-RateLimit-Max": "190",
                                            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
                                      {"results": []})))
    hook, sleeps = make_hook(server, min_remaining=3)
    hook.get_properties("contacts")
    assert sleeps == []
    hook.get_properties("contacts")
    # at most a window, plus the budget's margin for a request that arrives late
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 10.0 + EXPIRY_EPSILON


# ---------------------------------------------------------------------- batch writes
def _upsert_server(bad_email: str | None = None, partial: bool = False) -> Handler:
    """batch/upsert that refuses inputs with email == bad_email: with partial=True as 207
    entries (like objectWriteTraceId enables), else the whole chunk with 400."""

    def handler(method, path, query, body):
        inputs = body["inputs"]
        bad = [i for i in inputs if i["properties"].get("email") == bad_email]
        good = [i for i in inputs if i not in bad]
        results = [{"id": str(1000 + int(i["id"].removeprefix("s"))), "new": True,
                    "properties": {"officernd_id": i["id"], **i["properties"]}} for i in good]
        if bad and not partial:
            return 400, {}, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": f"Property values were not valid: email {bad_email}"}
        if bad:
            errors = [{"status": "error", "category": "VALIDATION_ERROR",
                       "message": "INVALID_EMAIL",
                       "context": {"objectWriteTraceId": [i["objectWriteTraceId"]]}} for i in bad]
            return 207, {}, {"status": "COMPLETE", "results": results, "errors": errors,
                             "numErrors": len(errors)}
        return 200, {}, {"status": "COMPLETE", "results": results}

    return handler


def _inputs(n: int, bad: int | None = None) -> list[dict]:
    return [{"id": f"s{i}", "properties": {"email": "bad" if i == bad else f"u{i}@x.io"}}
            for i in range(n)]


def test_upsert_chunks_by_100_and_traces_results(serve):
    server = serve(_upsert_server())
    hook, _ = make_hook(server)
    outcome = hook.batch_upsert("contacts", _inputs(250), "officernd_id")
    assert isinstance(outcome, BatchOutcome) and outcome.errors == []
    assert len(outcome.results) == 250 and hook.write_call_count == 3
    # chunks go out concurrently: the server may see the last two in either order
    assert sorted(len(r["body"]["inputs"]) for r in server.requests) == [50, 100, 100]
    first = server.requests[0]["body"]["inputs"][0]
    assert first == {"id": "s0", "idProperty": "officernd_id", "objectWriteTraceId": "s0",
                     "properties": {"email": "u0@x.io"}}
    assert {r["objectWriteTraceId"] for r in outcome.results} == {f"s{i}" for i in range(250)}


def test_bisection_keeps_the_valid_inputs(serve):
    server = serve(_upsert_server(bad_email="bad"))
    hook, _ = make_hook(server)
    outcome = hook.batch_upsert("contacts", _inputs(16, bad=5), "officernd_id")
    assert len(outcome.results) == 15
    assert outcome.errors == [RowError("s5", "s5", "400", "VALIDATION_ERROR",
                                       "Property values were not valid: email bad", {})]
    # 1 whole + 2 halves + 2 quarters + 2 eighths + 2 singles = 9 calls, all counted
    assert hook.write_call_count == 9 == len(server.requests)


def test_bisection_reports_every_bad_input_with_trace_ids(serve):
    server = serve(_upsert_server(bad_email="bad"))
    hook, _ = make_hook(server)
    inputs = _inputs(6) + [{"id": "s9", "properties": {"email": "bad"}}]
    outcome = hook.batch_upsert("contacts", inputs, "officernd_id",
                                trace_ids=[f"t{i}" for i in range(7)])
    assert [e.trace_id for e in outcome.errors] == ["t6"]
    assert len(outcome.results) == 6


def test_207_errors_map_back_to_inputs(serve):
    server = serve(_upsert_server(bad_email="bad", partial=True))
    hook, _ = make_hook(server)
    inputs = _inputs(5, bad=2)
    inputs[2]["objectWriteTraceId"] = "member-2"
    outcome = hook.batch_upsert("contacts", inputs, "officernd_id")
    assert hook.write_call_count == 1 and len(outcome.results) == 4
    (error,) = outcome.errors
    assert (error.trace_id, error.input_id, error.status, error.category) == (
        "member-2", "s2", "207", "VALIDATION_ERROR")


def test_207_errors_map_by_ids_when_no_trace(serve):
    def handler(method, path, query, body):
        return 207, {}, {"status": "COMPLETE", "results": [], "errors": [
            {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found",
             "context": {"ids": ["11", "12"]}}]}

    server = serve(handler)
    hook, _ = make_hook(server)
    outcome = hook.batch_update("contacts", [
        {"id": "11", "properties": {"a": "1"}, "objectWriteTraceId": "m-11"},
        {"id": "12", "properties": {"a": "2"}}, {"id": "13", "properties": {}}])
    assert [(e.trace_id, e.input_id, e.category) for e in outcome.errors] == [
        ("m-11", "11", "OBJECT_NOT_FOUND"), ("12", "12", "OBJECT_NOT_FOUND"),
        ("13", "13", "MISSING_RESULT")]  # neither written nor refused: not a silent success


def test_non_bisectable_error_raises_with_partial_outcome(serve):
    server = serve(scripted([(200, {}, {"results": [{"id": "1"}]})],
                            then=(401, {}, {"category": "INVALID_AUTHENTICATION",
                                            "message": "Authentication credentials not found."})))
    hook, _ = make_hook(server)
    with pytest.raises(HubSpotError) as info:
        hook.batch_create("companies", [{"properties": {"name": str(i)}} for i in range(150)])
    assert info.value.status == 401 and len(info.value.outcome.results) == 1
    assert server.requests[0]["body"]["inputs"][7]["objectWriteTraceId"] == "7"


def test_batch_archive_chunks(serve):
    server = serve(scripted([], then=(204, {}, None)))
    hook, _ = make_hook(server)
    assert hook.batch_archive("deals", [str(i) for i in range(201)] + ["0"]) == 201
    assert hook.write_call_count == 3


# ---------------------------------------------------------------------- reads
def test_list_objects_follows_paging(serve):
    def handler(method, path, query, body):
        start = int(query.get("after", 0))
        results = [{"id": str(i)} for i in range(start, min(start + 100, 230))]
        paging = {"next": {"after": str(start + 100)}} if start + 100 < 230 else None
        return 200, {}, {"results": results, **({"paging": paging} if paging else {})}

    server = serve(handler)
    hook, _ = make_hook(server)
    ids = [r["id"] for r in hook.list_objects("companies", ["name", "domain"])]
    assert ids == [str(i) for i in range(230)]
    assert server.requests[0]["query"] == {"limit": "100", "archived": "false",
                                           "properties": "name,domain"}


def test_batch_read_by_email_adds_id_property_and_dedupes(serve):
    server = serve(scripted([], then=(207, {}, {"results": [{"id": "5"}], "errors": [
        {"category": "OBJECT_NOT_FOUND", "message": "x", "context": {"ids": ["b@x.io"]}}]})))
    hook, _ = make_hook(server)
    assert hook.batch_read("contacts", ["a@x.io", "b@x.io", "a@x.io"], ["firstname"],
                           id_property="email") == [{"id": "5"}]
    body = server.requests[0]["body"]
    assert body == {"inputs": [{"id": "a@x.io"}, {"id": "b@x.io"}],
                    "properties": ["firstname", "email"], "idProperty": "email"}


def _search_server(n: int) -> Handler:
    ids = list(range(1, n + 1))

    def handler(method, path, query, body):
        after = int(body.get("after") or 0)
        if after >= 10_000:
            return 400, {}, {"category": "VALIDATION_ERROR", "message": "past 10000"}
        matching = ids
        for group in body.get("filterGroups") or []:
            for f in group.get("filters", []):
                if f["propertyName"] == "hs_object_id" and f["operator"] == "GT":
                    matching = [i for i in matching if i > int(f["value"])]
        page = matching[after:after + body["limit"]]
        reply = {"total": len(matching), "results": [
            {"id": str(i), "properties": {"hs_object_id": str(i)}} for i in page]}
        if after + body["limit"] < len(matching):
            reply["paging"] = {"next": {"after": str(after + body["limit"])}}
        return 200, {}, reply

    return handler


def test_search_pages_normally_under_the_cap(serve):
    server = serve(_search_server(450))
    hook, _ = make_hook(server)
    got = [r["id"] for r in hook.search("contacts", [{"filters": []}], ["email"])]
    assert got == [str(i) for i in range(1, 451)] and hook.call_count == 3


def test_search_switches_to_keyset_past_10000(serve):
    server = serve(_search_server(10_450))
    hook, _ = make_hook(server)
    got = [r["id"] for r in hook.search(
        "contacts", [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
        ["email"])]
    assert len(got) == 10_450 and len(set(got)) == 10_450
    assert all(int(r["body"].get("after") or 0) < 10_000 for r in server.requests)
    assert hook.call_count == 53  # ceil(10450 / 200)
    last = server.requests[-1]["body"]["filterGroups"][0]["filters"]
    assert last[0]["operator"] == "HAS_PROPERTY" and last[1]["operator"] == "GT"


def test_search_paces_client_side(serve):
    server = serve(scripted([], then=(200, {}, {"total": 0, "results": []})))
    hook, _ = make_hook(server)
    now = [0.0]
    waits: list[float] = []

    def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    hook._search_limiter = RollingLimiter(2, 1.0, sleep=fake_sleep, clock=lambda: now[0])
    for _ in range(3):
        list(hook.search("deals", [], []))
    assert len(waits) == 1 and 0.9 < waits[0] <= 1.01 and hook.call_count == 3


# ---------------------------------------------------------------------- properties
def test_ensure_properties_creates_only_missing_with_group_first(serve):
    existing = {"email": {"name": "email", "type": "string", "hubspotDefined": True}}
    groups: set[str] = {"contactinformation"}

    def handler(method, path, query, body):
        if path.endswith("/groups"):
            if method == "POST":
                groups.add(body["name"])
                return 201, {}, body
            return 200, {}, {"results": [{"name": g} for g in sorted(groups)]}
        if method == "POST":
            existing[body["name"]] = body
            return 201, {}, body
        return 200, {}, {"results": list(existing.values())}

    server = serve(handler)
    hook, _ = make_hook(server)
    defs = [{"name": "email", "label": "Mine", "type": "number", "fieldType": "number",
             "groupName": "officernd"},
            {"name": "officernd_id", "label": "OfficeRnD id", "type": "string",
             "fieldType": "text", "groupName": "officernd", "hasUniqueValue": True}]
    assert hook.ensure_properties("contacts", defs) == ["officernd_id"]
    posts = [(r["path"], r["body"]["name"]) for r in server.requests if r["method"] == "POST"]
    assert posts == [("/crm/v3/properties/contacts/groups", "officernd"),
                     ("/crm/v3/properties/contacts", "officernd_id")]
    assert existing["email"] == {"name": "email", "type": "string", "hubspotDefined": True}
    assert hook.ensure_properties("contacts", defs) == []
    assert not any(r["method"] in ("PATCH", "DELETE") for r in server.requests)


# ---------------------------------------------------------------------- associations
def test_associate_and_read_with_paging(serve):
    def handler(method, path, query, body):
        if path.endswith("/batch/create"):
            return 201, {}, {"status": "COMPLETE", "results": [
                {"fromObjectId": i["from"]["id"], "toObjectId": i["to"]["id"]}
                for i in body["inputs"]]}
        results = []
        for i in body["inputs"]:
            if i["id"] == "1" and "after" not in i:
                results.append({"from": {"id": "1"}, "to": [
                    {"toObjectId": 10, "associationTypes": [{"typeId": 279}]},
                    {"toObjectId": 10, "associationTypes": [{"typeId": 1}]}],
                    "paging": {"next": {"after": "p2"}}})
            elif i["id"] == "1":
                results.append({"from": {"id": "1"}, "to": [{"toObjectId": 11}]})
            elif i["id"] == "2":
                results.append({"from": {"id": "2"}, "to": [{"toObjectId": 20}]})
        return 200, {}, {"results": results}

    server = serve(handler)
    hook, _ = make_hook(server)
    outcome = hook.associate("contacts", "companies", [("1", "10"), ("2", "20"), ("1", "10")], 279)
    assert len(outcome.results) == 2 and outcome.errors == []
    assert server.requests[0]["body"]["inputs"][0]["types"] == [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]
    assert hook.read_associations("contacts", "companies", ["1", "2", "3"]) == {
        "1": ["10", "11"], "2": ["20"], "3": []}
    assert server.requests[-1]["body"] == {"inputs": [{"id": "1", "after": "p2"}]}
    assert hook.write_call_count == 1


def test_associate_bisects_and_archive_groups_by_from(serve):
    def handler(method, path, query, body):
        if path.endswith("/batch/archive"):
            return 204, {}, None
        if any(i["to"]["id"] == "404" for i in body["inputs"]):
            return 400, {}, {"category": "VALIDATION_ERROR", "message": "no such company"}
        return 201, {}, {"results": [{"fromObjectId": i["from"]["id"]} for i in body["inputs"]]}

    server = serve(handler)
    hook, _ = make_hook(server)
    outcome = hook.associate("contacts", "companies", [("1", "10"), ("2", "404"), ("3", "30")], 1)
    assert len(outcome.results) == 2
    assert [(e.trace_id, e.category) for e in outcome.errors] == [("2:404", "VALIDATION_ERROR")]
    hook.archive_associations("contacts", "companies", [("1", "10"), ("1", "11"), ("2", "20")])
    assert server.requests[-1]["body"] == {"inputs": [
        {"from": {"id": "1"}, "to": [{"id": "10"}, {"id": "11"}]},
        {"from": {"id": "2"}, "to": [{"id": "20"}]}]}


# ---------------------------------------------------------------------- Airflow connection
def test_uses_the_airflow_connection(serve, monkeypatch):
    server = serve(scripted([], then=(200, {}, {"results": [{"id": "p1", "stages": []}]})))
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(
        {"conn_type": "http", "host": HOST, "password": "sandbox-token"}))
    hook = HubSpotHook()
    hook._get_session().mount(HOST, server)
    assert hook.get_pipelines() == [{"id": "p1", "stages": []}]
    request = server.requests[0]
    assert request["path"] == "/crm/v3/pipelines/deals"
    assert request["headers"]["Authorization"] == "Bearer sandbox-token"
    assert HubSpotHook.conn_name_attr == "hubspot_conn_id"
    assert HubSpotHook.default_conn_name == "hubspot_default"


def test_duplicate_ids_in_one_call_are_reported_not_sent(serve):
    server = serve(_upsert_server())
    hook, _ = make_hook(server)
    inputs = _inputs(3) + [{"id": "s1", "properties": {"email": "again@x.io"}}]
    outcome = hook.batch_upsert("contacts", inputs, "officernd_id",
                                trace_ids=["a", "b", "c", "d"])
    assert len(outcome.results) == 3 and hook.write_call_count == 1
    assert [(e.trace_id, e.input_id, e.category) for e in outcome.errors] == [
        ("d", "s1", "DUPLICATE_INPUT")]


def test_test_connection(serve):
    server = serve(scripted([], then=(200, {}, {"results": [{"name": "email"}]})))
    hook, _ = make_hook(server)
    assert hook.test_connection() == (True, "HubSpot answered: 1 contact properties")
    bad, _ = make_hook(serve(_network_down), max_attempts=1)
    ok, message = bad.test_connection()
    assert not ok and "NETWORK_ERROR" in message


# ---------------------------------------------------------------------- stop, don't spin
def test_list_paging_stops_on_a_repeated_cursor(serve):
    def handler(method, path, query, body):  # a broken server: page 2 points back to itself
        return 200, {}, {"results": [{"id": query.get("after", "0")}],
                         "paging": {"next": {"after": "p2"}}}

    hook, _ = make_hook(serve(handler))
    with pytest.raises(RepeatedCursorError, match="/crm/v3/objects/contacts.*p2"):
        list(hook.list_objects("contacts", []))
    assert hook.call_count == 2


def test_search_paging_stops_on_a_repeated_cursor(serve):
    server = serve(scripted([], then=(200, {}, {"total": 5, "results": [{"id": "1"}],
                                                "paging": {"next": {"after": "1"}}})))
    hook, _ = make_hook(server)
    with pytest.raises(RepeatedCursorError, match="/search"):
        list(hook.search("contacts", [], []))
    assert hook.call_count == 2


def test_association_paging_stops_on_a_repeated_cursor(serve):
    server = serve(scripted([], then=(200, {}, {"results": [
        {"from": {"id": "1"}, "to": [{"toObjectId": 9}], "paging": {"next": {"after": "x"}}}]})))
    hook, _ = make_hook(server)
    with pytest.raises(RepeatedCursorError, match="associations/contacts/companies"):
        hook.read_associations("contacts", "companies", ["1"])
    assert hook.call_count == 2


def test_a_retry_after_over_the_cap_fails_instead_of_sleeping(serve):
    server = serve(scripted([(477, {"Retry-After": "600"}, {"message": "migrating"})]))
    hook, sleeps = make_hook(server, max_wait=60)
    with pytest.raises(HubSpotError) as info:
        hook.get_properties("contacts")
    assert info.value.category == "RETRY_WAIT_TOO_LONG" and info.value.status == 477
    assert "600" in info.value.message and sleeps == [] and hook.call_count == 1


def test_the_cap_is_read_from_the_environment(serve, monkeypatch):
    monkeypatch.setenv("SYNC_MAX_RETRY_WAIT_SECONDS", "700")
    server = serve(scripted([(477, {"Retry-After": "600"}, {"message": "migrating"})]))
    hook, sleeps = make_hook(server)
    hook.get_properties("contacts")
    assert sleeps == [600.0]


def test_rate_limit_pacing_is_capped_too(serve):
    server = serve(scripted([], then=(200, {"X-HubSpot-RateLimit-Remaining": "0",
                                            "X-HubSpot-RateLimit-Interval-Milliseconds":
                                            "3600000"}, {"results": []})))
    hook, sleeps = make_hook(server, max_wait=60)
    hook.get_properties("contacts")
    with pytest.raises(HubSpotError) as info:
        hook.get_properties("contacts")
    assert info.value.category == "RETRY_WAIT_TOO_LONG" and sleeps == []


# ---------------------------------------------------------------------- batch-level refusals
NON_UNIQUE = {"status": "error", "category": "VALIDATION_ERROR",
              "message": "Unable to perform update/upsert by non-unique 0-1 property "
                         "officernd_id in portal ID 123"}
NO_PROPERTY = {"status": "error", "category": "VALIDATION_ERROR",
               "message": 'Property values were not valid: [{"isValid":false,"message":'
                          '"Property \\"officernd_idd\\" does not exist","error":'
                          '"PROPERTY_DOESNT_EXIST","name":"officernd_idd"}]'}


@pytest.mark.parametrize("body", [NON_UNIQUE, NO_PROPERTY], ids=["non_unique", "no_property"])
def test_a_batch_level_400_fails_fast_instead_of_bisecting(serve, body):
    server = serve(scripted([], then=(400, {}, body)))
    hook, _ = make_hook(server)
    with pytest.raises(HubSpotError) as info:
        hook.batch_upsert("contacts", _inputs(100), "officernd_id")
    err = info.value
    assert err.status == 400 and err.category == "VALIDATION_ERROR"
    assert body["message"] in err.message and "whole batch" in err.message
    assert err.outcome is not None and err.outcome.results == []
    assert hook.write_call_count == 1  # bisecting would have sent 199 calls


def test_a_record_level_400_is_still_bisected(serve):
    server = serve(_upsert_server(bad_email="bad"))
    hook, _ = make_hook(server)
    outcome = hook.batch_upsert("contacts", _inputs(100, bad=37), "officernd_id")
    assert len(outcome.results) == 99 and [e.trace_id for e in outcome.errors] == ["s37"]
    # 100 -> 50 -> 25 -> 13 -> 7 -> 3 -> 1: six bisections, two calls each, plus the first
    assert hook.write_call_count == 1 + 2 * 6


# ---------------------------------------------------------------------- every input accounted
def _accounted(outcome: BatchOutcome, n: int) -> bool:
    traces = [r.get("objectWriteTraceId") for r in outcome.results] + \
        [e.trace_id for e in outcome.errors]
    return len(traces) == n == len(set(traces))


@pytest.mark.parametrize("payload", [
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b'{"status": "COMPLETE", "results": [{"id": "1", "proper',
    b"", b'"ok"'], ids=["html", "truncated", "empty", "not_a_batch"])
def test_a_2xx_without_the_expected_json_fails_every_input_unretried(serve, payload):
    server = serve(scripted([], then=(200, {"Content-Type": "text/html"}, payload)))
    hook, sleeps = make_hook(server)
    outcome = hook.batch_upsert("contacts", _inputs(30), "officernd_id")
    assert outcome.results == [] and _accounted(outcome, 30)
    assert {e.category for e in outcome.errors} == {"INVALID_RESPONSE"}
    assert "may have been applied" in outcome.errors[0].message
    assert hook.write_call_count == 1 and sleeps == []  # never retried blindly


def test_inputs_missing_from_the_results_are_errors(serve):
    def handler(method, path, query, body):
        results = [{"id": str(1000 + n), "objectWriteTraceId": i["objectWriteTraceId"],
                    "properties": {}} for n, i in enumerate(body["inputs"]) if n % 10]
        return 200, {}, {"status": "COMPLETE", "results": results}

    hook, _ = make_hook(serve(handler))
    outcome = hook.batch_upsert("contacts", _inputs(50), "officernd_id")
    assert len(outcome.results) == 45 and _accounted(outcome, 50)
    assert [(e.trace_id, e.category) for e in outcome.errors] == [
        (f"s{i}", "MISSING_RESULT") for i in range(0, 50, 10)]


def test_association_pairs_missing_from_the_results_are_errors(serve):
    def handler(method, path, query, body):
        first = body["inputs"][0]
        return 201, {}, {"status": "COMPLETE", "results": [
            {"fromObjectId": first["from"]["id"], "toObjectId": first["to"]["id"]}]}

    hook, _ = make_hook(serve(handler))
    outcome = hook.associate("contacts", "companies", [("1", "10"), ("2", "20")], 279)
    assert len(outcome.results) == 1
    assert [(e.input_id, e.category) for e in outcome.errors] == [("2:20", "MISSING_RESULT")]

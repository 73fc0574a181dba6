"""The pure-Python state: query parsing, cursors in both directions, filters, errors."""

from __future__ import annotations

import pytest

from sandbox.officernd.errors import ApiError
from sandbox.officernd.paging import parse_limit
from sandbox.officernd.query import parse_sort
from sandbox.officernd.state import State
from tests.sandbox.officernd.conftest import ANCHOR


@pytest.fixture(scope="module")
def state():
    return State(seed=21, scale=400, anchor=ANCHOR)


@pytest.mark.parametrize(("raw", "field", "desc"), [
    ("name", "name", False), ("-name", "name", True), ("name:desc", "name", True),
    ("name asc", "name", False), ('{"modifiedAt": -1}', "modifiedAt", True),
    ('{"email": "asc"}', "email", False), ("-_id", "_id", True),
])
def test_parse_sort(raw, field, desc):
    s = parse_sort(raw)
    assert (s.field, s.desc) == (field, desc)


def test_parse_sort_default_and_errors():
    assert parse_sort("") is None and parse_sort("_id") is None
    for bad in ("phone", '{"a": 1, "b": 1}', "{nope"):
        with pytest.raises(ApiError) as e:
            parse_sort(bad)
        assert e.value.status == 400


def test_parse_limit():
    assert parse_limit(None) == 50 and parse_limit("500") == 50 and parse_limit("3") == 3
    for bad in ("0", "-1", "x"):
        with pytest.raises(ApiError):
            parse_limit(bad)


def _walk(state, resource, params, direction="n"):
    page = state.list(resource, dict(params))
    out = [page]
    while page["cursorNext"]:
        page = state.list(resource, {**params, "$cursorNext": page["cursorNext"]})
        out.append(page)
    return out


@pytest.mark.parametrize("sort", [None, "name", "-modifiedAt", "-_id"])
def test_forward_then_backward_is_symmetric(state, sort):
    params = {"$limit": "7"} | ({"$sort": sort} if sort else {})
    pages = _walk(state, "companies", params)
    forward = [r["_id"] for p in pages for r in p["results"]]
    assert len(forward) == len(set(forward)) == len(state.records("companies"))
    back = []
    page = pages[-1]
    back.append(page)
    while page["cursorPrev"]:
        page = state.list("companies", {**params, "$cursorPrev": page["cursorPrev"]})
        back.append(page)
    assert [p["results"] for p in reversed(back)] == [p["results"] for p in pages]
    assert back[-1]["rangeStart"] == 1


def test_filters(state):
    opps = state.records("opportunities")
    big = state.count("opportunities", {"dealSize[$gte]": "10000"})["total"]
    assert big == sum(1 for o in opps if o["dealSize"] >= 10000)
    not_active = state.count("members", {"status[$nin]": "active,former"})["total"]
    assert not_active == sum(1 for m in state.records("members")
                             if m["status"] not in ("active", "former"))
    assert state.count("members", {"status[$ne]": "active"})["total"] == sum(
        1 for m in state.records("members") if m["status"] != "active")
    no_company = state.count("members", {"company": "null"})["total"]
    assert no_company == sum(1 for m in state.records("members") if m["company"] is None)
    assert state.count("contracts", {"endDate": "null"})["total"] == sum(
        1 for c in state.records("contracts") if c["endDate"] is None)
    assert state.count("locations", {"isOpen": "true"})["total"] == sum(
        1 for loc in state.records("locations") if loc["isOpen"])
    assert state.count("members", {"unknownField": "x", "$foo": "1"})["total"] == 400
    with pytest.raises(ApiError):
        state.count("members", {"modifiedAt[$gte]": "yesterday"})
    with pytest.raises(ApiError):
        state.count("members", {"modifiedAt[$regex]": "x"})


def test_get_with_select_and_errors(state):
    m = state.records("members")[0]
    assert state.get("members", m["_id"], "name") == {"_id": m["_id"], "name": m["name"]}
    with pytest.raises(ApiError) as e:
        state.get("members", "0" * 24)
    assert e.value.status == 404
    with pytest.raises(ApiError) as e:
        state.list("floors", {})
    assert e.value.status == 404


def test_cursor_survives_deleting_its_own_record():
    s = State(seed=2, scale=100, anchor=ANCHOR)
    p1 = s.list("members", {"$limit": "10"})
    last = p1["results"][-1]["_id"]
    s.delete_record("members", last)
    p2 = s.list("members", {"$limit": "10", "$cursorNext": p1["cursorNext"]})
    ids = [r["_id"] for r in s.records("members")]
    assert [r["_id"] for r in p2["results"]] == ids[9:19]

"""Search rules on the pure-Python state."""

from __future__ import annotations

import time

import pytest

from sandbox.hubspot.state import HubSpotError, HubSpotState


def f(name, op, value=None, **kw):
    out = {"propertyName": name, "operator": op, **kw}
    if value is not None:
        out["value"] = value
    return out


def ids(result):
    return [r["id"] for r in result["results"]]


@pytest.fixture
def deals(state: HubSpotState):
    made = []
    for name, amount, stage, close in [
        ("Acme Corp renewal", "100", "closedwon", "2024-01-10T00:00:00Z"),
        ("AcmeTech upsell", "2500.5", "qualifiedtobuy", "2024-02-10T00:00:00Z"),
        ("Globex new desk", "900", "closedlost", "2024-03-10T00:00:00Z"),
        ("Initech", None, "contractsent", None),
    ]:
        props = {"dealname": name, "dealstage": stage}
        if amount:
            props["amount"] = amount
        if close:
            props["closedate"] = close
        made.append(state.create_object("deals", props)["id"])
    return made


def test_eq_is_case_insensitive_and_groups_or(state, deals):
    r = state.search("deals", {"filterGroups": [
        {"filters": [f("dealstage", "EQ", "CLOSEDWON")]},
        {"filters": [f("dealstage", "EQ", "closedlost")]}]})
    assert r["total"] == 2 and ids(r) == [deals[0], deals[2]]


def test_filters_in_a_group_are_anded(state, deals):
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("amount", "GT", "50"), f("amount", "LT", "1000")]}]})
    assert ids(r) == [deals[0], deals[2]]


def test_numeric_comparison_not_lexicographic(state, deals):
    r = state.search("deals", {"filterGroups": [{"filters": [f("amount", "GTE", "900")]}]})
    assert ids(r) == [deals[1], deals[2]]
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("amount", "BETWEEN", "100", highValue="900")]}]})
    assert ids(r) == [deals[0], deals[2]]


def test_datetime_comparison_accepts_epoch_and_iso(state, deals):
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("closedate", "GTE", "1706745600000")]}]})  # 2024-02-01
    assert ids(r) == [deals[1], deals[2]]
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("closedate", "LT", "2024-02-01T00:00:00Z")]}]})
    assert ids(r) == [deals[0]]


def test_hs_object_id_numeric(state, deals):
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("hs_object_id", "GT", deals[1])]}]})
    assert ids(r) == deals[2:]


def test_in_not_in_has_property(state, deals):
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("dealstage", "IN", values=["closedwon", "contractsent"])]}]})
    assert ids(r) == [deals[0], deals[3]]
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("dealstage", "NOT_IN", values=["closedwon", "contractsent"])]}]})
    assert ids(r) == [deals[1], deals[2]]
    r = state.search("deals", {"filterGroups": [{"filters": [f("amount", "NOT_HAS_PROPERTY")]}]})
    assert ids(r) == [deals[3]]
    r = state.search("deals", {"filterGroups": [{"filters": [f("amount", "HAS_PROPERTY")]}]})
    assert len(ids(r)) == 3
    r = state.search("deals", {"filterGroups": [{"filters": [f("dealstage", "NEQ", "closedwon")]}]})
    assert deals[0] not in ids(r) and len(ids(r)) == 3


def test_contains_token(state, deals):
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("dealname", "CONTAINS_TOKEN", "acme")]}]})
    assert ids(r) == [deals[0]]  # "AcmeTech" is another token
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("dealname", "CONTAINS_TOKEN", "acme*")]}]})
    assert ids(r) == [deals[0], deals[1]]
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("dealname", "NOT_CONTAINS_TOKEN", "acme")]}]})
    assert deals[0] not in ids(r)


def test_contains_token_wildcard_email(state):
    a = state.create_object("contacts", {"email": "x@hubspot.com"})
    state.create_object("contacts", {"email": "y@other.com"})
    r = state.search("contacts", {"filterGroups": [{"filters": [
        f("email", "CONTAINS_TOKEN", "*@hubspot.com")]}]})
    assert ids(r) == [a["id"]]


def test_sort_object_and_string_forms(state, deals):
    r = state.search("deals", {"sorts": [{"propertyName": "amount", "direction": "DESCENDING"}]})
    assert ids(r)[:3] == [deals[1], deals[2], deals[0]]
    assert ids(r)[3] == deals[3]  # no value sorts last
    r = state.search("deals", {"sorts": ["-amount"]})
    assert ids(r)[:3] == [deals[1], deals[2], deals[0]]
    r = state.search("deals", {"sorts": ["amount"]})
    assert ids(r)[:3] == [deals[0], deals[2], deals[1]]
    with pytest.raises(HubSpotError):
        state.search("deals", {"sorts": ["amount", "dealname"]})


def test_default_and_requested_properties(state, deals):
    r = state.search("deals", {})
    props = r["results"][0]["properties"]
    assert set(props) <= {"dealname", "amount", "closedate", "pipeline", "dealstage",
                          "hs_lastmodifieddate", "createdate", "hs_object_id"}
    assert "dealname" in props and "hs_object_id" in props
    r = state.search("deals", {"properties": ["dealname"]})
    assert "dealstage" not in r["results"][0]["properties"]


def test_limits_on_groups_and_filters(state):
    one = {"filters": [f("email", "HAS_PROPERTY")]}
    with pytest.raises(HubSpotError) as exc:
        state.search("contacts", {"filterGroups": [one] * 6})
    assert "max allowed: 5" in exc.value.message
    with pytest.raises(HubSpotError):
        state.search("contacts", {"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")] * 7}]})
    with pytest.raises(HubSpotError) as exc:
        state.search("contacts", {"filterGroups": [
            {"filters": [f("email", "HAS_PROPERTY")] * 6}] * 3 + [one]})
    assert "max allowed: 18" in exc.value.message
    state.search("contacts", {"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")] * 6}] * 3})
    with pytest.raises(HubSpotError):
        state.search("contacts", {"limit": 201})
    state.search("contacts", {"limit": 200})


def test_paging_offset_and_cap(state):
    state.seed("contacts", ({"email": f"c{i}@x.com"} for i in range(10_050)))
    r = state.search("contacts", {"limit": 200, "sorts": ["hs_object_id"]})
    assert r["total"] == 10_050 and r["paging"]["next"]["after"] == "200"
    r2 = state.search("contacts", {"limit": 200, "after": "200", "sorts": ["hs_object_id"]})
    assert int(r2["results"][0]["id"]) == int(r["results"][-1]["id"]) + 1
    last = state.search("contacts", {"limit": 100, "after": "9900"})
    assert len(last["results"]) == 100 and last["total"] == 10_050
    assert last["paging"]["next"]["after"] == "10000"
    with pytest.raises(HubSpotError) as exc:
        state.search("contacts", {"limit": 10, "after": "10000"})
    assert exc.value.status == 400
    # the documented workaround: window on hs_object_id
    window = state.search("contacts", {"limit": 200, "sorts": ["hs_object_id"],
                                       "filterGroups": [{"filters": [
                                           f("hs_object_id", "GT", last["results"][-1]["id"])]}]})
    assert window["total"] == 50


def test_archived_never_in_search(state):
    a = state.create_object("contacts", {"email": "a@x.com"})
    state.archive_object("contacts", a["id"])
    assert state.search("contacts", {})["total"] == 0


def test_query_text_search(state):
    a = state.create_object("contacts", {"email": "jane@acme.com", "firstname": "Jane"})
    state.create_object("contacts", {"email": "bob@other.com", "firstname": "Bob"})
    assert ids(state.search("contacts", {"query": "jan"})) == [a["id"]]


def test_search_index_lag():
    state = HubSpotState(search_lag_ms=150)
    rec = state.create_object("contacts", {"email": "lag@x.com", "firstname": "Old"})
    query = {"filterGroups": [{"filters": [f("email", "EQ", "lag@x.com")]}],
             "properties": ["firstname"]}
    assert state.search("contacts", query)["total"] == 0  # not indexed yet
    time.sleep(0.2)
    assert state.search("contacts", query)["total"] == 1
    state.update_object("contacts", rec["id"], {"firstname": "New"})
    r = state.search("contacts", query)
    assert r["results"][0]["properties"]["firstname"] == "Old"  # stale view
    # reads by id are consistent at once
    assert state.get_object("contacts", rec["id"], properties=["firstname"])[
        "properties"]["firstname"] == "New"
    time.sleep(0.2)
    assert state.search("contacts", query)["results"][0]["properties"]["firstname"] == "New"
    state.archive_object("contacts", rec["id"])
    assert state.search("contacts", query)["total"] == 1  # archive not yet visible
    time.sleep(0.2)
    assert state.search("contacts", query)["total"] == 0


def test_date_property_filters_compare_as_dates(state):
    state.create_property("deals", {"name": "start_on", "label": "Start", "type": "date",
                                    "fieldType": "date", "groupName": "dealinformation"})
    early = state.create_object("deals", {"dealname": "e", "start_on": "2024-01-05"})["id"]
    late = state.create_object("deals", {"dealname": "l", "start_on": "2024-11-20"})["id"]
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("start_on", "GTE", "2024-06-01")]}]})
    assert ids(r) == [late]
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("start_on", "LT", "1717200000000")]}]})  # 2024-06-01 in epoch ms
    assert ids(r) == [early]
    r = state.search("deals", {"filterGroups": [{"filters": [
        f("start_on", "EQ", "2024-01-05")]}]})
    assert ids(r) == [early]
    r = state.search("deals", {"sorts": [{"propertyName": "start_on",
                                          "direction": "DESCENDING"}]})
    assert ids(r) == [late, early]

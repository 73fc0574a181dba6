"""Shared match keys (issue #9): HubSpot does not deduplicate companies by domain, so
adoption by domain gives one HubSpot company to one source company; the others are created
with a warning, never a conflict. A contact's email (unique in HubSpot) stays a conflict."""

from __future__ import annotations

import pandas as pd

from hubspot_sync.steps.delta_frame import compute_delta
from hubspot_sync.steps.hubspot_side import (
    adopt_shared,
    key_groups,
    match_key_values,
    unique_match_keys,
)

from .conftest import mapping, rec


def companies(**overrides: object):
    return mapping(entity="companies", filter={}, associations=[],
                   hubspot={"object": "companies", "match_on": ["domain"]},
                   properties=[{"from": "name", "to": "name"}, {"from": "url", "to": "domain"}],
                   **overrides)


def ids(sid: str) -> str:
    return sid


def test_only_keys_hubspot_keeps_unique_make_conflicts() -> None:
    assert unique_match_keys(mapping(), {}) == {"email"}
    assert unique_match_keys(companies(), {}) == set()
    assert unique_match_keys(companies(), {"domain": {"hasUniqueValue": True}}) == {"domain"}


def test_key_groups_keep_every_record_with_a_value_in_order() -> None:
    candidates = [("a", {"domain": "X.io "}), ("b", {"domain": "x.io"}), ("c", {}),
                  ("d", {"domain": "y.io"})]
    assert key_groups(candidates, "domain") == {"x.io": ["a", "b"], "y.io": ["d"]}
    assert match_key_values(candidates, "domain") == {"x.io": "a", "y.io": "d"}


def test_one_hubspot_company_for_one_source_company_the_others_are_warned() -> None:
    found: dict = {}
    warnings = adopt_shared([rec("7", domain="x.io")], "domain", {"x.io": ["a", "b", "c"]},
                            found, "officernd_id", ids, "companies")
    assert list(found) == ["a"] and found["a"][:2] == ("7", "domain")
    assert set(warnings) == {"b", "c"}
    assert warnings["b"] == ("domain 'x.io' is shared: HubSpot companies 7 was adopted by a; "
                             "this record is created as a separate record (HubSpot does not "
                             "deduplicate companies by domain)")


def test_a_company_synced_from_another_record_is_never_adopted_nor_a_conflict() -> None:
    found: dict = {}
    warnings = adopt_shared([rec("7", domain="x.io", officernd_id="old")], "domain",
                            {"x.io": ["b"]}, found, "officernd_id", ids, "companies")
    assert found == {}
    assert warnings == {"b": "domain 'x.io' is shared: HubSpot companies 7 is synced from old; "
                             "this record is created as a separate record (HubSpot does not "
                             "deduplicate companies by domain)"}


def test_a_company_carrying_a_candidates_own_id_goes_to_that_candidate() -> None:
    found: dict = {}
    warnings = adopt_shared([rec("7", domain="x.io", officernd_id="b"), rec("8", domain="x.io")],
                            "domain", {"x.io": ["a", "b"]}, found, "officernd_id", ids,
                            "companies")
    assert {sid: hit[0] for sid, hit in found.items()} == {"b": "7", "a": "8"}
    assert warnings == {}


def test_no_hubspot_company_with_the_domain_is_no_ambiguity() -> None:
    found: dict = {"a": ("1", "officernd_id", {})}
    assert adopt_shared([], "domain", {"x.io": ["a", "b"]}, found, "officernd_id", ids,
                        "companies") == {}
    assert list(found) == ["a"]


def test_the_warning_is_the_reason_of_the_create_not_a_conflict() -> None:
    m = companies()
    source = pd.DataFrame([
        {"source_id": "a", "properties": {"name": "A", "domain": "x.io"}, "skip_reason": None,
         "changed_at": None},
        {"source_id": "b", "properties": {"name": "B", "domain": "x.io"}, "skip_reason": None,
         "changed_at": None}])
    hubspot = pd.DataFrame([{"source_id": "a", "hubspot_id": "7", "matched_by": "domain",
                             "properties": {"domain": "x.io"}}])
    frame = compute_delta(source, hubspot, m, {}, warnings={"b": "domain 'x.io' is shared"})
    rows = {r["source_id"]: r for r in frame.to_dict("records")}
    assert rows["a"]["action"] == "update" and pd.isna(rows["a"]["reason"])
    assert (rows["b"]["action"], rows["b"]["reason"]) == ("create", "domain 'x.io' is shared")
    assert "conflict" not in set(frame["action"])


def test_an_email_owned_by_another_member_stays_a_conflict() -> None:
    source = pd.DataFrame([{"source_id": "m2", "properties": {"email": "a@x.io"},
                            "skip_reason": None, "changed_at": None}])
    hubspot = pd.DataFrame([{"source_id": "m2", "hubspot_id": "7", "matched_by": "email",
                             "properties": {"email": "a@x.io", "officernd_id": "m1"}}])
    frame = compute_delta(source, hubspot, mapping(), {}, owner_of={"7": "m1"})
    assert list(frame["action"]) == ["conflict"]
    assert frame["reason"][0] == ("email 'a@x.io' belongs to HubSpot contacts 7, already synced "
                                  "from m1")

"""Reject bookkeeping: the rejects each step records and the resolution rules."""

from __future__ import annotations

from hubspot_sync.steps.context import EntityRun
from hubspot_sync.steps.rejects import (
    LOAD_RULES,
    REVERSE_RULES,
    match_conflict_rejects,
    parent_not_synced_rejects,
    record_checked,
    refused_rejects,
    resolve_written,
)

from .conftest import FakeWarehouse, mapping


def test_builders_say_why() -> None:
    (conflict,) = match_conflict_rejects("email", [{"source_id": "m1", "after": {"email": "a@b"},
                                                    "reason": "belongs to 9"}])
    assert (conflict["rule"], conflict["value"], conflict["reason"]) == \
        ("match_conflict", "a@b", "belongs to 9")
    (refused,) = refused_rejects([{"source_id": "m2", "category": "INVALID_EMAIL",
                                   "message": "nope", "status": "failed"}])
    assert refused["reason"] == "HubSpot refused the write (INVALID_EMAIL): nope"
    assert (refused["rule"], refused["source"]) == ("hubspot_refused", "hubspot")
    held = parent_not_synced_rejects("contracts", {"i2", "i1"}, {"i1": "c1", "i2": "c2"})
    assert [(r["source_id"], r["value"]) for r in held] == [("i1", "c1"), ("i2", "c2")]
    assert held[0]["reason"].startswith("its contracts record c1 is not in HubSpot")


def test_validation_resolves_what_it_checked_except_loads_rules_and_recurring_ones() -> None:
    warehouse = FakeWarehouse()
    run = EntityRun(mapping=mapping(), run_id="r", _warehouse=warehouse)  # type: ignore[arg-type]
    rejects = [{"source_id": "m1", "rule": "email", "property": "email", "value": "x",
                "reason": "bad", "source": "validation"}]
    record_checked(run, rejects, {"m1", "m2"})
    (record, resolve) = warehouse.calls
    assert record[0] == "record_rejects" and record[1][2] == rejects
    assert resolve[0] == "resolve_rejects" and resolve[1][2] == {"m1", "m2"}
    # Two-way's rejects are only resolved by a write to OfficeRnD (write_officernd).
    assert resolve[2] == {"keep_rules": (*LOAD_RULES, *REVERSE_RULES),
                          "still_failing": [("m1", "email", "email")]}


def test_nothing_checked_nothing_written_touches_nothing() -> None:
    warehouse = FakeWarehouse()
    run = EntityRun(mapping=mapping(), run_id="r", _warehouse=warehouse)  # type: ignore[arg-type]
    record_checked(run, [], set())
    resolve_written(run, [])
    assert warehouse.calls == []
    resolve_written(run, ["m1"])
    assert warehouse.calls == [("resolve_rejects", ("members", "r", ["m1"]),
                                {"keep_rules": REVERSE_RULES})]


def test_released_keys_are_the_values_written_updates_moved_away_from() -> None:
    from hubspot_sync.steps.rejects import released_keys

    updates = [({"email": "a@x.io", "domain": "x.io"}, {"email": "b@x.io", "domain": "x.io"}),
               ({"email": None}, {"email": "c@x.io"}),      # nothing was held before
               ({"email": "  "}, {"email": "d@x.io"}),      # a blank value holds nothing
               ({"email": "e@x.io"}, {"email": "e@x.io"})]  # unchanged
    assert released_keys(["email", "domain"], updates) == {"email": {"a@x.io"},
                                                           "domain": set()}


def test_a_lost_answer_is_not_called_a_refusal() -> None:
    from hubspot_sync.steps.rejects import refused_rejects

    [lost] = refused_rejects([{"source_id": "m1", "hubspot_id": None, "action": "create",
                               "status": "failed", "category": "INVALID_RESPONSE",
                               "message": "not JSON"}])
    assert lost["rule"] == "hubspot_refused" and lost["category"] == "INVALID_RESPONSE"
    assert "may have been applied" in lost["reason"] and "refused" not in lost["reason"]

"""load's outcome accounting and the children's hold-back."""

from __future__ import annotations

from types import SimpleNamespace

from hubspot_sync.steps.load import (
    failures,
    load_counts,
    orphaned_children,
    update_outcomes,
    upsert_outcomes,
    written,
)


def error(trace: str | None, input_id: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(trace_id=trace, input_id=input_id, category="VALIDATION_ERROR",
                           message="bad")


def test_upsert_outcomes_use_hubspots_new_flag_then_the_delta() -> None:
    results = [{"id": "1", "new": True, "properties": {"officernd_id": "p:a"}},
               {"id": "2", "new": False, "properties": {"officernd_id": "p:b"}},
               {"id": "3", "properties": {"officernd_id": "p:c"}},
               {"id": "4", "properties": {"officernd_id": "x:d"}}]  # not ours: ignored
    out = upsert_outcomes(results, [error("e")], {"a": "update", "c": "create", "e": "create"},
                          "officernd_id", "p:")
    assert [(o["source_id"], o["action"], o["status"]) for o in out] == [
        ("a", "create", "written"), ("b", "update", "written"), ("c", "create", "written"),
        ("e", "create", "failed")]


def test_update_outcomes_by_hubspot_id() -> None:
    out = update_outcomes([{"id": "7"}, {"id": "8"}], [error(None, "m2")],
                          {"7": "m1", "9": "m2"})
    assert [(o["source_id"], o["hubspot_id"], o["status"]) for o in out] == [
        ("m1", "7", "written"), ("m2", None, "failed")]
    assert out[1]["action"] == "update" and out[1]["message"] == "bad"


def test_failures_default_to_update() -> None:
    assert failures([error("x")], {})[0]["action"] == "update"


def test_counts() -> None:
    outcomes = [written("a", "1", "create"), written("b", "2", "update"),
                written("c", "3", "archive"), *failures([error("d")], {"d": "create"})]
    assert load_counts(outcomes) == {"created": 1, "updated": 1, "failed": 1}


def test_children_of_parents_not_in_hubspot_are_held() -> None:
    parent_of = {"i1": "c1", "i2": "c2", "i3": None}
    assert orphaned_children(["i1", "i2", "i3"], parent_of, {"c1": "901"}) == {"i2", "i3"}

"""The forward delta of a two-way mapping: to_officernd fields and both fields not decided
to_hubspot are held back (decided from the baseline when reconcile left no decision), an
update left empty is unchanged; the baseline a load leaves."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.records import DELTA_COLUMNS
from hubspot_sync.steps.delta_frame import compute_delta
from hubspot_sync.two_way.delta import (
    baseline_map,
    decision_map,
    hold_back_reverse,
    needs_baseline,
    written_baseline,
)


def members(**changes: Any) -> EntityMapping:
    return EntityMapping.model_validate({
        "entity": "members", "source": {"system": "officernd", "resource": "members"},
        "hubspot": {"object": "contacts"},
        "properties": [
            {"from": "email", "to": "email"},
            {"from": "phone", "to": "phone", "direction": "both"},
            {"from": "address.city", "to": "city", "direction": "both",
             "conflict": "officernd_wins"},
            {"from": "status", "to": "lifecyclestage", "direction": "to_officernd"},
        ], **changes})


def delta_of(mapping: EntityMapping, rows: list[tuple[str, dict[str, Any], dict[str, Any] | None]]
             ) -> pd.DataFrame:
    """delta_frame's delta of (source id, OfficeRnD values, HubSpot values or None)."""
    source = pd.DataFrame([{"source_id": s, "changed_at": None, "properties": o,
                            "skip_reason": None} for s, o, _ in rows])
    hubspot = pd.DataFrame([{"source_id": s, "hubspot_id": f"h{s}",
                             "matched_by": "officernd_id", "properties": h}
                            for s, _, h in rows if h is not None],
                           columns=["source_id", "hubspot_id", "matched_by", "properties"])
    return compute_delta(source, hubspot, mapping, {})


def decisions(*rows: tuple[str, str, bool]) -> dict[tuple[str, str], bool]:
    return decision_map(pd.DataFrame(rows, columns=["source_id", "property", "to_hubspot"]))


def by_id(frame: pd.DataFrame) -> dict[str, tuple[str, list[str]]]:
    return {r["source_id"]: (r["action"], r["changed_fields"])
            for r in frame.to_dict("records")}


def test_decisions_hold_back_what_flows_to_officernd() -> None:
    mapping = members()
    delta = delta_of(mapping, [
        ("m1", {"email": "a@x", "phone": "1", "city": "Oslo", "lifecyclestage": "lead"},
         {"email": "a@x", "phone": "2", "city": "Bergen", "lifecyclestage": "customer"}),
        ("m2", {"email": "new@x", "phone": "1"}, {"email": "b@x", "phone": "2"}),
    ])
    assert by_id(delta)["m1"] == ("update", ["phone", "city", "lifecyclestage"])
    held = hold_back_reverse(delta, mapping, decisions(
        ("m1", "phone", False), ("m1", "city", True), ("m2", "phone", False)), {})
    assert by_id(held) == {"m1": ("update", ["city"]), "m2": ("update", ["email"])}
    # the delta itself is not changed in place; other columns are kept
    assert by_id(delta)["m2"] == ("update", ["email", "phone"])
    assert list(held.columns) == DELTA_COLUMNS
    assert held.loc[0, "after"] == delta.loc[0, "after"]


def test_an_update_left_empty_is_unchanged_and_creates_stay_creates() -> None:
    mapping = members()
    delta = delta_of(mapping, [
        ("m1", {"email": "a@x", "phone": "1"}, {"email": "a@x", "phone": "2"}),
        ("m3", {"email": "c@x", "phone": "9", "lifecyclestage": "lead"}, None),
    ])
    held = hold_back_reverse(delta, mapping, decisions(("m1", "phone", False)), {})
    assert by_id(held) == {"m1": ("unchanged", []), "m3": ("create", ["email", "phone"])}


def test_without_a_decision_the_baseline_decides() -> None:
    mapping = members()
    delta = delta_of(mapping, [
        # only OfficeRnD changed (HubSpot holds the baseline): goes to HubSpot
        ("m1", {"phone": "new"}, {"phone": "old"}),
        # only HubSpot changed (OfficeRnD holds the baseline): held back
        ("m2", {"phone": "old"}, {"phone": "typed"}),
        # both changed, latest_wins with no HubSpot time: OfficeRnD
        ("m3", {"phone": "ornd"}, {"phone": "hs"}),
        # no baseline, HubSpot blank: OfficeRnD fills it
        ("m4", {"phone": "1"}, {}),
        # city's rule officernd_wins; no baseline, both set: OfficeRnD
        ("m5", {"city": "Oslo"}, {"city": "Bergen"}),
    ])
    undecided = decisions()
    assert needs_baseline(delta, mapping, undecided) == ["m1", "m2", "m3", "m4", "m5"]
    base = baseline_map(pd.DataFrame([("m1", "phone", "old"), ("m2", "phone", "old"),
                                      ("m3", "phone", "old")],
                                     columns=["source_id", "property", "value"]))
    held = hold_back_reverse(delta, mapping, undecided, base)
    assert by_id(held) == {"m1": ("update", ["phone"]), "m2": ("unchanged", []),
                           "m3": ("update", ["phone"]), "m4": ("update", ["phone"]),
                           "m5": ("update", ["city"])}
    covered = decisions(("m1", "phone", True), ("m2", "phone", False))
    assert needs_baseline(delta, mapping, covered) == ["m3", "m4", "m5"]


def test_a_one_way_mapping_is_left_alone() -> None:
    mapping = EntityMapping.model_validate({
        "entity": "members", "source": {"system": "officernd", "resource": "members"},
        "hubspot": {"object": "contacts"}, "properties": [{"from": "phone", "to": "phone"}]})
    delta = delta_of(mapping, [("m1", {"phone": "1"}, {"phone": "2"})])
    assert hold_back_reverse(delta, mapping, decisions(("m1", "phone", False)), {}) is delta


def test_orphans_and_skips_keep_their_action() -> None:
    mapping = members()
    delta = pd.DataFrame([
        {"source_id": "m9", "hubspot_id": "h9", "action": "orphan", "changed_fields": [],
         "before": {"phone": "1"}, "after": {}, "reason": "gone", "matched_by": None,
         "changed_at": None},
        {"source_id": "m8", "hubspot_id": None, "action": "skipped", "changed_fields": [],
         "before": {}, "after": {"phone": "1"}, "reason": "filtered", "matched_by": None,
         "changed_at": None}], columns=DELTA_COLUMNS)
    held = hold_back_reverse(delta, mapping, {}, {})
    assert list(held["action"]) == ["orphan", "skipped"]


def test_the_baseline_a_load_leaves_is_what_it_wrote() -> None:
    mapping = members()
    rows = [
        {"source_id": "m1", "changed_fields": ["email", "phone"],
         "after": {"email": "a@x", "phone": "1"}},
        {"source_id": "m2", "changed_fields": ["phone", "city"],
         "after": {"phone": None, "city": "Oslo"}},
        {"source_id": "m3", "changed_fields": ["phone"], "after": {"phone": "3"}},
    ]
    outcomes = [{"source_id": "m1", "action": "update", "status": "written"},
                {"source_id": "m2", "action": "create", "status": "written"},
                {"source_id": "m3", "action": "update", "status": "failed"}]
    assert written_baseline(rows, outcomes, mapping) == [
        ("m1", "phone", "1"), ("m2", "phone", None), ("m2", "city", "Oslo")]


def test_compute_delta_step_and_load_baseline_in_a_warehouse(tmp_path) -> None:
    """The compute_delta step holds back what reconcile decided for OfficeRnD (and decides
    from the baseline what it did not); load's baseline is what it wrote plus the agreed."""
    from hubspot_sync.steps.context import EntityRun
    from hubspot_sync.steps.delta import compute_delta as compute_delta_step
    from hubspot_sync.two_way.delta import record_written_baseline
    from hubspot_sync.warehouse import Warehouse

    wh = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    mapping = members()
    run = EntityRun(mapping=mapping, run_id="r1", _warehouse=wh)
    wh.start_run("members", "r1")
    wh.write_source_snapshot("members", "r1", [
        {"source_id": "m1", "properties": {"email": "a@x", "phone": "1", "city": "Oslo"}},
        {"source_id": "m2", "properties": {"email": "b@x", "phone": "new"}},
        {"source_id": "m3", "properties": {"email": "c@x", "phone": "3"}}])
    wh.write_hubspot_snapshot("members", "r1", [
        {"source_id": "m1", "hubspot_id": "h1", "matched_by": "officernd_id",
         "properties": {"email": "a@x", "phone": "typed", "city": "Oslo"}},
        {"source_id": "m2", "hubspot_id": "h2", "matched_by": "officernd_id",
         "properties": {"email": "b@x", "phone": "old"}},
        {"source_id": "m3", "hubspot_id": "h3", "matched_by": "officernd_id",
         "properties": {"email": "c@x", "phone": "3"}}])
    wh.write_decisions("members", "r1", [
        {"source_id": "m1", "property": "phone", "to_officernd": True, "value": "typed"},
        {"source_id": "m1", "property": "city", "agreed": True, "value": "Oslo"},
        {"source_id": "m3", "property": "phone", "agreed": True, "value": "3"}])
    wh.write_baseline("members", "r0", [("m2", "phone", "old")])  # m2: no decision
    counts = compute_delta_step(run, {})
    assert (counts["update"], counts["unchanged"]) == (1, 2)
    delta = wh.read_delta("members", "r1")
    assert by_id(delta) == {"m1": ("unchanged", []), "m2": ("update", ["phone"]),
                            "m3": ("unchanged", [])}
    writes = wh.read_delta("members", "r1", actions=["create", "update"])
    record_written_baseline(run, writes, [{"source_id": "m2", "action": "update",
                                           "status": "written"}])
    assert wh.read_baseline("members").to_dict("records") == [
        {"source_id": "m1", "property": "city", "value": "Oslo"},
        {"source_id": "m2", "property": "phone", "value": "new"},
        {"source_id": "m3", "property": "phone", "value": "3"}]
    wh.dispose()


def test_a_dry_run_load_writes_no_baseline(tmp_path) -> None:
    from hubspot_sync.steps.context import EntityRun
    from hubspot_sync.steps.load import load
    from hubspot_sync.warehouse import Warehouse

    wh = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    run = EntityRun(mapping=members(), run_id="dry", dry_run=True, _warehouse=wh)
    wh.start_run("members", "dry", dry_run=True)
    wh.write_decisions("members", "dry", [{"source_id": "m1", "property": "phone",
                                           "agreed": True, "value": "1"}])
    assert load(run)["dry_run"] is True
    assert wh.read_baseline("members").empty
    wh.dispose()

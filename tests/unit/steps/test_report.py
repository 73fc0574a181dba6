"""report's counts, the run status on failure, and the Asset of each entity."""

from __future__ import annotations

from hubspot_sync.steps import asset_identity
from hubspot_sync.steps.context import EntityRun, RejectThresholdExceeded
from hubspot_sync.steps.report import (
    asset_extra,
    format_counts,
    mark_run_failed,
    report_counts,
    unit_steps,
)

from .conftest import FakeWarehouse, mapping

OUTPUTS = {
    "ensure_properties": {"units": {"members": {}}, "api_calls": 2},
    "extract_source": {"units": {"members": {"extracted": 10}},
                       "window": {"start": None, "why": "first"}},
    "compute_delta": {"units": {"members": {"create": 3, "update": 2, "unchanged": 4,
                                            "skipped": 1, "conflict": 1, "orphan": 0}}},
    "validate": {"units": {"members": {"rejected": 2, "data_docs": "d/index.html",
                                       "rule_counts": {"email": 2}}}},
    "load": {"units": {"members": {"created": 3, "updated": 1, "failed": 1, "held_back": 1,
                                   "archived": 0}}, "api_calls": 3},
    "associate": {"units": {"members": {"associated": 5, "pending": 2}}, "api_calls": 1},
}


def test_counts_of_one_unit() -> None:
    steps = unit_steps(OUTPUTS, "members", is_parent=True)
    counts, details = report_counts(steps, dry_run=False)
    assert counts == {"extracted": 10, "created": 3, "updated": 1, "unchanged": 4, "skipped": 1,
                      "rejected": 3, "failed": 1, "api_calls": 6}
    assert details["window"] == {"start": None, "why": "first"}
    assert (details["conflicts"], details["pending_associations"], details["associated"]) == \
        (1, 2, 5)


def test_children_do_not_count_the_shared_calls_and_dry_runs_show_the_plan() -> None:
    counts, _ = report_counts(unit_steps(OUTPUTS, "members", is_parent=False), dry_run=True)
    assert counts["api_calls"] == 0
    assert (counts["planned_creates"], counts["planned_updates"]) == (3, 2)
    empty, _ = report_counts(unit_steps({}, "members", is_parent=True), dry_run=False)
    assert set(empty.values()) == {0}


def test_a_failure_marks_every_unit_failed_with_the_failing_units_counts() -> None:
    parent = mapping(entity="contracts", filter={}, associations=[],
                     children=[{"name": "items", "explode": "plans", "id": "{_id}:{item.id}",
                                "hubspot": {"object": "line_items"},
                                "properties": [{"from": "item.id", "to": "name"}]}])
    warehouse = FakeWarehouse()
    run = EntityRun(mapping=parent, run_id="r1", _warehouse=warehouse)  # type: ignore[arg-type]
    error = RejectThresholdExceeded("too many", "contracts_items", {"rejected": 9})
    mark_run_failed(run, error, "validate")
    calls = [(args[0], args[2], args[3]) for name, args, _ in warehouse.calls
             if name == "finish_run"]
    assert [(e, s) for e, s, _ in calls] == [("contracts", "failed"),
                                             ("contracts_items", "failed")]
    assert "rejected" not in calls[0][2] and calls[1][2]["rejected"] == 9
    assert calls[1][2]["details"] == {"error": "RejectThresholdExceeded: too many",
                                      "failed_step": "validate"}


def test_two_entities_writing_deals_have_distinct_assets() -> None:
    contracts = asset_identity(mapping(entity="contracts", hubspot={"object": "deals"},
                                       properties=[{"from": "n", "to": "dealname"}]))
    opportunities = asset_identity(mapping(entity="opportunities", hubspot={"object": "deals"},
                                           properties=[{"from": "n", "to": "dealname"}]))
    assert contracts["uri"] == "hubspot://deals/contracts" != opportunities["uri"]
    assert (contracts["name"], opportunities["name"]) == ("sync_contracts", "sync_opportunities")
    counts = {"created": 1, "updated": 2, "rejected": 3, "failed": 4, "extracted": 9}
    assert asset_extra("contracts", counts) == {"entity": "contracts", "created": 1,
                                                "updated": 2, "rejected": 3, "failed": 4}


def test_format_counts_aligns() -> None:
    assert format_counts({"a": 1, "longer": 22}).splitlines() == [
        "count   value", "------  -----", "a       1", "longer  22"]

"""Associations HubSpot keeps refusing: counted per run, given up after the configured
number of runs (no longer sent, still visible with the reason), tried again once the
source link changes. The warehouse is a real SQLite file; HubSpot is a fake counting calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubspot_sync.hubspot_client.errors import BatchOutcome, RowError
from hubspot_sync.steps.associate import (
    REFUSED,
    associate,
    count_refusals,
    given_up,
    superseded,
)
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.warehouse import Warehouse

from .conftest import mapping

ASSOCS = mapping().associations  # members -> companies via company


class RefusingHook:
    """HubSpot refusing every association it is sent; counts the calls and pairs."""

    def __init__(self) -> None:
        self.call_count = 0
        self.sent: list[tuple[str, str]] = []

    def associate(self, from_type: str, to_type: str, pairs: Any, type_id: int) -> BatchOutcome:
        self.call_count += 1
        pairs = list(pairs)
        self.sent += pairs
        return BatchOutcome(errors=[RowError(None, f"{a}:{b}", "207", "VALIDATION_ERROR",
                                             "association limit reached") for a, b in pairs])


def refusal(reason: str = f"{REFUSED} (X): no") -> dict[str, Any]:
    return {"source_id": "m1", "to_entity": "companies", "to_source_id": "c1", "type_id": 1,
            "reason": reason}


def test_refusals_in_a_row_are_counted_and_given_up_at_the_limit() -> None:
    first = count_refusals([refusal()], [], "r1", 3)
    assert first[0]["attempts"] == 1
    prev = {**refusal(), "attempts": 2, "last_tried_run": "r2"}
    third = count_refusals([refusal()], [prev], "r3", 3)[0]
    assert third["attempts"] == 3
    assert third["reason"] == f"gave up after 3 runs: {REFUSED} (X): no"
    assert given_up([third]) == {("m1", "companies", "c1")}
    # a retry of the same run does not count twice
    assert count_refusals([refusal()], [prev], "r2", 3)[0]["attempts"] == 2


def test_a_pair_that_waited_for_its_target_starts_counting_at_its_first_refusal() -> None:
    prev = {**refusal("companies c1 is not synced to HubSpot yet"), "attempts": 9,
            "last_tried_run": "r1"}
    assert count_refusals([refusal()], [prev], "r2", 3)[0]["attempts"] == 1
    waiting = refusal("companies c1 is not synced to HubSpot yet")
    assert count_refusals([waiting], [prev], "r2", 3) == [waiting]  # untouched


def test_a_pending_pair_whose_record_now_links_elsewhere_is_superseded() -> None:
    pending = [refusal(), {**refusal(), "source_id": "m2"},
               {**refusal(), "source_id": "m3", "type_id": 0}]
    rows = [{"source_id": "m1", "links": {"company": "c2"}},
            {"source_id": "m3", "links": {"company": "c2"}}]
    assert superseded(pending, rows, ASSOCS) == [pending[0]]  # m2 not read, m3 a reference


def _run(warehouse: Warehouse, hook: RefusingHook, run_id: str, company: str) -> dict:
    companies = mapping(entity="companies", hubspot={"object": "companies"},
                        associations=[], properties=[{"from": "name", "to": "name"}])
    run = EntityRun(mapping=mapping(), run_id=run_id, mappings={"companies": companies},
                    _warehouse=warehouse, _hook=hook)  # type: ignore[arg-type]
    warehouse.start_run("members", run_id)
    warehouse.write_source_snapshot("members", run_id, [{
        "source_id": "m1", "properties": {"email": "a@example.com"},
        "links": {"company": company}, "skip_reason": None}])
    warehouse.write_hubspot_snapshot("members", run_id, [{
        "source_id": "m1", "hubspot_id": "11", "matched_by": "officernd_id",
        "properties": {}}])
    return associate(run)


def test_hubspot_is_asked_max_attempts_times_then_never_again_until_the_link_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_MAX_ASSOCIATION_ATTEMPTS", "3")
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.upsert_id_map("members", "contacts", "r0", [("m1", "11")])
    warehouse.upsert_id_map("companies", "companies", "r0", [("c1", "91"), ("c2", "92")])
    hook = RefusingHook()
    outs = [_run(warehouse, hook, f"r{i}", "c1") for i in range(1, 7)]

    assert hook.call_count == 3, "sent in 3 runs, then no more"
    assert [o["given_up"] for o in outs] == [0, 0, 1, 1, 1, 1]
    [row] = warehouse.pending_associations("members")
    assert row["attempts"] == 3 and row["to_source_id"] == "c1"
    assert row["reason"].startswith(f"gave up after 3 runs: {REFUSED} (VALIDATION_ERROR)")

    _run(warehouse, hook, "r7", "c2")  # the source now links another company
    assert hook.call_count == 4 and hook.sent[-1] == ("11", "92")
    [row] = warehouse.pending_associations("members")
    assert (row["to_source_id"], row["attempts"]) == ("c2", 1)
    warehouse.dispose()

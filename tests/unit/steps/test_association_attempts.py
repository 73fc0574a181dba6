"""Associations HubSpot keeps refusing: counted per run, given up after the configured
number of runs (no longer sent, still visible with the reason), tried again once the
source link changes: the pure rules. The same end to end on a real warehouse:
tests/warehouse/test_association_give_up.py."""

from __future__ import annotations

from typing import Any

from hubspot_sync.hubspot_client.errors import BatchOutcome, RowError
from hubspot_sync.steps.associate import (
    REFUSED,
    count_refusals,
    given_up,
    superseded,
)

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

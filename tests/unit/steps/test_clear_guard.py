"""The mass-clear guard (issue #9): a run that would clear a property on more than
max_cleared_ratio of the records it updates, and on at least clear_guard_min_records,
stops before writing, naming the property."""

from __future__ import annotations

from typing import Any

import pytest

from hubspot_sync.steps.context import StopRun
from hubspot_sync.steps.validate import (
    MassClearRefused,
    cleared_counts,
    mass_clear_message,
    mass_clears,
)

from .conftest import mapping


def update(sid: str, changed: list[str], after: dict[str, Any],
           before: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": sid, "action": "update", "changed_fields": changed, "after": after,
            "before": before}


def test_only_a_changed_field_going_from_a_value_to_none_is_a_clear() -> None:
    rows = [
        update("m1", ["city", "phone"], {"city": None, "phone": "1"}, {"city": "Oslo"}),
        update("m2", ["city"], {"city": None}, {"city": "Rome"}),
        update("m3", ["city"], {"city": "Paris"}, {"city": "Rome"}),  # a change, not a clear
        update("m4", [], {"city": None}, {"city": "Rome"}),  # not sent (fill_if_empty/never)
        update("m5", ["officernd_id"], {}, {}),  # the id property an adoption adds
    ]
    assert cleared_counts(rows, "officernd_id") == {"city": (2, ["m1", "m2"])}


def test_examples_stop_at_three() -> None:
    rows = [update(f"m{i}", ["city"], {}, {"city": "Oslo"}) for i in range(10)]
    assert cleared_counts(rows, "officernd_id") == {"city": (10, ["m0", "m1", "m2"])}


@pytest.mark.parametrize(("cleared", "updated", "stops"), [
    (20, 100, True),     # 20 % of the updates, 20 records
    (19, 19, False),     # every update, but under 20 records: a small batch
    (20, 200, False),    # exactly 10 %: not more than the share
    (21, 200, True),
    (30, 1000, False),   # 3 %
])
def test_the_rule_needs_both_the_share_and_the_minimum(cleared: int, updated: int,
                                                       stops: bool) -> None:
    names = mass_clears(mapping(), {"city": (cleared, [])}, updated)
    assert names == (["city"] if stops else [])


def test_the_limits_come_from_the_mapping() -> None:
    loose = mapping(max_cleared_ratio=0.5, clear_guard_min_records=5)
    assert mass_clears(loose, {"city": (6, []), "zip": (40, [])}, 50) == ["zip"]
    assert mass_clears(mapping(clear_guard_min_records=0), {"city": (1, [])}, 2) == ["city"]
    assert mapping().max_cleared_ratio == 0.1 and mapping().clear_guard_min_records == 20


def test_the_message_says_which_property_how_many_and_how_to_proceed() -> None:
    m = mapping(properties=[{"from": "email", "to": "email"},
                            {"from": "adress.city", "to": "city"}])
    text = mass_clear_message(m, ["city"], {"city": (150, ["m1", "m2", "m3"])}, 180)
    assert text.startswith("members: this run would clear city in HubSpot on more of the 180 "
                           "records it updates than the mapping's max_cleared_ratio 10.0% "
                           "allows; nothing of this run is written:")
    assert "  - city (from adress.city): 150 of 180 records (83.3%), e.g. m1, m2, m3" in text
    assert "fix members's mapping" in text and "raise max_cleared_ratio" in text
    assert issubclass(MassClearRefused, StopRun), "fails the task without retries"

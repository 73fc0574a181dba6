"""validate's threshold: a ratio of the records considered, from a minimum count."""

from __future__ import annotations

from hubspot_sync.steps.validate import over_threshold, reject_ratio

from .conftest import mapping


def test_ratio_of_considered_records() -> None:
    assert reject_ratio(0, 0) == 0.0 and reject_ratio(1, 4) == 0.25


def test_threshold_counts_only_from_the_minimum_number_of_records() -> None:
    m = mapping(max_rejected_ratio=0.05, reject_threshold_min_records=20)
    assert not over_threshold(m, 1, 20)  # exactly 5 %: allowed
    assert over_threshold(m, 2, 20)
    assert not over_threshold(m, 5, 19)  # too few records to judge by a ratio
    strict = mapping(max_rejected_ratio=0.0, reject_threshold_min_records=0)
    assert over_threshold(strict, 1, 1) and not over_threshold(strict, 0, 0)

"""Progress lines: throttling, the estimate, an unknown total and the closing line."""

from __future__ import annotations

import logging

import pytest

from hubspot_sync.progress import Progress, advance, default_every, duration, estimate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hubspot_sync.progress"]


def test_lines_at_most_every_few_seconds(clock, caplog):
    caplog.set_level(logging.INFO, "hubspot_sync.progress")
    progress = Progress("members load", 34_000, 340, every=10, clock=clock)
    for _ in range(5):  # 3 s a batch: a line at 12 s (33,600 left at 400 / 12 s)
        clock.now += 3
        progress.advance(100)
    assert _lines(caplog) == [
        "members load: batch 4 of 340, 400 of 34,000 records, about 17 min left"]
    clock.now += 3  # 18 s: only 6 s since the last line
    progress.advance(100)
    clock.now += 4
    progress.advance(100)
    assert len(_lines(caplog)) == 2
    assert _lines(caplog)[-1].startswith("members load: batch 7 of 340, 700 of 34,000 records")


def test_estimate_is_remaining_items_over_observed_rate(clock):
    progress = Progress("members load", 34_000, 340, every=0, clock=clock)
    clock.now += 4.2
    progress.advance(1_200, batches=12)  # 1,200 in 4.2 s: 32,800 left -> ~114.8 s
    assert progress.line() == ("members load: batch 12 of 340, 1,200 of 34,000 records, "
                               "about 2 min left")
    clock.now += 100  # slower now: 32,800 / (1,200 / 104.2 s) -> ~47.5 min
    assert progress.line().endswith("about 47 min left")


def test_unknown_total_counts_so_far_without_estimate(clock, caplog):
    caplog.set_level(logging.INFO, "hubspot_sync.progress")
    progress = Progress("members extract", unit="page", every=0, clock=clock)
    for _ in range(12):
        clock.now += 1
        progress.advance(50)
    assert _lines(caplog)[-1] == "members extract: page 12, 600 records so far"
    assert "left" not in " ".join(_lines(caplog))


def test_done_line_has_total_and_time_taken(clock, caplog):
    caplog.set_level(logging.INFO, "hubspot_sync.progress")
    progress = Progress("members load", 34_000, 340, every=10, clock=clock)
    clock.now += 340
    progress.advance(34_000, batches=340)
    assert progress.done() == "members load: 34,000 records in 340 batches, took 5 min 40 s"
    assert _lines(caplog)[-1] == progress.done()
    single = Progress("plans extract", unit="page", every=10, clock=clock)
    clock.now += 0.25
    single.advance(7)
    assert single.done() == "plans extract: 7 records in 1 page, took 0.2 s"


def test_nothing_logged_before_done_when_faster_than_every(clock, caplog):
    caplog.set_level(logging.INFO, "hubspot_sync.progress")
    progress = Progress("companies load", 250, 3, every=10, clock=clock)
    for size in (100, 100, 50):
        clock.now += 1
        progress.advance(size)
    assert _lines(caplog) == []
    progress.done()
    assert _lines(caplog) == ["companies load: 250 records in 3 batches, took 3.0 s"]


def test_advance_helper_accepts_no_progress(clock):
    advance(None, 100)  # the caller did not ask for progress: nothing to count
    progress = Progress("x", every=0, clock=clock)
    advance(progress, 100)
    assert (progress.items, progress.batches) == (100, 1)


def test_every_from_environment(monkeypatch):
    monkeypatch.setenv("SYNC_PROGRESS_SECONDS", "2.5")
    assert default_every() == 2.5 == Progress("x").every
    monkeypatch.delenv("SYNC_PROGRESS_SECONDS")
    assert default_every() == 10.0


@pytest.mark.parametrize(("seconds", "text"), [
    (4.25, "4.2 s"), (60, "1 min"), (340, "5 min 40 s"), (7500, "2 h 5 min")])
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (30, "under 1 min"), (115, "about 2 min"), (4200, "about 1 h 10 min")])
def test_estimate(seconds, text):
    assert estimate(seconds) == text

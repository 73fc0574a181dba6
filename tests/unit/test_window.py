"""Which changes a run syncs: scheduled, backfill, manual, first run, params; and the run
built from Airflow's task context values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.steps.context import LOOKBACK, RunWindow, resolve_window, run_from_airflow

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_scheduled_run_reads_its_interval_with_the_look_back() -> None:
    """The previous hour succeeded: this hour's interval, less the look-back (clock skew)."""
    window = resolve_window({}, T0, T1, "scheduled", last_end=T0, now=NOW)
    assert (window.start, window.end, window.full_refresh) == (T0 - LOOKBACK, T1, False)


def test_scheduled_run_after_a_failed_or_paused_hour_catches_up() -> None:
    """The last success ended three hours before this interval: those hours are read too."""
    last = T0 - timedelta(hours=3)
    window = resolve_window({}, T0, T1, "scheduled", last_end=last, now=NOW)
    assert (window.start, window.end) == (last - LOOKBACK, T1)
    assert "last successful" in window.why


def test_scheduled_run_after_a_later_manual_run_keeps_its_interval() -> None:
    """A last window ending after this interval's start does not shorten the interval."""
    window = resolve_window({}, T0, T1, "scheduled", last_end=NOW, now=NOW)
    assert (window.start, window.end) == (T0 - LOOKBACK, T1)


def test_first_scheduled_run_reads_everything_before_its_end() -> None:
    window = resolve_window({}, T0, T1, "scheduled", last_end=None, now=NOW)
    assert (window.start, window.end) == (None, T1)


@pytest.mark.parametrize("last_end", [None, T0 - timedelta(hours=5), T0, NOW])
def test_backfill_keeps_its_exact_interval(last_end) -> None:
    window = resolve_window({}, T0, T1, "backfill", last_end=last_end, now=NOW)
    assert (window.start, window.end) == (T0, T1)


def test_backfill_over_two_days_reads_each_hour_once() -> None:
    """48 hourly backfill runs, whatever the watermark (none yet, the previous backfill's,
    or a manual run's after the whole range): their windows tile the two days hour after
    hour, with no gap and no overlap, so each change in them is read once (the sources read
    [start, end): tests/integration/test_officernd_source_sandbox.py)."""
    first = datetime(2026, 11, 20, 0, tzinfo=UTC)
    watermarks = [None, NOW]
    windows = []
    for hour in range(48):
        start = first + timedelta(hours=hour)
        for last_end in watermarks:
            window = resolve_window({}, start, start + timedelta(hours=1), "backfill",
                                    last_end=last_end, now=NOW)
            assert (window.start, window.end, window.full_refresh) == (
                start, start + timedelta(hours=1), False), (hour, last_end)
        windows.append((window.start, window.end))
        watermarks = [None, NOW, window.end]
    assert windows[0][0] == first and windows[-1][1] == first + timedelta(days=2)
    assert all(end == next_start for (_, end), (next_start, _) in pairwise(windows))


def test_manual_run_starts_at_the_watermark() -> None:
    window = resolve_window({}, None, None, "manual", last_end=T1, now=NOW)
    assert (window.start, window.end) == (T1 - LOOKBACK, NOW)


def test_first_manual_run_reads_everything() -> None:
    assert resolve_window({}, None, None, "manual", last_end=None, now=NOW).start is None


def test_an_empty_interval_is_treated_as_manual() -> None:
    """A bare "@hourly" gives start == end; the run falls back to the watermark."""
    window = resolve_window({}, T0, T0, "scheduled", last_end=T0, now=NOW)
    assert (window.start, window.end) == (T0 - LOOKBACK, NOW)


def test_params_win() -> None:
    window = resolve_window({"since": "2026-11-01T00:00:00Z", "until": None}, T0, T1,
                            "scheduled", last_end=T0, now=NOW)
    assert window.start == datetime(2026, 11, 1, tzinfo=UTC) and window.end == NOW
    full = resolve_window({"full_refresh": True}, T0, T1, "scheduled", last_end=T0, now=NOW)
    assert (full.start, full.end, full.full_refresh) == (None, None, True)


def test_bad_since_is_refused() -> None:
    with pytest.raises(ValueError, match="not a date-time"):
        resolve_window({"since": "last tuesday"}, None, None, "manual", None, now=NOW)


def test_run_from_airflow_context_values() -> None:
    """The DAG hands the task context over as is: run id, params, run type, interval."""
    mapping = EntityMapping.model_validate({
        "entity": "members", "source": {"system": "officernd", "resource": "members"},
        "hubspot": {"object": "contacts"}, "properties": [{"from": "email", "to": "email"}]})
    run_type = SimpleNamespace(value="scheduled")  # Airflow's DagRunType enum
    context = {"run_id": "scheduled__x", "params": {"dry_run": True, "full_refresh": False},
               "dag_run": SimpleNamespace(run_type=run_type),
               "data_interval_start": T0, "data_interval_end": T1}
    run = run_from_airflow(mapping, context)
    assert (run.run_id, run.dry_run, run.full_refresh) == ("scheduled__x", True, False)
    assert (run.trigger.run_type, run.trigger.interval_start) == ("scheduled", T0)
    assert run.docs_dir is not None and run.docs_dir.name == "data_docs"
    # The window: the trigger's, after the watermark the warehouse gives.
    run._warehouse = SimpleNamespace(last_successful_window_end=lambda entity: T0 - 3 * LOOKBACK)
    assert run.resolve_window(now=NOW).start == T0 - 4 * LOOKBACK
    given = RunWindow(None, NOW, False, "given")
    run.window = given
    assert run.resolve_window() is given and run.units()[0].window is given

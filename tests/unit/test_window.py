"""Which changes a run syncs: scheduled, backfill, manual, first run, params."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubspot_sync.pipeline import LOOKBACK, resolve_window

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_scheduled_run_uses_its_interval() -> None:
    window = resolve_window({}, T0, T1, "scheduled", last_end=T0, now=NOW)
    assert (window.start, window.end, window.full_refresh) == (T0, T1, False)


def test_first_scheduled_run_reads_everything_before_its_end() -> None:
    window = resolve_window({}, T0, T1, "scheduled", last_end=None, now=NOW)
    assert (window.start, window.end) == (None, T1)


def test_backfill_keeps_its_interval_even_as_first_run() -> None:
    window = resolve_window({}, T0, T1, "backfill", last_end=None, now=NOW)
    assert (window.start, window.end) == (T0, T1)


def test_manual_run_starts_at_the_watermark() -> None:
    window = resolve_window({}, None, None, "manual", last_end=T1, now=NOW)
    assert (window.start, window.end) == (T1 - LOOKBACK, NOW)


def test_first_manual_run_reads_everything() -> None:
    assert resolve_window({}, None, None, "manual", last_end=None, now=NOW).start is None


def test_params_win() -> None:
    window = resolve_window({"since": "2026-11-01T00:00:00Z", "until": None}, T0, T1,
                           "scheduled", last_end=T0, now=NOW)
    assert window.start == datetime(2026, 11, 1, tzinfo=UTC) and window.end == NOW
    full = resolve_window({"full_refresh": True}, T0, T1, "scheduled", last_end=T0, now=NOW)
    assert (full.start, full.end, full.full_refresh) == (None, None, True)


def test_bad_since_is_refused() -> None:
    with pytest.raises(ValueError, match="not a date-time"):
        resolve_window({"since": "last tuesday"}, None, None, "manual", None, now=NOW)

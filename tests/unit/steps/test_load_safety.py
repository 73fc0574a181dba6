"""load never takes a result that is not ours as written, and never replays a run that a
newer successful run of its entity has overtaken."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from hubspot_sync.steps.context import EntityRun, StopRun
from hubspot_sync.steps.load import (
    SupersededRun,
    load,
    newer_successful_run,
    upsert_outcomes,
)
from hubspot_sync.steps.rejects import UNEXPECTED_RESULT, refused_rejects

from .conftest import mapping


def result(hid: str, value: str, trace: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": hid, "properties": {"officernd_id": value}}
    if trace is not None:
        out["objectWriteTraceId"] = trace
    return out


def test_a_traced_result_with_a_foreign_id_fails_its_input() -> None:
    out = upsert_outcomes([result("1", "p:a", "a"), result("2", "x:b", "b")], [],
                          {"a": "create", "b": "update"}, "officernd_id", "p:")
    assert [(o["source_id"], o["status"], o["category"]) for o in out] == [
        ("a", "written", None), ("b", "failed", UNEXPECTED_RESULT)]
    assert "'x:b'" in out[1]["message"] and "'p:'" in out[1]["message"]
    assert out[1]["hubspot_id"] is None, "never mapped"


def test_an_untraced_foreign_result_fails_the_inputs_it_leaves_unanswered() -> None:
    out = upsert_outcomes([result("1", "p:a"), result("2", "b")], [],
                          {"a": "create", "b": "create"}, "officernd_id", "p:")
    assert [(o["source_id"], o["status"], o["category"]) for o in out] == [
        ("a", "written", None), ("b", "failed", UNEXPECTED_RESULT)]
    assert "record 2" in str(out[1]["message"])


def test_a_result_naming_another_input_than_its_trace_is_unexpected() -> None:
    out = upsert_outcomes([result("1", "p:z", "a")], [], {"a": "update"}, "officernd_id", "p:")
    assert [(o["source_id"], o["category"]) for o in out] == [("a", UNEXPECTED_RESULT)]


def test_unexpected_results_are_rejects_with_their_own_rule() -> None:
    out = upsert_outcomes([result("2", "x:b", "b")], [], {"b": "update"}, "officernd_id", "p:")
    [reject] = refused_rejects(out)
    assert (reject["rule"], reject["category"], reject["source"]) == (
        "unexpected_result", UNEXPECTED_RESULT, "hubspot")
    assert reject["reason"].startswith("HubSpot's answer to the write is not ours")


def t(hour: int) -> pd.Timestamp:
    return pd.Timestamp(datetime(2026, 1, 1, hour, tzinfo=UTC))


def row(run_id: str, hour: int, status: str = "success", dry: bool = False) -> dict:
    return {"run_id": run_id, "started_at": t(hour), "status": status, "dry_run": dry}


def test_the_newest_successful_real_run_started_later_is_named() -> None:
    this = row("A", 10, "running")
    runs = [this, row("B", 11), row("C", 12), row("D", 13, "failed"), row("E", 14, dry=True),
            row("Z", 9)]
    assert newer_successful_run(this, runs)["run_id"] == "C"
    assert newer_successful_run(this, [this, row("Z", 9), row("D", 13, "failed")]) is None
    assert newer_successful_run(None, runs) is None


class RunsWarehouse:
    """sync_runs only; any write is a test failure."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def get_run(self, entity: str, run_id: str) -> dict | None:
        return next((r for r in self.rows if r["run_id"] == run_id), None)

    def successful_runs_started_after(self, entity: str, started_at: Any,
                                      limit: int = 5) -> pd.DataFrame:
        # The filter is the query's; the rule under test must still pick the newer run.
        return pd.DataFrame(self.rows)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"load used the warehouse ({name}) after refusing")


class NoHook:
    call_count = 0

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"load called HubSpot ({name})")


def test_load_of_an_overtaken_run_refuses_before_any_read_or_write() -> None:
    warehouse = RunsWarehouse([row("A", 10, "running"), row("B", 11)])
    run = EntityRun(mapping=mapping(), run_id="A", _warehouse=warehouse,  # type: ignore[arg-type]
                    _hook=NoHook())  # type: ignore[arg-type]
    with pytest.raises(SupersededRun, match="older than run B") as caught:
        load(run)
    assert isinstance(caught.value, StopRun), "fails the task without retries"
    assert "Start a new run" in str(caught.value)

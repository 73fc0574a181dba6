"""The warehouse's reads and writes, table by table, on SQLite and PostgreSQL (fixture
``wh`` in conftest.py: a fresh database or schema per test)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import select, text

from hubspot_sync import warehouse as wmod
from hubspot_sync.warehouse import Warehouse, rows

E = "members"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def _aware_utc(value) -> bool:
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def _source_df(n: int = 3, prefix: str = "s") -> pd.DataFrame:
    return pd.DataFrame({
        "source_id": [f"{prefix}{i}" for i in range(n)],
        "changed_at": [T0 + timedelta(minutes=i) for i in range(n)],
        "properties": [{"email": f"a{i}@x.com", "amount": i * 1.5, "blank": None}
                       for i in range(n)],
        "links": [{"company": f"c{i}"} for i in range(n)],
        "skip_reason": [None] * n,
        "problems": [[] for _ in range(n)],
        "raw": [{"_id": f"{prefix}{i}", "tags": ["a", "b"]} for i in range(n)],
    })


# --------------------------------------------------------------------------- schema


def test_schema_created_on_first_use_and_idempotent(wh):
    assert wh.get_run(E, "nope") is None  # first use creates the tables
    wh.create_schema()
    again = Warehouse(wh.url, schema=wh.schema)
    again.create_schema()  # tables already there: no error
    assert again.get_run(E, "nope") is None
    again.dispose()
    from sqlalchemy import inspect
    names = set(inspect(wh.engine).get_table_names(schema=wh.schema))
    assert {"sync_runs", "source_snapshot", "hubspot_snapshot", "delta", "rejects",
            "id_map", "load_outcomes", "pending_associations"} <= names


# --------------------------------------------------------------------------- run log


def test_start_finish_get_run(wh):
    wh.start_run(E, "r1", T0, T0 + timedelta(hours=1), full_refresh=True)
    run = wh.get_run(E, "r1")
    assert run["status"] == "running" and run["full_refresh"] is True and run["dry_run"] is False
    assert run["finished_at"] is None and run["extracted"] == 0
    assert _aware_utc(run["started_at"]) and run["window_start"] == T0
    wh.finish_run(E, "r1", "success", {"extracted": 5, "created": 2, "api_calls": 7,
                                       "data_docs": "/tmp/x.html", "details": {"a": 1}})
    run = wh.get_run(E, "r1")
    assert run["status"] == "success" and _aware_utc(run["finished_at"])
    assert (run["extracted"], run["created"], run["updated"], run["api_calls"]) == (5, 2, 0, 7)
    assert run["details"] == {"data_docs": "/tmp/x.html", "a": 1}
    with pytest.raises(ValueError, match="status"):
        wh.finish_run(E, "r1", "done", {})


def test_finish_run_without_start_is_logged(wh):
    wh.finish_run(E, "lost", "failed", {"failed": 3})
    run = wh.get_run(E, "lost")
    assert run["status"] == "failed" and run["failed"] == 3


def test_runs_frame_latest_first_and_filtered(wh):
    for i, ent in enumerate(["members", "companies", "members"]):
        wh.start_run(ent, f"r{i}", T0, T0 + timedelta(hours=i + 1))
    wh.finish_run("members", "r2", "success", {"updated": 4})
    df = wh.runs()
    assert list(df["run_id"]) == ["r2", "r1", "r0"]
    assert str(df["started_at"].dtype) .endswith("UTC]") and df["updated"].dtype == "int64"
    assert df["dry_run"].dtype == bool and df.loc[0, "updated"] == 4
    assert list(wh.runs(entity="members")["run_id"]) == ["r2", "r0"]
    assert len(wh.runs(limit=1)) == 1
    empty = wh.runs(entity="nothing")
    assert empty.empty and "window_end" in empty.columns


def test_last_successful_window_end_ignores_failed_and_dry_runs(wh):
    assert wh.last_successful_window_end(E) is None
    ends = {name: T0 + timedelta(hours=h) for name, h in
            [("ok1", 1), ("ok2", 2), ("failed", 5), ("dry", 6), ("running", 7)]}
    for name, end in ends.items():
        wh.start_run(E, name, end - timedelta(hours=1), end, dry_run=(name == "dry"))
    wh.finish_run(E, "ok1", "success", {})
    wh.finish_run(E, "ok2", "success", {})
    wh.finish_run(E, "failed", "failed", {})
    wh.finish_run(E, "dry", "success", {})
    wh.start_run("companies", "other", T0, T0 + timedelta(hours=9))
    wh.finish_run("companies", "other", "success", {})
    got = wh.last_successful_window_end(E)
    assert got == ends["ok2"] and _aware_utc(got)


def test_successful_runs_started_after_lists_only_later_real_successes(wh):
    import time

    wh.start_run(E, "old", T0, T0 + timedelta(hours=1))
    started = wh.get_run(E, "old")["started_at"]
    time.sleep(0.01)  # started_at is the wall clock: later runs start strictly later
    for name in ("ok", "failed", "dry", "running"):
        wh.start_run(E, name, T0, T0 + timedelta(hours=2), dry_run=(name == "dry"))
    wh.finish_run(E, "ok", "success", {})
    wh.finish_run(E, "failed", "failed", {})
    wh.finish_run(E, "dry", "success", {})
    wh.start_run("companies", "other", T0, T0 + timedelta(hours=2))
    wh.finish_run("companies", "other", "success", {})
    later = wh.successful_runs_started_after(E, started)
    assert list(later["run_id"]) == ["ok"]
    assert wh.successful_runs_started_after(E, wh.get_run(E, "ok")["started_at"]).empty


def test_rerun_same_run_id_replaces_its_rows(wh):
    wh.start_run(E, "r1", T0, T0 + timedelta(hours=1))
    wh.write_source_snapshot(E, "r1", _source_df(3))
    wh.write_hubspot_snapshot(E, "r1", [{"source_id": "s0", "hubspot_id": "h0"}])
    wh.write_delta(E, "r1", [{"source_id": "s0", "action": "create"}])
    wh.write_load_outcomes(E, "r1", [{"source_id": "s0", "status": "written"}])
    wh.record_rejects(E, "r1", [{"source_id": "s1", "rule": "email", "property": "email"}])
    wh.add_pending_associations(E, "r1", [{"source_id": "s0", "to_entity": "companies",
                                           "to_source_id": "c0", "type_id": 279}])
    wh.finish_run(E, "r1", "failed", {"failed": 1})
    # other runs and entities are untouched by the reset
    wh.start_run(E, "r0", T0, T0)
    wh.write_source_snapshot(E, "r0", _source_df(2))
    wh.start_run("companies", "r1", T0, T0)
    wh.write_source_snapshot("companies", "r1", _source_df(4))

    wh.start_run(E, "r1", T0, T0 + timedelta(hours=1))  # Airflow retry / clear
    run = wh.get_run(E, "r1")
    assert run["status"] == "running" and run["failed"] == 0 and run["finished_at"] is None
    assert wh.counts(E, "r1") == dict.fromkeys(wh.counts(E, "r1"), 0)
    assert wh.open_rejects(E).empty and wh.pending_associations(E) == []
    assert len(wh.read_source_snapshot(E, "r0")) == 2
    assert len(wh.read_source_snapshot("companies", "r1")) == 4
    wh.write_source_snapshot(E, "r1", _source_df(1))
    assert list(wh.read_source_snapshot(E, "r1")["source_id"]) == ["s0"]


def test_rerun_reopens_rejects_it_resolved_and_keeps_older_history(wh):
    wh.record_rejects(E, "r1", [{"source_id": "s1", "rule": "email", "property": "email"}])
    wh.start_run(E, "r2", T0, T0)
    wh.resolve_rejects(E, "r2", ["s1"])
    assert wh.open_rejects(E).empty
    wh.start_run(E, "r2", T0, T0)  # rerun r2: its resolution is undone, r1's reject stays
    still = wh.open_rejects(E)
    assert list(still["source_id"]) == ["s1"] and still.loc[0, "first_run_id"] == "r1"


# --------------------------------------------------------------------------- snapshots


def test_source_snapshot_round_trip(wh):
    df = _source_df(3)
    df.loc[1, "skip_reason"] = "status filtered out"
    df.at[2, "problems"] = ["bad phone"]
    assert wh.write_source_snapshot(E, "r1", df) == 3
    out = wh.read_source_snapshot(E, "r1")
    assert list(out.columns) == wmod.SOURCE_SNAPSHOT_COLUMNS
    assert list(out["source_id"]) == ["s0", "s1", "s2"]
    assert out.loc[0, "properties"] == {"email": "a0@x.com", "amount": 0.0, "blank": None}
    assert out.loc[0, "links"] == {"company": "c0"} and out.loc[0, "problems"] == []
    assert out.loc[2, "problems"] == ["bad phone"]
    assert out.loc[0, "raw"] == {"_id": "s0", "tags": ["a", "b"]}
    assert out.loc[0, "skip_reason"] is None and out.loc[1, "skip_reason"] == "status filtered out"
    assert str(out["changed_at"].dtype).endswith("UTC]")
    assert out.loc[1, "changed_at"] == T0 + timedelta(minutes=1)
    assert wh.read_source_snapshot(E, "other").empty
    assert list(wh.read_source_snapshot(E, "other").columns) == wmod.SOURCE_SNAPSHOT_COLUMNS


def test_snapshot_values_are_cleaned(wh):
    """NaN, numpy scalars, ids as numbers, dates as strings: stored the portable way."""
    df = pd.DataFrame({
        "source_id": [12.0, float("nan"), "x"],
        "changed_at": ["2024-03-01T12:00:00+02:00", "not a date", None],
        "properties": [{"n": float("nan"), "d": datetime(2024, 1, 2, tzinfo=UTC)},
                       float("nan"), {"k": pd.Series([1]).iloc[0]}],
        "extra_column": [1, 2, 3],  # ignored
    })
    wh.write_source_snapshot(E, "r1", df)
    out = wh.read_source_snapshot(E, "r1")
    assert out.loc[0, "source_id"] == "12" and out.loc[1, "source_id"] is None
    assert out.loc[0, "changed_at"] == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert pd.isna(out.loc[1, "changed_at"]) and pd.isna(out.loc[2, "changed_at"])
    assert out.loc[0, "properties"] == {"n": None, "d": "2024-01-02T00:00:00+00:00"}
    assert out.loc[1, "properties"] is None and out.loc[2, "properties"] == {"k": 1}
    assert out.loc[0, "links"] is None


def test_write_replaces_by_default_and_appends_when_asked(wh):
    wh.write_source_snapshot(E, "r1", _source_df(3))
    wh.write_source_snapshot(E, "r1", _source_df(2, prefix="t"))
    assert list(wh.read_source_snapshot(E, "r1")["source_id"]) == ["t0", "t1"]
    wh.write_source_snapshot(E, "r1", _source_df(1, prefix="u"), replace=False)
    assert list(wh.read_source_snapshot(E, "r1")["source_id"]) == ["t0", "t1", "u0"]
    wh.write_source_snapshot(E, "r1", pd.DataFrame())
    assert wh.read_source_snapshot(E, "r1").empty


def test_hubspot_snapshot_round_trip(wh):
    rows = [{"source_id": "s0", "hubspot_id": 101, "matched_by": "id_property",
             "properties": {"email": "a@x.com"}},
            {"source_id": "s1", "hubspot_id": "102", "matched_by": "email",
             "properties": {"email": "b@x.com"}},
            {"source_id": "s2", "hubspot_id": None, "matched_by": None, "properties": None}]
    assert wh.write_hubspot_snapshot(E, "r1", pd.DataFrame(rows)) == 3
    out = wh.read_hubspot_snapshot(E, "r1")
    assert list(out.columns) == wmod.HUBSPOT_SNAPSHOT_COLUMNS
    assert list(out["hubspot_id"]) == ["101", "102", None]
    assert list(out["matched_by"]) == ["id_property", "email", None]
    assert out.loc[1, "properties"] == {"email": "b@x.com"} and out.loc[2, "properties"] is None


def test_delta_round_trip_and_action_filter(wh):
    rows = pd.DataFrame([
        {"source_id": "s0", "hubspot_id": None, "action": "create", "changed_fields": ["email"],
         "before": {}, "after": {"email": "a@x.com"}, "reason": None},
        {"source_id": "s1", "hubspot_id": "9", "action": "update", "changed_fields": ["phone"],
         "before": {"phone": "1"}, "after": {"phone": "2"}, "reason": None},
        {"source_id": "s2", "hubspot_id": "8", "action": "unchanged", "changed_fields": [],
         "before": {"phone": "1"}, "after": {"phone": "1"}, "reason": None},
        {"source_id": "s3", "hubspot_id": None, "action": "skipped", "changed_fields": [],
         "before": None, "after": None, "reason": "stage not mapped"},
    ])
    wh.write_delta(E, "r1", rows)
    out = wh.read_delta(E, "r1")
    assert list(out.columns) == wmod.DELTA_COLUMNS and len(out) == 4
    assert out.loc[1, "before"] == {"phone": "1"} and out.loc[1, "after"] == {"phone": "2"}
    assert out.loc[1, "changed_fields"] == ["phone"] and out.loc[3, "reason"] == "stage not mapped"
    plan = wh.read_delta(E, "r1", actions=["create", "update"])
    assert list(plan["action"]) == ["create", "update"]
    assert wh.read_delta(E, "r1", actions=[]).empty
    with pytest.raises(ValueError, match="unknown delta action"):
        wh.write_delta(E, "r1", [{"source_id": "s9", "action": "upsert"}])
    assert len(wh.read_delta(E, "r1")) == 4  # the failed write changed nothing


def test_load_outcomes(wh):
    wh.write_load_outcomes(E, "r1", [
        {"source_id": "s0", "hubspot_id": "1", "action": "create", "status": "written"},
        {"source_id": "s1", "action": "update", "status": "failed",
         "category": "VALIDATION_ERROR", "message": "Property values were not valid"}])
    wh.write_load_outcomes(E, "r1", [{"source_id": "s2", "hubspot_id": "3", "action": "update",
                                      "status": "written"}], replace=False)
    out = wh.read_load_outcomes(E, "r1")
    assert list(out.columns) == wmod.LOAD_OUTCOME_COLUMNS
    assert list(out["status"]) == ["written", "failed", "written"]
    assert out.loc[1, "category"] == "VALIDATION_ERROR" and out.loc[0, "message"] is None


# --------------------------------------------------------------------------- rejects


def test_rejects_not_duplicated_across_runs_and_resolved_when_fixed(wh):
    bad = [{"source_id": "s1", "rule": "email", "property": "email", "value": "nope",
            "reason": "email 'nope' is not a valid address"},
           {"source_id": "s2", "rule": "required", "property": "lastname", "value": None,
            "reason": "lastname is required"}]
    assert wh.record_rejects(E, "r1", pd.DataFrame(bad)) == 2
    first = wh.open_rejects(E)
    assert len(first) == 2 and set(first["times_seen"]) == {1}
    assert (first["source"] == "validation").all() and (first["first_run_id"] == "r1").all()

    bad[0]["value"] = "still nope"
    wh.record_rejects(E, "r2", bad)
    wh.record_rejects(E, "r2", bad[:1])  # the same run again: not counted twice
    again = wh.open_rejects(E).set_index("source_id")
    assert len(again) == 2
    assert again.loc["s1", "times_seen"] == 2 and again.loc["s1", "run_id"] == "r2"
    assert again.loc["s1", "first_run_id"] == "r1" and again.loc["s1", "value"] == "still nope"
    assert again.loc["s1", "last_seen_at"] >= again.loc["s1", "first_seen_at"]

    assert wh.resolve_rejects(E, "r3", ["s1", "unknown"]) == 1
    open_now = wh.open_rejects(E)
    assert list(open_now["source_id"]) == ["s2"]
    # history: every run still shows what it saw, with that run's value
    r1 = wh.rejects_for_run(E, "r1").set_index("source_id")
    assert set(r1.index) == {"s1", "s2"} and r1.loc["s1", "value"] == "nope"
    assert r1.loc["s1", "run_id"] == "r1" and r1.loc["s1", "resolved_run_id"] == "r3"
    assert _aware_utc(r1.loc["s1", "resolved_at"].to_pydatetime())
    assert len(wh.rejects_for_run(E, "r2")) == 2

    # broken again after the fix: a new open reject, the resolved one stays history
    wh.record_rejects(E, "r4", bad[:1])
    s1 = wh.open_rejects(E).set_index("source_id").loc["s1"]
    assert s1["first_run_id"] == "r4" and s1["times_seen"] == 1


def test_hubspot_rejects_and_open_rejects_across_entities(wh):
    wh.record_rejects("companies", "r1", [{
        "source_id": "c1", "rule": "hubspot", "property": "domain", "value": {"x": 1},
        "reason": "HubSpot refused the value", "source": "hubspot",
        "category": "VALIDATION_ERROR"}])
    wh.record_rejects(E, "r1", [{"source_id": "s1", "rule": "unique", "property": None,
                                 "reason": "duplicate key"}])
    both = wh.open_rejects()
    assert set(both["source_id"]) == {"c1", "s1"}
    c1 = wh.open_rejects("companies").iloc[0]
    assert c1["source"] == "hubspot" and c1["category"] == "VALIDATION_ERROR"
    assert json.loads(c1["value"]) == {"x": 1}
    wh.record_rejects(E, "r2", [{"source_id": "s1", "rule": "unique", "property": None}])
    s1 = wh.open_rejects(E)
    assert len(s1) == 1 and s1.loc[0, "times_seen"] == 2 and s1.loc[0, "property"] is None
    assert wh.record_rejects(E, "r3", []) == 0 and wh.resolve_rejects(E, "r3", []) == 0


# --------------------------------------------------------------------------- id map


def test_id_map_upsert_updates(wh):
    assert wh.upsert_id_map(E, "contacts", "r1", [("s1", "101"), ("s2", 102)]) == 2
    assert wh.id_map(E) == {"s1": "101", "s2": "102"}
    # HubSpot merged s2's contact: new id; duplicates in one call: the last wins
    wh.upsert_id_map(E, "contacts", "r2", [("s2", "200"), ("s3", "103"), ("s3", "104")])
    assert wh.id_map(E) == {"s1": "101", "s2": "200", "s3": "104"}
    assert wh.id_map(E, ["s2", "s9"]) == {"s2": "200"}
    assert wh.id_map(E, []) == {}
    assert wh.source_ids_for(E, ["200", 101, "999"]) == {"200": "s2", "101": "s1"}
    assert wh.id_map("companies") == {}
    t = wh.tables["id_map"]
    with wh.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.source_id == "s2")).mappings().one()
    assert row["first_synced_run"] == "r1" and row["last_synced_run"] == "r2"
    assert _aware_utc(row["updated_at"]) and row["hubspot_object"] == "contacts"


def test_replace_id_map_makes_the_map_exactly_these_pairs(wh):
    wh.upsert_id_map(E, "contacts", "r1", [("s1", "101"), ("s2", "102"), ("s3", "103")])
    wh.upsert_id_map("companies", "companies", "r1", [("c1", "901")])
    # a full refresh read s2 (merged into another contact) and s4; s1 and s3 are gone
    assert wh.replace_id_map(E, "contacts", "r2",
                             [("s2", "200"), ("s4", 104), (None, "9"), ("s5", None)]) == 2
    assert wh.id_map(E) == {"s2": "200", "s4": "104"}
    assert wh.id_map("companies") == {"c1": "901"}  # other entities untouched
    t = wh.tables["id_map"]
    with wh.engine.connect() as conn:
        s2 = conn.execute(select(t).where(t.c.entity == E, t.c.source_id == "s2")).mappings().one()
    assert s2["first_synced_run"] == "r1" and s2["last_synced_run"] == "r2"
    assert wh.replace_id_map(E, "contacts", "r3", []) == 0 and wh.id_map(E) == {}


def test_chunked_statements(wh, monkeypatch):
    """IN lists and executemany batches are chunked (small chunks here, 10,000 for real)."""
    monkeypatch.setattr(rows, "CHUNK", 70)
    pairs = [(f"s{i}", f"h{i}") for i in range(500)]
    wh.upsert_id_map(E, "contacts", "r1", pairs)
    got = wh.id_map(E, [p[0] for p in pairs])
    assert len(got) == 500 and got["s499"] == "h499"
    assert len(wh.source_ids_for(E, [p[1] for p in pairs])) == 500
    wh.write_delta(E, "r1", [{"source_id": f"s{i}", "action": "unchanged"} for i in range(300)])
    assert len(wh.read_delta(E, "r1")) == 300
    rejects = [{"source_id": f"s{i}", "rule": "email", "property": "email"} for i in range(300)]
    wh.record_rejects(E, "r1", rejects)
    wh.record_rejects(E, "r2", rejects)
    assert len(wh.open_rejects(E)) == 300 and len(wh.rejects_for_run(E, "r2")) == 300
    assert wh.resolve_rejects(E, "r3", [f"s{i}" for i in range(300)]) == 300


# --------------------------------------------------------------------------- associations


def test_pending_associations(wh):
    rows = [{"source_id": "s1", "to_entity": "companies", "to_source_id": "c1", "type_id": 279,
             "reason": "company c1 not synced yet"},
            {"source_id": "s2", "to_entity": "companies", "to_source_id": "c2", "type_id": None}]
    assert wh.add_pending_associations(E, "r1", rows) == 2
    wh.add_pending_associations(E, "r2", rows[:1])
    wh.add_pending_associations(E, "r2", rows[:1])  # same run: not another attempt
    pending = wh.pending_associations(E)
    assert [p["source_id"] for p in pending] == ["s1", "s2"]
    assert pending[0]["first_seen_run"] == "r1" and pending[0]["last_tried_run"] == "r2"
    assert pending[0]["attempts"] == 2 and pending[0]["type_id"] == 279
    assert pending[0]["reason"] == "company c1 not synced yet" and pending[1]["type_id"] is None
    assert wh.pending_associations("companies") == []
    assert wh.clear_pending_associations(E, [("s1", "companies", "c1", 279)]) == 1
    assert wh.clear_pending_associations(E, [{"source_id": "s2", "to_entity": "companies",
                                              "to_source_id": "c2"}]) == 1
    assert wh.pending_associations(E) == []
    assert wh.clear_pending_associations(E, []) == 0
    with pytest.raises(ValueError, match="to_source_id"):
        wh.add_pending_associations(E, "r3", [{"source_id": "s1", "to_entity": "companies"}])


# --------------------------------------------------------------------------- datetimes


def test_aware_utc_datetimes_back(wh):
    plus2 = timezone(timedelta(hours=2))
    wh.start_run(E, "r1", datetime(2024, 3, 1, 12, 0, tzinfo=plus2),
                 datetime(2024, 3, 1, 11, 0))  # naive is taken as UTC
    run = wh.get_run(E, "r1")
    for key in ("started_at", "window_start", "window_end"):
        assert _aware_utc(run[key]), key
    assert run["window_start"] == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert run["window_end"] == datetime(2024, 3, 1, 11, 0, tzinfo=UTC)
    assert run["window_start"].tzinfo is UTC


def test_sqlite_stores_utc_wall_time(tmp_path):
    w = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    w.start_run(E, "r1", datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), None)
    with w.engine.connect() as conn:
        raw = conn.execute(text("select window_start from sync_runs")).scalar()
        mode = conn.execute(text("PRAGMA journal_mode")).scalar()
        timeout = conn.execute(text("PRAGMA busy_timeout")).scalar()
    assert str(raw).startswith("2024-03-01 10:00:00")
    assert mode == "wal" and timeout >= 10_000
    w.dispose()


# --------------------------------------------------------------------------- parallel use


def test_parallel_writers_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    errors: list[BaseException] = []

    def work(entity: str) -> None:
        try:
            w = Warehouse(url)  # its own engine, like a separate task process
            for i in range(5):
                w.start_run(entity, f"r{i}", T0, T0)
                w.write_source_snapshot(entity, f"r{i}", _source_df(200))
                w.upsert_id_map(entity, "contacts", f"r{i}", [(f"s{j}", f"h{j}")
                                                              for j in range(50)])
                w.finish_run(entity, f"r{i}", "success", {"extracted": 200})
            w.dispose()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"e{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    check = Warehouse(url)
    assert len(check.runs(limit=0)) == 20
    check.dispose()




def test_flagged_open_rejects_are_found_by_category(wh):
    wh.record_rejects(E, "r1", [
        {"source_id": "b", "rule": "unique", "property": "email", "value": " A@X.io "},
        {"source_id": "c", "rule": "match_conflict", "property": "email", "value": "a@x.io"},
        {"source_id": "d", "rule": "email", "property": "email", "value": "a@x.io"},
        {"source_id": "e", "rule": "unique", "property": "email", "value": "z@x.io"},
        {"source_id": "f", "rule": "hubspot_refused", "source": "hubspot",
         "category": "INVALID_RESPONSE"}])
    flagged = wh.flag_open_rejects(E, ["unique", "match_conflict"], "email", ["a@x.io"],
                                   "KEY_RELEASED")
    assert flagged == 2
    assert wh.open_reject_ids(E, ["KEY_RELEASED"]) == {"b", "c"}
    assert wh.open_reject_ids(E, ["KEY_RELEASED", "INVALID_RESPONSE"]) == {"b", "c", "f"}
    assert wh.open_reject_ids("companies", ["KEY_RELEASED"]) == set()
    # Seen again with the same rule: the mark is gone with the new sighting.
    wh.record_rejects(E, "r2", [{"source_id": "b", "rule": "unique", "property": "email",
                                 "value": "a@x.io"}])
    assert wh.open_reject_ids(E, ["KEY_RELEASED"]) == {"c"}


def test_latest_links_are_those_of_each_records_newest_snapshot(wh):
    for run_id, parent in (("r1", "p-old"), ("r2", "p-new")):
        wh.start_run(E, run_id, T0, T0 + timedelta(hours=1))
        wh.write_source_snapshot(E, run_id, [
            {"source_id": "c1", "links": {"_parent": parent}},
            {"source_id": "c2", "links": {"_parent": "p2"}} if run_id == "r1" else
            {"source_id": "c3", "links": None}])
    assert wh.latest_links(E, ["c1", "c2", "c3", "missing"]) == {
        "c1": {"_parent": "p-new"}, "c2": {"_parent": "p2"}, "c3": {}}


def test_open_rejects_by_rule_and_by_record(wh):
    wh.record_rejects(E, "r1", [
        {"source_id": "a", "rule": "changed_at", "property": None},
        {"source_id": "a", "rule": "email", "property": "email"},
        {"source_id": "b", "rule": "email", "property": "email"}])
    assert set(wh.open_rejects(E, rules=["changed_at"])["source_id"]) == {"a"}
    assert sorted(wh.open_rejects(E, source_ids=["a"])["rule"]) == ["changed_at", "email"]
    assert len(wh.open_rejects(E, rules=["email"], source_ids=["a", "zz"])) == 1
    assert len(wh.open_rejects(E, source_ids=[])) == 0

"""Two-way tables on SQLite and PostgreSQL: the baseline (upsert, agreed blanks, never
pruned), a run's decisions (replaced by a rerun, pruned with the run), conflicts (once per
run, record and property; kept through a rerun; pruned like resolved rejects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import update

from hubspot_sync.retention import RetentionPolicy, prune_warehouse
from hubspot_sync.warehouse import Warehouse

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_baseline_round_trip(wh: Warehouse) -> None:
    assert wh.write_baseline("members", "r1", [("m1", "phone", "+1 1"), ("m1", "city", None),
                                               {"source_id": 2, "property": "phone",
                                                "value": "+1 2"}]) == 3
    assert wh.write_baseline("members", "r2", [("m1", "phone", "+1 9"), ("m1", "phone", "+1 10"),
                                               (None, "phone", "x")]) == 1
    wh.write_baseline("companies", "r1", [("m1", "phone", "other entity")])
    base = wh.read_baseline("members")
    assert base.to_dict("records") == [
        {"source_id": "2", "property": "phone", "value": "+1 2"},
        {"source_id": "m1", "property": "city", "value": None},  # an agreed blank
        {"source_id": "m1", "property": "phone", "value": "+1 10"}]
    assert wh.read_baseline("members", ["m1", "m7"]).to_dict("records") == base.to_dict(
        "records")[1:]
    assert wh.read_baseline("members", []).empty
    assert wh.forget_baseline("members", ["m1"]) == 2
    assert list(wh.read_baseline("members")["source_id"]) == ["2"]


def test_pending_values_round_trip_beside_the_baseline(wh: Warehouse) -> None:
    """Write-ahead values: written in bulk before a send, kept with the baseline until the
    write is confirmed (baseline := value, pending cleared) or refused (pending cleared)."""
    wh.write_baseline("members", "r1", [("m1", "phone", "+1 old"), ("m2", "phone", "+1 two")])
    assert wh.write_pending("members", "r2", [("m1", "phone", "+1 sent"),
                                              ("m3", "phone", "+1 new"),  # no baseline yet
                                              ("m2", "city", None)]) == 3  # None is a value

    def state() -> list[tuple]:
        df = wh.read_baseline_pending("members")
        return [(r["source_id"], r["property"], r["value"], r["has_value"],
                 r["pending_value"], r["has_pending"]) for r in df.to_dict("records")]

    assert state() == [("m1", "phone", "+1 old", True, "+1 sent", True),
                       ("m2", "city", None, False, None, True),
                       ("m2", "phone", "+1 two", True, None, False),
                       ("m3", "phone", None, False, "+1 new", True)]
    # Existing readers see the baseline only: rows holding just a pending value are none.
    assert wh.read_baseline("members").to_dict("records") == [
        {"source_id": "m1", "property": "phone", "value": "+1 old"},
        {"source_id": "m2", "property": "phone", "value": "+1 two"}]
    assert len(wh.read_baseline_pending("members", ["m1", "m9"])) == 1
    # Confirmed: the baseline moves and the pending value goes.
    wh.write_baseline("members", "r2", [("m1", "phone", "+1 sent")])
    # Refused: the pending value goes (a row that held only it goes too).
    assert wh.clear_pending("members", [("m3", "phone"), ("m2", "phone")]) == 1
    assert state() == [("m1", "phone", "+1 sent", True, None, False),
                       ("m2", "city", None, False, None, True),
                       ("m2", "phone", "+1 two", True, None, False)]
    wh.write_pending("members", "r3", [("m2", "phone", "+1 again")])
    assert wh.clear_pending("members", [("m2", "phone"), ("m2", "city")]) == 2
    assert state() == [("m1", "phone", "+1 sent", True, None, False),
                       ("m2", "phone", "+1 two", True, None, False)]


def test_decisions_round_trip_and_a_rerun_replaces_them(wh: Warehouse) -> None:
    wh.start_run("members", "r1")
    frame = pd.DataFrame([
        {"source_id": "m1", "hubspot_id": "h1", "property": "phone", "to_hubspot": True,
         "to_officernd": False, "agreed": False, "value": "+1 1"},
        {"source_id": "m2", "hubspot_id": "h2", "property": "phone", "to_hubspot": False,
         "to_officernd": False, "agreed": True, "value": None}])
    assert wh.write_decisions("members", "r1", frame) == 2
    # agreed missing: neither write means agreed
    wh.write_decisions("members", "r1", [{"source_id": "m3", "property": "city",
                                          "to_hubspot": False, "to_officernd": True,
                                          "value": "Oslo"},
                                         {"source_id": "m4", "property": "city",
                                          "to_hubspot": False, "to_officernd": False,
                                          "value": "Oslo"}], replace=False)
    got = wh.read_decisions("members", "r1")
    assert got.to_dict("records") == [
        {"source_id": "m1", "hubspot_id": "h1", "property": "phone", "to_hubspot": True,
         "to_officernd": False, "agreed": False, "value": "+1 1"},
        {"source_id": "m2", "hubspot_id": "h2", "property": "phone", "to_hubspot": False,
         "to_officernd": False, "agreed": True, "value": None},
        {"source_id": "m3", "hubspot_id": None, "property": "city", "to_hubspot": False,
         "to_officernd": True, "agreed": False, "value": "Oslo"},
        {"source_id": "m4", "hubspot_id": None, "property": "city", "to_hubspot": False,
         "to_officernd": False, "agreed": True, "value": "Oslo"}]
    assert wh.counts("members", "r1")["two_way_decisions"] == 4
    wh.start_run("members", "r1")  # a retry forgets the run's decisions
    assert wh.read_decisions("members", "r1").empty


def conflict(sid: str, winner: str = "hubspot", value: str = "+1 hs") -> dict:
    return {"source_id": sid, "hubspot_id": f"h{sid}", "property": "phone",
            "officernd_value": "+1 ornd", "officernd_changed_at": T0,
            "hubspot_value": value, "hubspot_changed_at": "2026-12-01T09:05:00Z",
            "rule": "latest_wins", "winner": winner}


def test_conflicts_are_recorded_once_per_run_and_kept_through_a_rerun(wh: Warehouse) -> None:
    wh.start_run("members", "r1")
    assert wh.record_conflicts("members", "r1", [conflict("m1"), conflict("m2", "officernd")]) == 2
    assert wh.record_conflicts("members", "r1", [conflict("m1", value="+1 again")]) == 1
    wh.record_conflicts("members", "r2", [conflict("m1")])
    wh.start_run("members", "r1")  # a retry: the conflicts of its first attempt stay
    got = wh.read_conflicts("members", limit=0, run_id="r1")
    assert sorted(got["source_id"]) == ["m1", "m2"]
    m1 = got[got.source_id == "m1"].iloc[0]
    assert (m1.hubspot_value, m1.officernd_value, m1.winner, m1.rule) == (
        "+1 again", "+1 ornd", "hubspot", "latest_wins")
    assert m1.officernd_changed_at == T0
    assert m1.hubspot_changed_at == T0 + timedelta(minutes=5)
    assert len(wh.read_conflicts("members")) == 3 and len(wh.read_conflicts(limit=1)) == 1
    assert wh.read_conflicts("companies").empty
    assert wh.record_conflicts("members", "r1", []) == 0


def test_retention_prunes_old_conflicts_and_decisions_but_never_the_baseline(
        wh: Warehouse) -> None:
    now = datetime.now(UTC)
    for run_id in ("old", "new"):
        wh.start_run("members", run_id)
        wh.write_decisions("members", run_id, [{"source_id": "m1", "property": "phone",
                                                "to_hubspot": True, "value": "1"}])
        wh.record_conflicts("members", run_id, [conflict("m1")])
        wh.finish_run("members", run_id, "success")
    wh.write_baseline("members", "old", [("m1", "phone", "1")])
    runs, conflicts = wh.tables["sync_runs"], wh.tables["sync_conflicts"]
    baseline = wh.tables["two_way_baseline"]
    with wh.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == "old")
                     .values(started_at=now - timedelta(days=100)))
        conn.execute(update(conflicts).where(conflicts.c.run_id == "old")
                     .values(detected_at=now - timedelta(days=100)))
        conn.execute(update(baseline).values(updated_at=now - timedelta(days=1000)))
    dry = prune_warehouse(wh, RetentionPolicy(dry_run=True), now=now)
    assert (dry["rows"]["two_way_decisions"], dry["rows"]["sync_conflicts"]) == (1, 1)
    done = prune_warehouse(wh, RetentionPolicy(), now=now)
    assert done["rows"] == dry["rows"]
    assert wh.read_decisions("members", "old").empty
    assert len(wh.read_decisions("members", "new")) == 1
    assert list(wh.read_conflicts("members")["run_id"]) == ["new"]
    assert len(wh.read_baseline("members")) == 1

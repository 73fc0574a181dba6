"""Retention on SQLite and PostgreSQL: old runs' rows go, the latest successful and running
runs and open rejects stay, the run log lives longer, and a dry run counts exactly what the
real pruning deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from hubspot_sync.retention import RetentionPolicy, prune_warehouse
from hubspot_sync.warehouse.schema import RUN_KEYED_TABLES

NOW = datetime.now(UTC)
POLICY = RetentionPolicy(retention_days=14, run_log_retention_days=400,
                         reject_retention_days=30)


def add_run(wh, entity: str, run_id: str, days_ago: float, status: str = "success",
            rows: int = 3, dry_run: bool = False) -> None:
    """A run started ``days_ago`` with ``rows`` rows in every run-keyed table but
    reject_events, and window_end at its start."""
    wh.start_run(entity, run_id, dry_run=dry_run)
    ids = [f"{run_id}-{i}" for i in range(rows)]
    wh.write_source_snapshot(entity, run_id, [{"source_id": s} for s in ids])
    wh.write_hubspot_snapshot(entity, run_id, [{"source_id": s} for s in ids])
    wh.write_delta(entity, run_id, [{"source_id": s, "action": "create"} for s in ids])
    wh.write_load_outcomes(entity, run_id, [{"source_id": s, "status": "ok"} for s in ids])
    wh.write_source_deletions(entity, run_id, [{"source_id": s, "why": "source_delete",
                                                "action": "flag", "status": "written"}
                                               for s in ids])
    if status != "running":
        wh.finish_run(entity, run_id, status)
    at(wh, "sync_runs", [entity, run_id], started_at=NOW - timedelta(days=days_ago),
       window_end=NOW - timedelta(days=days_ago))


def at(wh, table: str, key: list[str], **values) -> None:
    """Backdate a row (the warehouse stamps the wall clock)."""
    t = wh.tables[table]
    cond = [t.c.entity == key[0], t.c.run_id == key[1]] if table == "sync_runs" \
        else [t.c.entity == key[0], t.c.source_id == key[1]]
    with wh.engine.begin() as conn:
        conn.execute(update(t).where(*cond).values(**values))


def rows_of(wh, entity: str, run_id: str) -> int:
    return sum(wh.counts(entity, run_id)[t] for t in RUN_KEYED_TABLES if t != "reject_events")


@pytest.fixture
def history(wh):
    """members: runs 400+, 100, 20 days old (success), a failed run 30 days old, a recent
    one; companies: its only (latest successful) run is 60 days old, plus an old running
    run. Rejects: one open since 100 days, one resolved 40 days ago, one resolved 5 days
    ago, each seen by the 100-day-old run."""
    add_run(wh, "members", "ancient", 450)
    add_run(wh, "members", "old", 100)
    add_run(wh, "members", "failed", 30, status="failed")
    add_run(wh, "members", "twenty", 20)
    add_run(wh, "members", "recent", 2)
    add_run(wh, "companies", "only", 60)
    add_run(wh, "companies", "stuck", 50, status="running")
    wh.record_rejects("members", "old", [{"source_id": s, "rule": "email"}
                                         for s in ("open", "long_ago", "lately")])
    wh.resolve_rejects("members", "recent", ["long_ago", "lately"])
    at(wh, "rejects", ["members", "long_ago"], resolved_at=NOW - timedelta(days=40))
    at(wh, "rejects", ["members", "lately"], resolved_at=NOW - timedelta(days=5))
    return wh


def test_old_rows_go_and_protected_runs_stay(history):
    wh = history
    summary = prune_warehouse(wh, POLICY, now=NOW)
    assert summary["rows"] == {"source_snapshot": 12, "hubspot_snapshot": 12, "delta": 12,
                               "load_outcomes": 12, "source_deletions": 12,
                               "two_way_decisions": 0, "reject_events": 2, "rejects": 1,
                               "sync_runs": 1, "sync_conflicts": 0}
    for run_id in ("ancient", "old", "failed", "twenty"):
        assert rows_of(wh, "members", run_id) == 0
    assert rows_of(wh, "members", "recent") == 15
    assert rows_of(wh, "companies", "only") == 15  # the entity's latest successful run
    assert rows_of(wh, "companies", "stuck") == 15  # still running
    # Open reject with its sighting stays; resolved 40 days ago goes with its sighting;
    # resolved 5 days ago stays, its sighting in a pruned run goes.
    open_ = wh.open_rejects("members")
    assert list(open_["source_id"]) == ["open"]
    assert list(wh.rejects_for_run("members", "old")["source_id"]) == ["open"]
    assert wh.table_rows(["rejects"]) == {"rejects": 2}
    # The run log: only the 450-day-old run is gone; the others keep counts and details.
    runs = set(wh.runs(limit=0)["run_id"])
    assert runs == {"old", "failed", "twenty", "recent", "only", "stuck"}
    assert wh.get_run("members", "old")["status"] == "success"


def test_dry_run_counts_what_the_real_run_deletes_and_deletes_nothing(history):
    wh = history
    before = wh.table_rows()
    dry = prune_warehouse(wh, RetentionPolicy(dry_run=True), now=NOW)
    assert wh.table_rows() == before
    real = prune_warehouse(wh, RetentionPolicy(), now=NOW)
    after = wh.table_rows()
    assert dry["rows"] == real["rows"]
    assert {t: before[t] - after[t] for t in real["rows"]} == real["rows"]
    assert prune_warehouse(wh, RetentionPolicy(), now=NOW)["rows"] == dict.fromkeys(
        real["rows"], 0)  # nothing left to do


def test_deletes_go_in_batches(history):
    wh = history
    total = wh.table_rows(["delta"])["delta"]
    done = wh.prune_run_rows(NOW - timedelta(days=14), NOW - timedelta(days=30), batch_size=2)
    assert done["delta"] == 12 and wh.table_rows(["delta"])["delta"] == total - 12
    assert wh.prune_rejects(NOW - timedelta(days=30), batch_size=1) == {
        "rejects": 1, "reject_events": 1}  # left to go with the reject


def test_watermark_run_is_kept_after_a_newer_dry_run(wh):
    add_run(wh, "plans", "real", 40)
    add_run(wh, "plans", "dry", 20, dry_run=True)
    prune_warehouse(wh, POLICY, now=NOW)
    assert rows_of(wh, "plans", "real") == 15 and rows_of(wh, "plans", "dry") == 15
    assert wh.last_successful_window_end("plans") is not None


def test_policy_refuses_a_run_log_shorter_than_the_run_data():
    with pytest.raises(ValueError, match="run_log_retention_days"):
        RetentionPolicy(retention_days=30, run_log_retention_days=7)
    with pytest.raises(ValueError, match="at least 1 day"):
        RetentionPolicy(retention_days=0)

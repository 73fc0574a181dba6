"""Disk used by the warehouse for a week of hourly member runs, before and after retention.

Rows are written straight through the Warehouse API (no sync runs): a first full run of
``--members`` records, then hourly runs of ``--changed`` records each, every run writing
its source snapshot (with the raw OfficeRnD record), HubSpot snapshot, delta and load
outcomes, plus ``--rejected`` of the changed records as rejects. Runs are dated over the
past week. Then the retention policy runs (``--keep-days``, default 1, so a week's data is
actually pruned) and the size is measured again, before and after VACUUM.

    .venv/bin/python bench/bench_retention.py [--members 10000] [--changed 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update

from hubspot_sync.retention import RetentionPolicy, prune_warehouse
from hubspot_sync.warehouse import Warehouse


def member(i: int, run: int) -> tuple[dict, dict, dict]:
    """(properties, links, raw) of member ``i`` as of run ``run``."""
    sid = f"64f0c0ffee{i:014d}"
    props = {"email": f"member{i}@example.com", "firstname": f"First{i}",
             "lastname": f"Last{i}", "phone": "+44 20 7946 0000", "officernd_id": sid,
             "jobtitle": f"Role {run}", "city": "London", "membership_start": "2024-01-01"}
    raw = {"_id": sid, "name": f"First{i} Last{i}", "email": props["email"],
           "phone": props["phone"], "company": f"c{i % 2000:06d}", "location": "loc-1",
           "createdAt": "2024-01-01T00:00:00.000Z", "modifiedAt": f"2026-11-{run % 28 + 1:02d}",
           "address": {"city": "London", "country": "GB"}, "tags": ["member"],
           "properties": {"jobTitle": f"Role {run}"}, "status": "active"}
    return props, {"company": f"c{i % 2000:06d}"}, raw


def write_run(wh: Warehouse, run: int, ids: range, rejected: int, started: datetime) -> None:
    run_id = f"scheduled__{started.isoformat()}"
    wh.start_run("members", run_id, window_start=started - timedelta(hours=1),
                 window_end=started)
    rows = [member(i, run) for i in ids]
    sids = [r[0]["officernd_id"] for r in rows]
    wh.write_source_snapshot("members", run_id, [
        {"source_id": s, "changed_at": started, "properties": p, "links": ln, "raw": raw}
        for s, (p, ln, raw) in zip(sids, rows, strict=True)])
    wh.write_hubspot_snapshot("members", run_id, [
        {"source_id": s, "hubspot_id": str(10_000_000 + i), "matched_by": "officernd_id",
         "properties": {**p, "jobtitle": f"Role {run - 1}"}}
        for i, s, (p, _, _) in zip(ids, sids, rows, strict=True)])
    wh.write_delta("members", run_id, [
        {"source_id": s, "hubspot_id": str(10_000_000 + i), "action": "update",
         "changed_fields": ["jobtitle"], "before": {"jobtitle": f"Role {run - 1}"},
         "after": {"jobtitle": f"Role {run}"}, "matched_by": "officernd_id",
         "changed_at": started} for i, s in zip(ids, sids, strict=True)])
    wh.write_load_outcomes("members", run_id, [
        {"source_id": s, "hubspot_id": str(10_000_000 + i), "action": "update",
         "status": "ok"} for i, s in zip(ids, sids, strict=True)])
    wh.record_rejects("members", run_id, [
        {"source_id": s, "rule": "email", "property": "email", "value": "jane at example.com",
         "reason": "not an email address"} for s in sids[:rejected]])
    wh.finish_run("members", run_id, "success", {"extracted": len(sids)})
    t = wh.tables["sync_runs"]
    with wh.engine.begin() as conn:
        conn.execute(update(t).where(t.c.run_id == run_id).values(started_at=started))


def size_mb(path: str) -> float:
    return os.path.getsize(path) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=1_000, help="members changed an hour")
    parser.add_argument("--rejected", type=int, default=60, help="of the changed, rejected")
    parser.add_argument("--hours", type=int, default=24 * 7)
    parser.add_argument("--keep-days", type=int, default=1)
    args = parser.parse_args()
    path = os.path.join(tempfile.mkdtemp(prefix="bench-retention-"), "warehouse.db")
    wh = Warehouse(f"sqlite:///{path}")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    t0 = time.perf_counter()
    for run in range(args.hours):
        started = now - timedelta(hours=args.hours - run)
        start = (run * args.changed) % args.members
        ids = range(args.members) if run == 0 else range(start, start + args.changed)
        write_run(wh, run, ids, args.rejected, started)
    wh.dispose()
    print(f"{args.hours} hourly runs ({args.members} members, first run full, then "
          f"{args.changed} changed an hour) written in {time.perf_counter() - t0:.0f} s")
    rows = wh.table_rows()
    print(f"rows: {rows}")
    print(f"SQLite file after {args.hours} runs: {size_mb(path):.1f} MB")
    policy = RetentionPolicy(retention_days=args.keep_days, reject_retention_days=args.keep_days)
    t0 = time.perf_counter()
    summary = prune_warehouse(wh, policy, now=now)
    print(f"retention ({args.keep_days} day(s)) deleted {summary['rows']} "
          f"in {time.perf_counter() - t0:.1f} s")
    print(f"SQLite file after retention: {size_mb(path):.1f} MB (free pages are reused)")
    with wh.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM"))
    wh.dispose()
    print(f"SQLite file after VACUUM: {size_mb(path):.1f} MB; rows: {wh.table_rows()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

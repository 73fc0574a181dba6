"""How quickly the sync-health view loads with 100,000 open rejects, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_health.py [open_rejects]

The warehouse gets, for three entities: a year of hourly runs in ``sync_runs`` (8,760 each,
bulk-inserted in the table's shape), ``open_rejects`` open rejects of ``members`` over
three rules plus 20,000 resolved ones and 1,000 of ``companies`` (written through
``Warehouse.record_rejects`` / ``resolve_rejects``, as runs write them), 5,000 pending
associations and a 10,000-record dry run. Printed, median of 5 after one warm-up: the
figures of the whole view (``collect``, what the JSON endpoint returns), the rendered
HTML, and drill-down pages 1, 1,000 and the last; then the same without revision 0005's
indexes. PostgreSQL is SYNC_TEST_POSTGRES_URL in a throwaway schema (skipped with a note
when no server answers).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, text

from hubspot_sync.health.page import render_index
from hubspot_sync.health.queries import HealthQueries
from hubspot_sync.health.report import collect
from hubspot_sync.warehouse import COUNT_KEYS, Warehouse

PG_URL = os.environ.get("SYNC_TEST_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
T0 = datetime(2025, 11, 30, tzinfo=UTC)
HOURS = 24 * 365
RULES = {"email": 0.6, "required": 0.3, "unique": 0.1}


def fill(wh: Warehouse, open_rejects: int) -> float:
    started = time.perf_counter()
    runs = wh.tables["sync_runs"]
    with wh.engine.begin() as conn:
        for entity in ("companies", "members", "contracts"):
            rows = [{"entity": entity, "run_id": f"scheduled__{h:05d}",
                     "started_at": T0 + timedelta(hours=h, minutes=1),
                     "finished_at": T0 + timedelta(hours=h, minutes=2),
                     "status": "failed" if h % 97 == 0 else "success",
                     "window_start": T0 + timedelta(hours=h - 1),
                     "window_end": T0 + timedelta(hours=h), "full_refresh": False,
                     "dry_run": False, **dict.fromkeys(COUNT_KEYS, 3), "details": {}}
                    for h in range(HOURS)]
            for i in range(0, len(rows), 5_000):
                conn.execute(insert(runs), rows[i:i + 5_000])
    last = f"scheduled__{HOURS - 1:05d}"
    bad, offset = [], 0
    for rule, share in RULES.items():
        n = int(open_rejects * share)
        bad += [{"source_id": f"m{i:07d}", "rule": rule, "property": "email",
                 "value": f"person{i} at example.com",
                 "reason": f"'person{i} at example.com' is not an email address"}
                for i in range(offset, offset + n)]
        offset += n
    resolved = [{**r, "source_id": f"x{i:07d}"} for i, r in enumerate(bad[:20_000])]
    wh.record_rejects("members", last, bad + resolved)
    wh.resolve_rejects("members", last, [r["source_id"] for r in resolved])
    wh.record_rejects("companies", last, [{"source_id": f"c{i}", "rule": "domain",
                                           "property": "domain", "reason": "no domain"}
                                          for i in range(1_000)])
    wh.add_pending_associations("members", last, [
        {"source_id": f"m{i}", "to_entity": "companies", "to_source_id": f"c{i % 900}",
         "type_id": 279, "reason": f"c{i % 900} is not synced to HubSpot yet"}
        for i in range(5_000)])
    dry = "manual__dry"
    wh.start_run("members", dry, window_end=T0 + timedelta(hours=HOURS), dry_run=True)
    wh.write_delta("members", dry, [
        {"source_id": f"m{i}", "hubspot_id": str(i), "action": "update" if i % 4 else "create",
         "changed_fields": ["firstname", "phone"] if i % 3 else ["email"],
         "before": {"firstname": "Old", "email": "old@example.com"},
         "after": {"firstname": "New", "email": f"p{i}@example.com", "phone": "+44 1"}}
        for i in range(10_000)])
    wh.finish_run("members", dry, "success", {"extracted": 10_000})
    return time.perf_counter() - started


def timed(fn: Callable[[], Any], n: int = 5) -> float:
    fn()  # warm-up (the first query of a connection pays its plan)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(label: str, wh: Warehouse) -> None:
    q = HealthQueries.of(wh)
    rj = wh.tables["rejects"]
    with wh.engine.connect() as conn:
        ids = conn.execute(text(
            f"select min(id), max(id) from {rj.fullname} where entity = 'members' "
            f"and rule = 'email' and resolved_at is null")).one()
    middle = ids[0] + 50 * 1_000
    page = q.rejects_page("members", "email", before=ids[1] + 1, limit=50)
    figures = {
        "view (collect)": timed(lambda: collect(q)),
        "view HTML": timed(lambda: render_index(collect(q), warehouse="w")),
        "rejects page 1": timed(lambda: q.rejects_page("members", "email", limit=50)),
        "rejects page 1,000": timed(lambda: q.rejects_page("members", "email",
                                                           after=middle, limit=50)),
        "rejects last page": timed(lambda: q.rejects_page(
            "members", "email", before=page.rows[-1]["id"] + 1, limit=50)),
        "plan page 1": timed(lambda: q.plan_page("members", "manual__dry")),
    }
    print(f"{label:<28} " + "  ".join(f"{k} {v * 1000:7.1f} ms" for k, v in figures.items()))


def analyze(wh: Warehouse) -> None:
    """Statistics, and on PostgreSQL the visibility map autovacuum keeps (index-only scans
    count the open rejects without visiting the table)."""
    with wh.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if wh.dialect != "postgresql":
            conn.execute(text("ANALYZE"))
            return
        for name in ("sync_runs", "rejects", "pending_associations", "delta"):
            conn.execute(text(f"VACUUM ANALYZE {wh.tables[name].fullname}"))


def run(label: str, url: str, open_rejects: int, schema: str | None = None) -> None:
    wh = Warehouse(url, schema=schema)
    wh.migrate()
    took = fill(wh, open_rejects)
    counts = collect(HealthQueries.of(wh))["entities"]
    members = next(e for e in counts if e["entity"] == "members")
    rules = ", ".join(f"{g['rule']} {g['open']:,}" for g in members["rejects_by_rule"])
    print(f"{label}: filled in {took:.1f} s; members: {members['open_rejects']:,} open rejects "
          f"({rules}), "
          f"{members['pending_associations']:,} pending, plan of "
          f"{sum(members['plan']['actions'].values()):,} records")
    analyze(wh)
    measure(f"{label} (revision head)", wh)
    prefix = f'"{schema}".' if schema else ""
    with wh.engine.begin() as conn:
        conn.execute(text(f"DROP INDEX {prefix}ix_rejects_open_rule_id"))
        conn.execute(text(f"DROP INDEX {prefix}ix_sync_runs_entity_started"))
    analyze(wh)
    measure(f"{label} (without 0005)", wh)
    wh.dispose()


def main() -> None:
    open_rejects = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"machine: {platform.platform()} | {platform.machine()} | cpus {os.cpu_count()} | "
          f"python {platform.python_version()} | load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/health.db", open_rejects)
    schema = f"bench_health_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # no server: say so, the SQLite figures stand
        print(f"PostgreSQL skipped: {type(exc).__name__}: {str(exc)[:100]}")
        return
    try:
        run("PostgreSQL", PG_URL, open_rejects, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


if __name__ == "__main__":
    main()

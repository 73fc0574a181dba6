"""Write and read 100,000 source-snapshot rows on SQLite and PostgreSQL; print seconds.
Also the schema migration of an empty database and the revision check every task process
makes on first use (the database already at head).

    .venv/bin/python bench/bench_warehouse.py [rows]

PostgreSQL is SYNC_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432/test), in a
throwaway schema; skipped with a note when no server answers.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import create_engine, text

from hubspot_sync.warehouse import Warehouse

PG_URL = os.environ.get("SYNC_TEST_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def snapshot(n: int) -> pd.DataFrame:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    return pd.DataFrame({
        "source_id": [f"64f0c0ffee{i:014d}" for i in range(n)],
        "changed_at": [t0 + timedelta(seconds=i) for i in range(n)],
        "properties": [{"email": f"member{i}@example.com", "firstname": f"First{i}",
                        "lastname": f"Last{i}", "phone": "+44 20 7946 0000",
                        "amount": i * 1.25, "officernd_id": f"64f0c0ffee{i:014d}"}
                       for i in range(n)],
        "links": [{"company": f"c{i % 5000}"} for i in range(n)],
        "skip_reason": [None] * n,
        "problems": [[] for _ in range(n)],
        "raw": [{"_id": f"64f0c0ffee{i:014d}", "name": f"First{i} Last{i}",
                 "email": f"member{i}@example.com", "status": "active"} for i in range(n)],
    })


def migrations(label: str, url: str, schema: str | None = None) -> None:
    t = time.perf_counter()
    wh = Warehouse(url, schema=schema)
    wh.migrate()
    migrated = time.perf_counter() - t
    wh.dispose()
    t = time.perf_counter()
    again = Warehouse(url, schema=schema)  # a new task process: only checks the revision
    again.migrate()
    checked = time.perf_counter() - t
    again.dispose()
    print(f"{label:<11} migrate empty {migrated:6.3f} s   check at head {checked:6.3f} s")


def run(label: str, wh: Warehouse, df: pd.DataFrame) -> None:
    wh.start_run("members", "bench", None, None)
    t = time.perf_counter()
    wh.write_source_snapshot("members", "bench", df)
    written = time.perf_counter() - t
    t = time.perf_counter()
    back = wh.read_source_snapshot("members", "bench")
    read = time.perf_counter() - t
    t = time.perf_counter()
    wh.write_source_snapshot("members", "bench", df)  # replace: delete + insert
    rewritten = time.perf_counter() - t
    assert len(back) == len(df)
    print(f"{label:<11} write {written:6.2f} s   read {read:6.2f} s   "
          f"rewrite {rewritten:6.2f} s   ({len(df):,} rows)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    df = snapshot(n)
    with tempfile.TemporaryDirectory() as tmp:
        migrations("sqlite", f"sqlite:///{tmp}/bench.db")
        wh = Warehouse(f"sqlite:///{tmp}/bench.db")
        run("sqlite", wh, df)
        wh.dispose()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            version = conn.execute(text("show server_version")).scalar()
    except Exception as exc:  # no server: say so and stop
        print(f"postgresql  skipped: not reachable at {PG_URL} ({type(exc).__name__})")
        return
    print(f"PostgreSQL {version} at {engine.url.render_as_string(hide_password=True)}")
    wh = Warehouse(PG_URL, schema=schema)
    try:
        migrations("postgresql", PG_URL, schema)
        run("postgresql", wh, df)
    finally:
        wh.dispose()
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


if __name__ == "__main__":
    main()

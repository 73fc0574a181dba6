"""Benchmark validate_rows on a realistic members batch (prints figures; not a timed test).

    .venv/bin/python bench/bench_validation.py [--rows 100000] [--bad 0.03] [--docs DIR]

Builds a frame shaped like the output of compute_delta for include/mappings/members.yaml
(every mapped property, ``problems``, create/update actions) with a few per cent of bad rows
of every kind (invalid and missing emails, duplicate emails, impossible and out-of-range
dates, unmapped values, over-long text), runs validate_rows with Data Docs once untraced for
the wall time and once under tracemalloc for the Python heap peak, and prints the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from hubspot_sync.mapping import load_mapping
from hubspot_sync.validation import validate_rows

ROOT = Path(__file__).resolve().parents[1]

CITIES = ["London", "Berlin", "Sofia", "Lisbon", "New York", "Austin", "Paris", "Madrid"]
STATUSES = ["active", "former", "pending", "contact", "lead", "drop-in"]


def build_rows(n: int, bad: float, seed: int = 7):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ids = np.array([f"{0x5f3e000000 + i:x}{i % 7919:06x}" for i in range(n)], dtype=object)
    first = np.array(["Jane", "John", "Ana", "Ivan", "Maria", "Li", "Omar", "Eva"], dtype=object)
    last = np.array(["Doe", "Smith", "Petrova", "Silva", "Müller", "Chen", "Haddad"], dtype=object)
    emails = np.array([f"member{i}@example{i % 97}.com" for i in range(n)], dtype=object)
    days = rng.integers(0, 3650, n)
    dates = (pd.Timestamp("2015-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")
    frame = pd.DataFrame({
        "source_id": ids,
        "action": np.where(rng.random(n) < 0.3, "create", "update"),
        "id_value": ids,
        "problems": [[] for _ in range(n)],
        "email": emails,
        "firstname": first[rng.integers(0, len(first), n)],
        "lastname": last[rng.integers(0, len(last), n)],
        "phone": [f"+44 20 7{i % 1000:03d} {i % 10000:04d}" for i in range(n)],
        "address": [f"{i % 300} High Street" for i in range(n)],
        "city": np.array(CITIES, dtype=object)[rng.integers(0, len(CITIES), n)],
        "state": None,
        "zip": [f"N{i % 20} {i % 9}AB" for i in range(n)],
        "country": "GB",
        "officernd_status": np.array(STATUSES, dtype=object)[rng.integers(0, len(STATUSES), n)],
        "officernd_start_date": np.asarray(dates, dtype=object),
    })
    # A few per cent of bad rows, spread over the kinds of problems real data has.
    picks = rng.choice(n, size=int(n * bad), replace=False)
    kinds = np.array_split(picks, 7)
    frame.loc[kinds[0], "email"] = [f"member{i} at example.com" for i in kinds[0]]
    frame.loc[kinds[1], "email"] = None
    frame.loc[kinds[2], "email"] = frame["email"].iloc[kinds[2] - 1].to_numpy()  # duplicates
    frame.loc[kinds[3], "officernd_start_date"] = "2023-02-30"
    frame.loc[kinds[4], "officernd_start_date"] = "1850-06-01"
    for pos in kinds[5]:
        frame.at[pos, "problems"] = [("officernd_status", "vip",
                                      "'vip' has no entry in the value map of officernd_status")]
    frame.loc[kinds[6], "address"] = "x" * 70_000
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad", type=float, default=0.03, help="share of bad rows")
    parser.add_argument("--docs", type=Path, default=None, help="Data Docs folder (default: temp)")
    args = parser.parse_args()

    mapping = load_mapping(ROOT / "include" / "mappings" / "members.yaml")
    definitions = {"email": {"name": "email", "type": "string", "fieldType": "text",
                             "hubspotDefined": True}}
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (import cost reported apart from the run)
    import_s = time.perf_counter() - started
    rows = build_rows(args.rows, args.bad)
    with tempfile.TemporaryDirectory() as tmp:
        docs = args.docs or Path(tmp)
        started = time.perf_counter()
        outcome = validate_rows(rows, mapping, definitions, run_id="bench__wall", docs_dir=docs)
        wall = time.perf_counter() - started
        tracemalloc.start()
        started = time.perf_counter()
        validate_rows(rows, mapping, definitions, run_id="bench__traced", docs_dir=docs)
        traced_wall = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        docs_size = sum(f.stat().st_size for f in Path(docs).rglob("*") if f.is_file())

        print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | "
              f"cpus {os.cpu_count()} | python {platform.python_version()}")
        print(f"rows: {len(rows)} x {len(mapping.properties)} mapped properties "
              f"({args.bad:.0%} bad rows injected)")
        print(f"great_expectations import: {import_s:.2f} s")
        print(f"validate_rows wall time: {wall:.2f} s ({len(rows) / wall:,.0f} rows/s)")
        print(f"validate_rows under tracemalloc: {traced_wall:.2f} s, "
              f"Python heap peak {peak / 2**20:.1f} MiB")
        print(f"process peak RSS (ru_maxrss): {maxrss_kb / 1024:.1f} MiB")
        print(f"Data Docs: {docs_size / 2**20:.1f} MiB under {docs}")
        print(f"valid {len(outcome.valid)}, rejected records {outcome.rejected}, "
              f"reject rows {len(outcome.rejects)}, ratio {outcome.rejected_ratio:.2%}, "
              f"exceeds members threshold {mapping.max_rejected_ratio}: "
              f"{outcome.exceeds(mapping.max_rejected_ratio)}")
        print(outcome.summary())


if __name__ == "__main__":
    main()

"""How many HubSpot calls and how much time a sync spends, at scale.

Runs the declared steps (``hubspot_sync.steps.STEPS``, the list the DAG tasks are built
from) in-process against both sandboxes over HTTP, with the HubSpot sandbox at a real
portal's burst limit, and prints:

1. the first sync of companies and members at ``--scale`` members (everything is new);
2. an hourly run after ``--changed`` members changed: the calls it needs (about N/100
   writes) and the time;
3. the same window again: zero writes.

    .venv/bin/python bench/bench_sync.py --scale 10000 --changed 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-sync-"))


def run_entity(entity: str, mappings, hook, source, warehouse, window, run_id: str) -> dict:
    """One run of ``entity``: the declared steps, in order, in this process."""
    from hubspot_sync.steps import run_steps
    from hubspot_sync.steps.context import EntityRun

    run = EntityRun(mapping=mappings[entity], run_id=run_id, mappings=mappings, window=window,
                    _warehouse=warehouse, _hook=hook, _source=source)
    before = hook.call_count
    writes_before = hook.write_call_count
    started = time.perf_counter()
    counts = run_steps(run)["report"]
    return {**counts, "seconds": time.perf_counter() - started,
            "calls": hook.call_count - before, "writes": hook.write_call_count - writes_before}


def line(label: str, r: dict) -> str:
    return (f"{label:<34} {r['seconds']:7.1f} s  extracted {r['extracted']:>7}  "
            f"created {r['created']:>6}  updated {r['updated']:>6}  unchanged {r['unchanged']:>6}"
            f"  rejected {r['rejected']:>5}  calls {r['calls']:>5}  writes {r['writes']:>5}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10_000, help="members in the source")
    parser.add_argument("--changed", type=int, default=1_000, help="members changed in an hour")
    parser.add_argument("--burst-limit", type=int, default=190,
                        help="HubSpot requests per 10 s (Professional: 190)")
    args = parser.parse_args()

    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.steps.context import RunWindow
    from hubspot_sync.warehouse import Warehouse
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.officernd import OfficeRnDSandbox

    print(f"machine: {platform.platform()} | {platform.machine()} | cpus {os.cpu_count()} | "
          f"python {platform.python_version()}")
    print(f"scale {args.scale} members, {args.changed} changed, HubSpot burst limit "
          f"{args.burst_limit}/10 s (sandbox), OfficeRnD reads unthrottled")
    mappings = load_mappings().mappings
    with HubSpotSandbox(port=0, burst_limit=args.burst_limit) as hs, \
            OfficeRnDSandbox(port=0, scale=args.scale, rate_limit=0, token_rate_limit=0) as od:
        warehouse = Warehouse(f"sqlite:///{tempfile.mkdtemp()}/warehouse.db")
        hook = HubSpotHook.from_url(hs.url, "sandbox-token")
        source = OfficeRnDSource.from_url(od.url, "sandbox-client", "sandbox-secret", "sandbox",
                                          token_url=f"{od.url}/oauth/token")
        now = datetime.now(UTC)
        first = RunWindow(None, now, False, "bench: first run")
        for entity in ("companies", "members"):
            r = run_entity(entity, mappings, hook, source, warehouse, first, f"first-{entity}")
            print(line(f"first sync: {entity}", r))

        hour = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        od.set_clock(hour + timedelta(minutes=1))
        od.mutate(resource="members", update=args.changed, seed=7)
        window = RunWindow(hour, hour + timedelta(hours=1), False, "bench: hourly")
        r = run_entity("members", mappings, hook, source, warehouse, window, "hourly-1")
        print(line(f"hourly run, {args.changed} changed", r))
        written = r["created"] + r["updated"]
        if written:
            print(f"  -> {r['writes']} write calls for {written} written records "
                  f"({r['writes'] / written * 100:.2f} per 100), {r['calls']} calls in all; "
                  f"{written / r['seconds']:.0f} records/s")
        again = run_entity("members", mappings, hook, source, warehouse, window, "hourly-2")
        print(line("same window again", again))
        limited = sum(s["count"] for s in hs.stats()["requests"] if s["status"] == 429)
        print(f"429 responses from the sandbox: {limited}; seconds the hook paced itself: "
              f"{hook.slept_for_rate_limit:.1f}")
        warehouse.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

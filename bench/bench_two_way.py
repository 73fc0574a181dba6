"""What a two-way hourly run costs in API calls on each side.

Runs the declared steps (``hubspot_sync.steps.STEPS``) in-process against both sandboxes
over HTTP, at zero latency and no rate limits (the calls are counted, not timed):

1. first sync of companies and members at ``--scale`` members;
2. ``--edits`` contacts edited in HubSpot (phone) and ``--edits`` members changed in
   OfficeRnD (the sandbox's user-like mutations), then one hourly members run: HubSpot
   calls by route, OfficeRnD calls by route, records written each way, conflicts;
3. the same window again: zero writes on both sides.

    .venv/bin/python bench/bench_two_way.py --scale 10000 --edits 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-two-way-"))


def run_entity(entity: str, mappings, hook, od, warehouse, window, run_id: str) -> dict:
    """One run of ``entity`` (the declared steps, in order); its counts and the calls it
    made on each side, by route. A fresh OfficeRnD source per run: nothing is served from
    an earlier run's cache (an Airflow task is a process of its own)."""
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.steps import run_steps
    from hubspot_sync.steps.context import EntityRun

    source = OfficeRnDSource.from_url(od.url, "sandbox-client", "sandbox-secret", "sandbox",
                                      token_url=f"{od.url}/oauth/token", token_cache_dir=None)

    run = EntityRun(mapping=mappings[entity], run_id=run_id, mappings=mappings, window=window,
                    _warehouse=warehouse, _hook=hook, _source=source)
    hs_before, od_before = Counter(hook.calls), Counter(source.calls)
    started = time.perf_counter()
    report = run_steps(run)["report"]
    return {**report, "seconds": time.perf_counter() - started,
            "hubspot": Counter(hook.calls) - hs_before,
            "officernd": Counter(source.calls) - od_before}


def print_calls(title: str, calls: Counter) -> None:
    print(f"  {title}: {sum(calls.values())} calls")
    for (method, route), n in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {n:>6}  {method:<5} {route}")


def summary(label: str, r: dict) -> None:
    hs_writes = sum(n for (m, route), n in r["hubspot"].items()
                    if m != "GET" and not route.endswith(("/batch/read", "/search")))
    od_writes = sum(n for (m, route), n in r["officernd"].items()
                    if m in ("PUT", "POST") and route != "/oauth/token")
    print(f"{label}: {r['seconds']:.1f} s; to HubSpot: created {r['created']} updated "
          f"{r['updated']}; to OfficeRnD: updated {r.get('officernd_updated', 0)} created "
          f"{r.get('officernd_created', 0)} rejected {r.get('officernd_rejected', 0)}; "
          f"conflicts {r.get('two_way_conflicts', 0)}; write calls HubSpot {hs_writes}, "
          f"OfficeRnD {od_writes}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10_000, help="members in OfficeRnD")
    parser.add_argument("--edits", type=int, default=1_000,
                        help="records edited on each side in the hour")
    args = parser.parse_args()

    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.steps.context import RunWindow
    from hubspot_sync.warehouse import Warehouse
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.officernd import OfficeRnDSandbox

    print(f"machine: {platform.platform()} | {platform.machine()} | cpus {os.cpu_count()} | "
          f"python {platform.python_version()}")
    print(f"scale {args.scale} members; {args.edits} HubSpot-side edits (contact phone) + "
          f"{args.edits} OfficeRnD-side edits (sandbox mutations); sandboxes at 0 latency, "
          "no rate limits")
    mappings = load_mappings().mappings
    with HubSpotSandbox(port=0, burst_limit=0, search_limit=0) as hs, \
            OfficeRnDSandbox(port=0, scale=args.scale, rate_limit=0, token_rate_limit=0) as od:
        warehouse = Warehouse(f"sqlite:///{tempfile.mkdtemp()}/warehouse.db")
        hook = HubSpotHook.from_url(hs.url, "sandbox-token", search_per_second=0)
        now = datetime.now(UTC)
        for entity in ("companies", "members"):
            r = run_entity(entity, mappings, hook, od, warehouse,
                           RunWindow(None, now, False, "bench: first run"), f"first-{entity}")
            summary(f"first sync: {entity}", r)

        # The hour: people edit on both sides after the first sync.
        start = datetime.now(UTC)
        od.set_clock(start + timedelta(minutes=1))
        editor = HubSpotHook.from_url(hs.url, "sandbox-token", search_per_second=0)
        contacts = sorted(warehouse.id_map("members").items())
        step = max(1, len(contacts) // max(1, args.edits))
        edited = contacts[::step][:args.edits]
        editor.batch_update("contacts", [{"id": hid, "properties": {"phone": f"+1 555 {i:05d}"}}
                                         for i, (_, hid) in enumerate(edited)])
        od.mutate(resource="members", update=args.edits, seed=7)
        window = RunWindow(start, start + timedelta(hours=1), False, "bench: hourly")
        r = run_entity("members", mappings, hook, od, warehouse, window, "hourly-1")
        summary("two-way hourly run", r)
        print_calls("HubSpot", r["hubspot"])
        print_calls("OfficeRnD", r["officernd"])
        again = run_entity("members", mappings, hook, od, warehouse, window, "hourly-2")
        summary("same window again", again)
        print_calls("HubSpot", again["hubspot"])
        print_calls("OfficeRnD", again["officernd"])
        if os.environ.get("BENCH_DEBUG"):
            d = warehouse.read_delta("members", "hourly-2", ["create", "update"])
            print(d[["source_id", "action", "changed_fields", "reason"]].to_string()[:3000])
            c = warehouse.read_conflicts("members", run_id="hourly-2")
            print(c.to_string()[:3000])
        warehouse.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

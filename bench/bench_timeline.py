"""HubSpot calls the timeline step spends for N events, and for the same window again.

Runs the declared steps in-process against both sandboxes over HTTP: ``--events`` new
OfficeRnD contracts signed in one hour (each a new deal with one "signed" note), then the
same hour again (every event already written: no note call), then the same N events after
a lost answer (every create's outcome unknown: looked up on the deals, nothing re-created).

    .venv/bin/python bench/bench_timeline.py --events 250
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-timeline-"))

NOTE_ROUTES = ("/crm/v3/objects/{objectType}/batch/create",
               "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
               "/crm/v3/objects/{objectType}/batch/read")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=250, help="contracts signed in the hour")
    args = parser.parse_args()

    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.steps import STEP_NAMES, STEPS, call_step
    from hubspot_sync.steps.context import EntityRun, RunWindow
    from hubspot_sync.warehouse import Warehouse
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.officernd import OfficeRnDSandbox

    mappings = load_mappings().mappings
    timeline = STEPS[STEP_NAMES.index("timeline")]
    with HubSpotSandbox(port=0, burst_limit=0) as hs, \
            OfficeRnDSandbox(port=0, scale=500, rate_limit=0, token_rate_limit=0) as od:
        warehouse = Warehouse(f"sqlite:///{tempfile.mkdtemp()}/warehouse.db")
        hook = HubSpotHook.from_url(hs.url, "sandbox-token")
        source = OfficeRnDSource.from_url(od.url, "sandbox-client", "sandbox-secret", "sandbox",
                                          token_url=f"{od.url}/oauth/token")
        hour = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0,
                                                                 microsecond=0)
        od.set_clock(hour + timedelta(minutes=5))
        company = sorted(c["_id"] for c in od.state.records("companies"))[0]
        for k in range(args.events):
            od.state.insert_record("contracts", {
                "number": f"CON-8{k:05d}", "company": company, "member": None,
                "status": "signed", "signDate": hour.isoformat(), "type": "new",
                "startDate": "2026-12-01T00:00:00.000Z", "endDate": None, "plans": [],
                "baseTotal": 0})
        window = RunWindow(hour, hour + timedelta(hours=1), False, "bench")

        def run(run_id: str, lost: bool = False) -> tuple[Counter, float, dict]:
            r = EntityRun(mapping=mappings["contracts"], run_id=run_id, mappings=mappings,
                          window=window, _warehouse=warehouse, _hook=hook, _source=source)
            outputs: dict = {}
            for step in STEPS[:STEP_NAMES.index("timeline")]:
                if step.applies_to(r.mapping):
                    outputs[step.name] = call_step(step, r, outputs)
            before = Counter({route: n for (_, route), n in hook.calls.items()})
            if lost:
                hs.configure_faults(lost_error_rate=1.0, seed=1)
            started = time.perf_counter()
            try:
                out = call_step(timeline, r, outputs)["units"]["contracts"]
            finally:
                hs.configure_faults()
            seconds = time.perf_counter() - started
            after = Counter({route: n for (_, route), n in hook.calls.items()})
            return after - before, seconds, out["counts"]

        for label, run_id, lost in (("first run (N new events)", "bench_1", False),
                                    ("same hour again", "bench_2", False)):
            calls, seconds, counts = run(run_id, lost)
            print(f"{label:<28} {args.events} events: {sum(calls.values())} HubSpot calls "
                  f"({', '.join(f'{k} {calls[k]}' for k in NOTE_ROUTES if calls[k])}) "
                  f"in {seconds:.2f} s; {dict(counts)}")
        # the same number of events again, their create answers lost, then the next run
        for k in range(args.events):
            od.state.insert_record("contracts", {
                "number": f"CON-9{k:05d}", "company": company, "member": None,
                "status": "signed", "signDate": hour.isoformat(), "type": "new",
                "startDate": "2026-12-01T00:00:00.000Z", "endDate": None, "plans": [],
                "baseTotal": 0})
        for label, run_id, lost in (("answers lost", "bench_3", True),
                                    ("next run looks them up", "bench_4", False)):
            calls, seconds, counts = run(run_id, lost)
            print(f"{label:<28} {args.events} events: {sum(calls.values())} HubSpot calls "
                  f"({', '.join(f'{k} {calls[k]}' for k in NOTE_ROUTES if calls[k])}) "
                  f"in {seconds:.2f} s; {dict(counts)}")
        notes = hs.state.counts()["notes"]
        print(f"notes in HubSpot: {notes} (expected {2 * args.events})")
        warehouse.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

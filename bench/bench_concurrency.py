"""How much of HubSpot's burst limit the sync uses at real latency.

Runs the declared steps in-process (as ``bench_sync.py``) against both sandboxes over HTTP,
the HubSpot sandbox answering with a lognormal latency (median ``--latency-ms``, 95th
percentile ``--latency-p95-ms``) under a ``--burst-limit`` per 10 s, for:

1. the first sync of companies and members at ``--scale`` members;
2. an hourly run after ``--changed`` members changed;
3. two workers sharing the token, each with a budget of its own (as two processes): the
   429s they provoke while learning of each other from the headers.

Per run and per step that calls HubSpot it prints the calls, the 429s, the step's wall
time, the time waiting on HubSpot (wall time with at least one request in progress) and
the share of the limit used: calls / (seconds x limit per second), over the steps' wall
time and over the time waiting on HubSpot.

    .venv/bin/python bench/bench_concurrency.py --scale 10000 --changed 1000
    .venv/bin/python bench/bench_concurrency.py --scale 10000 --max-in-flight 1  # before
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
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-concurrency-"))


class SandboxProcess:
    """The HubSpot sandbox in a process of its own (``python -m sandbox hubspot``): its CPU
    work does not share this process's GIL with the client, as HubSpot's does not."""

    def __init__(self, burst_limit: int, faults: dict) -> None:
        import json
        import socket
        import subprocess

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "hubspot", "--port", str(port),
             "--burst-limit", str(burst_limit), "--faults", json.dumps(faults)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> SandboxProcess:
        import requests

        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/_sandbox/stats", timeout=2)
                return self
            except requests.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the HubSpot sandbox did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def stats(self) -> dict:
        import requests

        return requests.get(f"{self.url}/_sandbox/stats", timeout=30).json()


def limited(hs) -> int:
    return sum(s["count"] for s in hs.stats()["requests"] if s["status"] == 429)


def run_entity(label: str, entity: str, mappings, hook, source, warehouse, window, run_id: str,
               hs, per_second: float) -> dict:
    """One run of ``entity``, step by step, timing the steps that call HubSpot."""
    from hubspot_sync.steps import STEPS, call_step
    from hubspot_sync.steps.context import EntityRun

    run = EntityRun(mapping=mappings[entity], run_id=run_id, mappings=mappings, window=window,
                    _warehouse=warehouse, _hook=hook, _source=source)
    outputs: dict = {}
    rows = []
    started = time.perf_counter()
    for step in STEPS:
        if not step.applies_to(run.mapping):
            continue
        calls0, busy0, l0 = hook.call_count, hook.hubspot_seconds, limited(hs)
        t0 = time.perf_counter()
        outputs[step.name] = call_step(step, run, outputs)
        wall = time.perf_counter() - t0
        calls = hook.call_count - calls0
        if calls:
            rows.append({"step": step.name, "calls": calls, "wall": wall,
                         "busy": hook.hubspot_seconds - busy0, "429": limited(hs) - l0})
    total = time.perf_counter() - started
    calls = sum(r["calls"] for r in rows)
    wall = sum(r["wall"] for r in rows)
    busy = sum(r["busy"] for r in rows)
    rejected = sum(r["429"] for r in rows)
    print(f"{label}: {total:.1f} s in all; HubSpot steps {wall:.1f} s, waiting on HubSpot "
          f"{busy:.1f} s; {calls} calls, {rejected} 429s ({rejected / max(calls, 1):.2%}); "
          f"limit used {calls / max(wall, 1e-9) / per_second:.0%} of the steps' time, "
          f"{calls / max(busy, 1e-9) / per_second:.0%} while waiting on HubSpot")
    for r in rows:
        print(f"    {r['step']:<22} {r['calls']:>6} calls {r['429']:>4} 429s "
              f"{r['wall']:7.1f} s step {r['busy']:7.1f} s waiting  "
              f"{r['calls'] / max(r['busy'], 1e-9) / per_second:5.0%} of the limit")
    return {"calls": calls, "wall": wall, "busy": busy, "429": rejected, "total": total}


def shared_token_check(hs_url: str, hs, ids: int, max_in_flight: int | None,
                       per_second: float) -> None:
    """Two workers on one token, each with a budget of its own (as two Airflow worker
    processes): they only learn of each other from the rate-limit headers."""
    import threading

    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.hubspot_client.budget import PortalBudget

    hooks = []
    for _ in range(2):
        hook = HubSpotHook.from_url(hs_url, "sandbox-token", max_in_flight=max_in_flight)
        hook._get_session()
        hook._budget = PortalBudget()  # what a separate process would have
        hooks.append(hook)
    before = limited(hs)
    started = time.perf_counter()
    threads = [threading.Thread(target=h.batch_read, args=(
        "contacts", [f"x{n}@example.com" for n in range(ids)], ["email"]),
        kwargs={"id_property": "email"}) for h in hooks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    calls = sum(h.call_count for h in hooks)
    rejected = limited(hs) - before
    print(f"two workers, one token, budgets of their own: {calls} calls in {wall:.1f} s, "
          f"{rejected} 429s ({rejected / max(calls, 1):.2%}), limit used "
          f"{calls / wall / per_second:.0%}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10_000, help="members in the source")
    parser.add_argument("--changed", type=int, default=None,
                        help="members changed before the hourly run (default 10 %%)")
    parser.add_argument("--burst-limit", type=int, default=190, help="HubSpot requests / 10 s")
    parser.add_argument("--latency-ms", type=float, default=250, help="median latency")
    parser.add_argument("--latency-p95-ms", type=float, default=400, help="95th percentile")
    parser.add_argument("--max-in-flight", type=int, default=None,
                        help="requests in flight (default: the hook's default)")
    parser.add_argument("--in-process", action="store_true",
                        help="serve the HubSpot sandbox on a thread of this process")
    parser.add_argument("--shared-ids", type=int, default=30_000,
                        help="ids each of the two workers on one token reads")
    args = parser.parse_args()
    changed = args.changed if args.changed is not None else args.scale // 10

    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.steps.context import RunWindow
    from hubspot_sync.warehouse import Warehouse
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.officernd import OfficeRnDSandbox

    print(f"machine: {platform.platform()} | {platform.machine()} | cpus {os.cpu_count()} | "
          f"python {platform.python_version()}")
    print(f"scale {args.scale} members, {changed} changed; HubSpot sandbox: burst limit "
          f"{args.burst_limit}/10 s, latency median {args.latency_ms:g} ms, p95 "
          f"{args.latency_p95_ms:g} ms, {'in this' if args.in_process else 'its own'} "
          f"process; max in flight {args.max_in_flight or 'default'}; OfficeRnD reads "
          "unthrottled, no latency")
    per_second = args.burst_limit / 10
    mappings = load_mappings().mappings
    faults = {"latency_ms": args.latency_ms, "latency_p95_ms": args.latency_p95_ms, "seed": 1}
    hubspot = (HubSpotSandbox(port=0, burst_limit=args.burst_limit, faults=faults)
               if args.in_process else SandboxProcess(args.burst_limit, faults))
    with hubspot as hs, \
            OfficeRnDSandbox(port=0, scale=args.scale, rate_limit=0, token_rate_limit=0) as od:
        warehouse = Warehouse(f"sqlite:///{tempfile.mkdtemp()}/warehouse.db")
        hook = HubSpotHook.from_url(hs.url, "sandbox-token", max_in_flight=args.max_in_flight)
        source = OfficeRnDSource.from_url(od.url, "sandbox-client", "sandbox-secret", "sandbox",
                                          token_url=f"{od.url}/oauth/token")
        now = datetime.now(UTC)
        first = RunWindow(None, now, False, "bench: first run")
        for entity in ("companies", "members"):
            run_entity(f"first sync: {entity}", entity, mappings, hook, source, warehouse,
                       first, f"first-{entity}", hs, per_second)
        hour = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        od.set_clock(hour + timedelta(minutes=1))
        od.mutate(resource="members", update=changed, seed=7)
        window = RunWindow(hour, hour + timedelta(hours=1), False, "bench: hourly")
        run_entity(f"hourly run, {changed} changed", "members", mappings, hook, source,
                   warehouse, window, "hourly-1", hs, per_second)
        time.sleep(10.5)  # an empty window for the next check
        shared_token_check(hs.url, hs, args.shared_ids, args.max_in_flight, per_second)
        print(f"hook: max in flight {hook.max_in_flight}, {hook.rate_limited} 429s seen, "
              f"{hook.slept_for_rate_limit:.1f} s paced (summed over threads)")
        warehouse.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

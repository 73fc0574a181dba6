"""One table: the sync's calls against their floor and the rate limit, beside a plain loader.

For each scale (members; the OfficeRnD sandbox has one company per five members), rows:

- ``first sync``: companies then members, everything new;
- ``hourly 1 %`` / ``hourly 10 %``: the next hours, with that share of the members changed
  in OfficeRnD (companies unchanged; their hourly run is part of the row, as on the
  schedule, and reads nothing);
- ``unchanged re-run``: the 10 % hour's window run again, nothing changed since: every
  record of the window is read again, none written.

Our side runs the declared steps in-process (``run_steps``) against both sandboxes over HTTP;
the HubSpot sandbox answers after a latency drawn per request (median ``--latency-ms``,
95th percentile ``--latency-p95-ms``) behind a burst limit of ``--burst-limit`` per 10 s.
OfficeRnD reads have no latency and no limit. Columns:

- ``calls``: requests the HubSpot sandbox received (429s and retries included);
- ``floor``: the fewest calls the run's recorded work allows (``hubspot_sync.call_floor``);
  ``ratio`` is calls / floor, ``-`` when both are 0;
- ``wall``: the row's runs, start to end (local work included);
- ``limit``: the time the rate limit alone needs for those calls (calls / (burst / 10) s);
- ``used``: the share of the limit used while waiting on HubSpot: calls / (seconds with at
  least one HubSpot request in progress x burst / 10); a run shorter than the 10 s window
  can pass 100 % (the burst allows ``--burst-limit`` calls at once);
- ``429``: rate-limited answers.

The plain loader (``bench/naive_loader.py``, the official SDK, serial) runs on its own
HubSpot sandbox (its own portal and limit, same latency) over the same OfficeRnD data. Its
work does not depend on what changed (every record, every run), so it is measured once per
scale for the hourly rows (in the 10 % hour; the other hourly rows show that run, marked
``=``) and, at scales up to ``--naive-first-max``, for the first sync; above that its portal
is filled untimed at no latency first and the first-sync cell says ``not run``.
``--naive all`` measures every row.

    .venv/bin/python bench/bench_table.py                        # make bench
    .venv/bin/python bench/bench_table.py --scales 10000 --latency-ms 50
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-table-"))

from naive_loader import NaiveLoader, prepare_portal, read_officernd  # noqa: E402

ENTITIES = ("companies", "members")


@dataclass
class Row:
    label: str
    calls: int
    floor: int | None
    seconds: float
    hubspot_seconds: float
    limited: int
    note: str = ""


def crm_requests(hs: Any) -> tuple[int, int]:
    """(requests, 429 answers) the HubSpot sandbox received so far."""
    rows = [r for r in hs.stats()["requests"] if not r["route"].startswith("/_sandbox")]
    return sum(r["count"] for r in rows), sum(r["count"] for r in rows if r["status"] == 429)


def run_entity(entity: str, mappings: Any, hook: Any, source: Any, warehouse: Any,
               window: Any, run_id: str) -> tuple[dict[str, Any], Any]:
    """One run of ``entity`` (the declared steps, in order); its outputs and work."""
    from hubspot_sync.call_floor import run_work
    from hubspot_sync.steps import run_steps
    from hubspot_sync.steps.context import EntityRun

    run = EntityRun(mapping=mappings[entity], run_id=run_id, mappings=mappings, window=window,
                    _warehouse=warehouse, _hook=hook, _source=source)
    outputs = run_steps(run)
    return outputs, run_work(run, outputs)


def ours(label: str, hs: Any, hook: Any, window: Any, run_id: str, env: dict[str, Any],
         detail: list[str]) -> Row:
    calls0, limited0 = crm_requests(hs)
    waited0 = hook.hubspot_seconds
    started = time.perf_counter()
    floor = 0
    for entity in ENTITIES:
        before = dict(hook.calls)
        outputs, work = run_entity(entity, env["mappings"], hook, env["source"],
                                   env["warehouse"], window, f"{run_id}-{entity}")
        entity_floor = work.floor()
        floor += entity_floor
        report = outputs["report"]
        detail.append(f"  {label:<17} {entity:<9} extracted {report['extracted']:>6}  "
                      f"created {report['created']:>6}  updated {report['updated']:>6}  "
                      f"unchanged {report['unchanged']:>6}  rejected {report['rejected']:>5}"
                      f"  floor {entity_floor:>5}")
        if env["routes"]:
            calls = {f"{m} {r}": n - before.get((m, r), 0) for (m, r), n in hook.calls.items()
                     if n - before.get((m, r), 0)}
            detail.append(f"    floor {work.calls()}\n    calls {calls}")
    seconds = time.perf_counter() - started
    calls, limited = crm_requests(hs)
    print(f"  done: {label}, {calls - calls0} calls (floor {floor}) in {seconds:.1f} s",
          file=sys.stderr, flush=True)  # progress while the table is being measured
    return Row(label, calls - calls0, floor, seconds, hook.hubspot_seconds - waited0,
               limited - limited0)


def naive(label: str, nhs: Any, source: Any) -> Row:
    calls0, limited0 = crm_requests(nhs)
    started = time.perf_counter()
    companies, members = read_officernd(source)
    result = NaiveLoader(nhs.url, nhs.token).run(companies, members)
    seconds = time.perf_counter() - started
    calls, limited = crm_requests(nhs)
    print(f"  done: plain loader, {label}, {calls - calls0} calls in {seconds:.1f} s",
          file=sys.stderr, flush=True)
    return Row(label, calls - calls0, None, seconds, result.hubspot_seconds, limited - limited0,
               note=f"{result.errors} refused")


def fill_untimed(nhs: Any, source: Any, latency: dict[str, Any], burst: int) -> None:
    """The plain loader's first run at no latency and no limit (not measured)."""
    nhs.configure_faults()
    nhs.limiter.burst_limit = 0
    companies, members = read_officernd(source)
    NaiveLoader(nhs.url, nhs.token).run(companies, members)
    nhs.limiter.burst_limit = burst
    nhs.limiter.reset()
    nhs.configure_faults(**latency)


def latency_settings(args: argparse.Namespace) -> dict[str, Any]:
    from sandbox.hubspot.faults import Faults

    cfg: dict[str, Any] = {"latency_ms": args.latency_ms, "seed": 12}
    if args.latency_p95_ms and "latency_p95_ms" in Faults.KEYS:
        cfg["latency_p95_ms"] = args.latency_p95_ms
    return cfg


def bench_scale(scale: int, args: argparse.Namespace, detail: list[str]
                ) -> list[tuple[Row, Row | None]]:
    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.steps.context import RunWindow
    from hubspot_sync.warehouse import Warehouse
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.officernd import OfficeRnDSandbox

    latency = latency_settings(args)
    measure_first = args.naive == "all" or (args.naive == "auto"
                                            and scale <= args.naive_first_max)
    rows: list[tuple[Row, Row | None]] = []
    with HubSpotSandbox(port=0, burst_limit=args.burst_limit, faults=latency) as hs, \
            HubSpotSandbox(port=0, burst_limit=args.burst_limit, faults=latency) as nhs, \
            OfficeRnDSandbox(port=0, scale=scale, rate_limit=0, token_rate_limit=0) as od:
        prepare_portal(nhs.state)
        warehouse = Warehouse(f"sqlite:///{tempfile.mkdtemp()}/warehouse.db")
        hook = HubSpotHook.from_url(hs.url, hs.token)
        source = OfficeRnDSource.from_url(od.url, "sandbox-client", "sandbox-secret",
                                          "sandbox", token_url=f"{od.url}/oauth/token")
        env = {"mappings": load_mappings().mappings, "source": source, "warehouse": warehouse,
               "routes": args.routes}
        now = datetime.now(UTC)
        first = ours("first sync", hs, hook, RunWindow(None, now, False, "bench: first sync"),
                     "first", env, detail)
        if args.naive == "none":
            rows.append((first, None))
        elif measure_first:
            rows.append((first, naive("first sync", nhs, source)))
        else:
            fill_untimed(nhs, source, latency, args.burst_limit)
            rows.append((first, Row("first sync", 0, None, 0, 0, 0, note="not run")))

        hour = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        hourly: dict[str, Row] = {}
        for n, (label, share) in enumerate((("hourly 1 %", 0.01), ("hourly 10 %", 0.10))):
            start = hour + timedelta(hours=n)
            od.set_clock(start + timedelta(minutes=1))
            od.mutate(resource="members", update=int(scale * share), seed=7 + n)
            window = RunWindow(start, start + timedelta(hours=1), False, f"bench: {label}")
            hourly[label] = ours(label, hs, hook, window, f"hourly-{n}", env, detail)
        rerun = ours("unchanged re-run", hs, hook, window, "rerun", env, detail)

        plain: dict[str, Row | None] = {}
        if args.naive != "none":
            # Measured after our runs, over the OfficeRnD data of the 10 % hour.
            measured = naive("hourly 10 %", nhs, source)
            plain = {"hourly 10 %": measured}
            for label in ("hourly 1 %", "unchanged re-run"):
                plain[label] = naive(label, nhs, source) if args.naive == "all" else Row(
                    label, measured.calls, None, measured.seconds, measured.hubspot_seconds,
                    measured.limited, note="=")
        for row in (*hourly.values(), rerun):
            rows.append((row, plain.get(row.label)))
        warehouse.dispose()
    return rows


def cells(row: Row | None, per_second: float) -> str:
    if row is None:
        return ""
    if row.note == "not run":
        return f"{'not run':>26}"
    used = row.calls / (row.hubspot_seconds * per_second) if row.hubspot_seconds else 0.0
    mark = "=" if row.note == "=" else " "
    return (f"{row.calls:>6}{mark}{row.seconds:>8.1f}s {row.calls / per_second:>7.1f}s "
            f"{used:>5.0%} {row.limited:>4}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="10000,100000",
                        help="members per table block, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=250.0,
                        help="HubSpot sandbox latency, median (ms)")
    parser.add_argument("--latency-p95-ms", type=float, default=450.0,
                        help="95th percentile of the latency (ms); 0: a constant latency")
    parser.add_argument("--burst-limit", type=int, default=190, help="requests per 10 s")
    parser.add_argument("--naive", choices=("auto", "all", "none"), default="auto",
                        help="which plain-loader rows to measure (see the module doc)")
    parser.add_argument("--naive-first-max", type=int, default=10_000,
                        help="largest scale whose plain-loader first sync is measured (auto)")
    parser.add_argument("--routes", action="store_true",
                        help="per entity run: the floor per kind of call and the calls per route")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    latency = latency_settings(args)
    per_second = args.burst_limit / 10
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {platform.platform()} | {platform.machine()} | cpus {os.cpu_count()} | "
          f"python {platform.python_version()} | load average {load}")
    shape = (f"median {latency['latency_ms']:.0f} ms, p95 {latency['latency_p95_ms']:.0f} ms"
             if "latency_p95_ms" in latency else f"{latency['latency_ms']:.0f} ms constant")
    print(f"HubSpot sandbox: latency {shape}; burst limit {args.burst_limit}/10 s "
          f"({per_second:g}/s). OfficeRnD sandbox: no latency, no limit. Each row is the "
          "companies run then the members run.")
    detail: list[str] = []
    blocks = []
    started = time.perf_counter()
    for scale in (int(s) for s in args.scales.split(",") if s.strip()):
        blocks.append((scale, bench_scale(scale, args, detail)))

    head = f"{'calls':>6} {'wall':>8}  {'limit':>7}  {'used':>5} {'429':>4}"
    print()
    print(f"{'':<9}{'':<17} | {'sync (this project)':^43} | {'plain loader (SDK, serial)':^37}"
          f" | {'plain / sync':^12}")
    print(f"{'members':<9}{'run':<17} | {'floor':>6} {'ratio':>5} {head} | {head} |"
          f" {'calls':>5} {'time':>6}")
    for scale, rows in blocks:
        for mine, plain in rows:
            r = ratio(mine.calls, mine.floor or 0) if mine.floor else (
                "inf" if mine.calls else "-")
            versus = ""
            if plain is not None and plain.note != "not run":
                versus = (f" {ratio(plain.calls, mine.calls):>5} "
                          f"{ratio(plain.seconds, mine.seconds):>6}")
            print(f"{scale:<9,}{mine.label:<17} | {mine.floor:>6} {r:>5} "
                  f"{cells(mine, per_second)} | {cells(plain, per_second):<37} |{versus}")
    print()
    print("ratio: calls / floor ('-': floor 0 and no calls). limit: calls / "
          f"{per_second:g} per s. used: calls per second while a HubSpot request was in "
          f"progress, over {per_second:g} (above 100 %: a run shorter than the 10 s window "
          f"spends the whole burst of {args.burst_limit} at once). '=': the plain loader's "
          "10 % hour (its calls do "
          "not depend on what changed), shown again; 'not run': its first sync was not "
          "measured at this scale (its portal was filled untimed).")
    print(f"bench time {time.perf_counter() - started:.0f} s. Per entity:")
    print("\n".join(detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())

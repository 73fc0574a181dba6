"""The million-record reconcile: the LOCAL work of a full refresh of N members against N
contacts (warehouse writes and reads, the delta, validation, load bookkeeping), timed apart
from the time spent waiting on the APIs. Prints figures; asserts nothing; not a timed test.

    .venv/bin/python bench/bench_million.py --members 1000000 [--warehouse sqlite|postgresql]
    .venv/bin/python bench/bench_million.py --members 1000000 --sandboxes

Design (why not over HTTP): at 1,000,000 records a run over HTTP makes 20,000 OfficeRnD
pages and 10,000+ HubSpot calls, which takes far longer than the local work it hides. So the
declared steps (``hubspot_sync.steps.STEPS``: extract_source, extract_hubspot,
check_hubspot_deletions, compute_delta, validate, load, report) run in this process exactly
as the DAG runs them (``call_step``), with the real warehouse, and the two API clients
replaced by replays (bench/million_replays.py) that answer the calls the steps make
(OfficeRnD pages of 50, HubSpot list pages and batch calls of 100), generating each page on
demand (nothing recorded is held in memory). Every replay call is timed (wall and CPU); a
step's LOCAL time is its wall time less the time inside replay calls, its local CPU the
same for this process's CPU time (the figure that load on a shared machine does not
inflate; it leaves out the database server's own work, which wall time includes). Local work
the real clients add (HTTP, JSON decoding of each page) is not in these figures: it belongs
to the API calls. Each step's own peak RSS is sampled (every step is its own task process
under Airflow); memory is released between steps. ``--profile [--only STEP]``: cProfile.

Data: N members shaped as OfficeRnD returns them (a few per cent bad: invalid or missing
email, outside the filter, a start date that is no date); HubSpot holds a contact for 98 %
of them as the previous sync wrote it (1 % with a changed city, 0.3 % adopted by email
without the id property), plus 0.2 % orphans.

``--sandboxes``: the sandboxes at scale instead: the OfficeRnD sandbox generates N members
(and the entities scaled from them) and pages through every member in-process
(``$limit=50`` and ``$cursorNext``: the API's own paging code, without HTTP); the HubSpot
sandbox takes N contacts through its batch create and lists them; time and RSS of each.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
from million_replays import CITIES, FIRST, LAST, Clock, ReplayHook, ReplaySource  # noqa: E402

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-million-"))

PG_URL = os.environ.get("SYNC_TEST_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
RUN_ID = "bench_full_refresh"
MEASURED = ("extract_source", "extract_hubspot", "check_hubspot_deletions", "compute_delta",
            "validate", "load", "report")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler:
    """The highest RSS seen while a step runs (sampled every 20 ms): each step runs in its
    own task process under Airflow, so a step's own peak is the figure that matters."""

    def __init__(self) -> None:
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, current_rss_mib())

    def __enter__(self) -> PeakSampler:
        self.peak = current_rss_mib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mib())


def release_memory() -> None:
    """Between steps: what a new task process would start from (garbage collected, freed
    heap returned to the system, as far as glibc allows)."""
    import ctypes

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc
        pass


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {platform.platform()} | {platform.machine()} | cpus {os.cpu_count()} | "
            f"python {platform.python_version()} | load average {load}")


# --------------------------------------------------------------------------- local run


def definitions_of(mapping: Any) -> dict[str, dict]:
    """What ensure_properties returns for the mapping (HubSpot's property definitions)."""
    defs = {p.to: {"name": p.to, "type": p.type or "string", "fieldType": "text",
                   "hubspotDefined": p.to in ("email", "firstname", "lastname", "phone",
                                              "address", "city", "state", "zip", "country")}
            for p in mapping.properties}
    defs["email"]["hasUniqueValue"] = True
    defs[mapping.hubspot.id_property] = {"name": mapping.hubspot.id_property, "type": "string",
                                         "fieldType": "text", "hasUniqueValue": True}
    return defs


def warehouse_for(kind: str) -> tuple[Any, Any]:
    """(warehouse, cleanup) for sqlite (a temp file) or postgresql (a throwaway schema)."""
    from hubspot_sync.warehouse import Warehouse

    if kind == "sqlite":
        tmp = tempfile.TemporaryDirectory()
        wh = Warehouse(f"sqlite:///{tmp.name}/warehouse.db")
        return wh, lambda: (wh.dispose(), tmp.cleanup())
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    wh = Warehouse(PG_URL, schema=schema)

    def cleanup() -> None:
        wh.dispose()
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
    return wh, cleanup


def local_run(n: int, warehouse_kind: str, profile: str | None, only: str | None) -> None:
    import logging

    import great_expectations  # noqa: F401  (imported before the clock: import, not work)

    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.steps import STEPS, call_step
    from hubspot_sync.steps.context import EntityRun, RunWindow

    for name in ("hubspot_sync", "great_expectations"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mappings = load_mappings().mappings
    mapping = mappings["members"]
    clock = Clock()
    source = ReplaySource(n, clock)
    hook = ReplayHook(n, n // 500, mapping.hubspot.id_prefix, mapping.hubspot.id_property,
                      clock)
    wh, cleanup = warehouse_for(warehouse_kind)
    wh.migrate()
    docs = tempfile.TemporaryDirectory()
    run = EntityRun(mapping=mapping, run_id=RUN_ID, full_refresh=True, mappings=mappings,
                    window=RunWindow(None, None, True, "bench: full refresh"),
                    docs_dir=Path(docs.name), _warehouse=wh, _hook=hook,  # type: ignore[arg-type]
                    _source=source)  # type: ignore[arg-type]
    print(machine())
    print(f"full refresh of {n:,} members against {n - n // 100 - 8 * n // 1000 + n // 500:,} "
          f"contacts; warehouse {warehouse_kind} ({wh.engine.url.render_as_string(True)})")
    gc.collect()
    base_rss = rss_mib()
    print(f"RSS before the run (imports, GX): {base_rss:.0f} MiB")
    outputs: dict[str, Any] = {"ensure_properties": {
        "units": {"members": {"definitions": definitions_of(mapping)}}}}
    rows = []
    profiler = None
    try:
        for step in STEPS:
            if step.name not in MEASURED:
                continue
            api0, apicpu0 = clock.seconds, clock.cpu
            calls0 = hook.call_count + source.call_count
            release_memory()
            if profile and step.name == (only or step.name):
                import cProfile

                profiler = profiler or cProfile.Profile()
                profiler.enable()
            start_rss = current_rss_mib()
            t0, c0 = time.perf_counter(), time.process_time()
            with PeakSampler() as sampler:
                outputs[step.name] = call_step(step, run, outputs)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if profiler is not None:
                profiler.disable()
            api, cpu = clock.seconds - api0, cpu - (clock.cpu - apicpu0)
            rows.append((step.name, wall, api, wall - api, cpu,
                         hook.call_count + source.call_count - calls0, sampler.peak,
                         start_rss))
            print(f"  {step.name:<24} local {wall - api:7.2f} s  (cpu {cpu:7.2f}; wall "
                  f"{wall:7.2f}, in API replays {api:6.2f})  step peak RSS "
                  f"{sampler.peak:6.0f} MiB (from {start_rss:.0f})", flush=True)
    finally:
        cleanup()
        docs.cleanup()
    local, local_cpu = sum(r[3] for r in rows), sum(r[4] for r in rows)
    report = outputs.get("report") or {}
    units = (report.get("units") or {}).get("members") or report
    print(f"{'step':<24} {'local s':>8} {'local cpu s':>11} {'wall s':>8} {'API s':>7} "
          f"{'calls':>7} {'step peak RSS MiB':>18} {'at start':>9}")
    for name, wall, api, loc, cpu, calls, peak, start in rows:
        print(f"{name:<24} {loc:8.2f} {cpu:11.2f} {wall:8.2f} {api:7.2f} {calls:7d} "
              f"{peak:18.0f} {start:9.0f}")
    print(f"LOCAL WORK {local:.2f} s wall, {local_cpu:.2f} s CPU of this process (target 30 s;"
          f" wall counts the database server's work and other load: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}); peak RSS {rss_mib():.0f} MiB "
          f"(target 1536 MiB; {base_rss:.0f} MiB before the run)")
    print("peak RSS: the largest step's is the figure of a task process (each step is one "
          "under Airflow); the process peak also holds what earlier steps left behind")
    print("counts: " + ", ".join(f"{k} {units.get(k)}" for k in (
        "extracted", "created", "updated", "unchanged", "skipped", "conflict", "orphan",
        "rejected", "failed") if k in units))
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


# --------------------------------------------------------------------------- sandboxes


def sandboxes_run(n: int) -> None:
    """Generation and paging of N OfficeRnD members; N contacts held by the HubSpot sandbox."""
    print(machine())
    which = os.environ.get("BENCH_SANDBOX", "both")
    if which in ("both", "officernd"):
        officernd_at_scale(n)
    if which in ("both", "hubspot"):
        hubspot_at_scale(n)


def officernd_at_scale(n: int) -> None:
    """The OfficeRnD sandbox's state at N members (generated, every entity scaled from it),
    then every member paged through its own list code (``$limit=50``, ``$cursorNext``),
    each page serialised as the API sends it; no HTTP."""
    from sandbox.officernd.collection import to_json
    from sandbox.officernd.state import State

    base = current_rss_mib()
    t, c = time.perf_counter(), time.process_time()
    with PeakSampler() as sampler:
        state = State(seed=42, scale=n, anchor=datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    counts = state.record_counts()
    print(f"OfficeRnD sandbox generate + load (scale {n:,}): {time.perf_counter() - t:.1f} s "
          f"({time.process_time() - c:.1f} s CPU), "
          f"{sum(counts.values()):,} records ({counts.get('members', 0):,} members); RSS "
          f"{current_rss_mib():.0f} MiB (peak {sampler.peak:.0f}, {base:.0f} before)",
          flush=True)
    t = time.perf_counter()
    pages = seen = size = 0
    params = {"$limit": "50"}
    with PeakSampler() as sampler:
        while True:
            page = state.list("members", params)
            size += len(to_json(page))
            pages += 1
            seen += len(page["results"])
            if not page["cursorNext"]:
                break
            params = {"$limit": "50", "$cursorNext": page["cursorNext"]}
    paged = time.perf_counter() - t
    print(f"OfficeRnD paging: {seen:,} members in {pages:,} pages of 50, {paged:.1f} s "
          f"({paged / pages * 1000:.2f} ms a page, {size / 2**20:.0f} MiB of JSON); RSS peak "
          f"while paging {sampler.peak:.0f} MiB", flush=True)
    del state
    release_memory()


def hubspot_at_scale(n: int) -> None:
    """The HubSpot sandbox's state taking N contacts through its batch create (100 a call,
    as the API takes them), then listing them all (100 a page); no HTTP."""
    from sandbox.hubspot.state import HubSpotState

    state = HubSpotState()
    base = current_rss_mib()
    t, c = time.perf_counter(), time.process_time()
    with PeakSampler() as sampler:
        for start in range(0, n, 100):
            status, body = state.batch_create("contacts", {"inputs": [
                {"properties": {"email": f"member{i}@example{i % 97}.com",
                                "firstname": FIRST[i % 10], "lastname": f"{LAST[i % 8]}{i}",
                                "phone": f"+44 20 7{i % 1000:03d} {i % 10000:04d}",
                                "city": CITIES[i % len(CITIES)], "country": "GB"}}
                for i in range(start, min(start + 100, n))]})
            if status >= 300:
                raise RuntimeError(f"batch create refused: {status} {body}")
    created = time.perf_counter() - t
    print(f"HubSpot sandbox: {state.counts()['contacts']:,} contacts created in {created:.1f} s "
          f"({time.process_time() - c:.1f} s CPU) "
          f"({-(-n // 100):,} batch calls); RSS {current_rss_mib():.0f} MiB (peak "
          f"{sampler.peak:.0f}, {base:.0f} before)", flush=True)
    t = time.perf_counter()
    pages = seen = 0
    after = None
    with PeakSampler() as sampler:
        while True:
            page = state.list_objects("contacts", limit=100, after=after,
                                      properties=["email", "firstname", "lastname"])
            pages += 1
            seen += len(page["results"])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
    listed = time.perf_counter() - t
    print(f"HubSpot paging: {seen:,} contacts in {pages:,} pages of 100, {listed:.1f} s; RSS "
          f"peak while paging {sampler.peak:.0f} MiB", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--warehouse", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sandboxes", action="store_true",
                        help="measure the sandboxes at scale instead of the local work")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured steps")
    parser.add_argument("--only", default=None, help="with --profile: profile this step only")
    args = parser.parse_args(argv)
    if args.sandboxes:
        sandboxes_run(args.members)
    else:
        local_run(args.members, args.warehouse, "cprofile" if args.profile else None, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())

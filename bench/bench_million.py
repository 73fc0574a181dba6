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
replaced by replays that answer the same calls the clients answer (OfficeRnD pages of 50,
HubSpot list pages and batch calls of 100), generating each page on demand (nothing
recorded is held in memory). Every call into a replay is timed; a step's LOCAL time is its
wall time less the time inside replay calls. Local work that the real clients do on top
(HTTP and JSON decoding of each page) is not in these figures: it belongs to the API
calls. Peak RSS is the process's (ru_maxrss) and so includes everything: the replays'
pages, the imports (Great Expectations) and the step data.

Data: N members shaped as OfficeRnD returns them (a few per cent bad: invalid or missing
email, outside the filter, a start date that is no date); HubSpot holds a contact for 98 %
of them as the previous sync wrote it (1 % with a changed city, 0.3 % adopted by email
without the id property), plus 0.2 % orphans.

``--sandboxes``: the sandboxes at scale instead: the OfficeRnD sandbox generates N members
(and the entities scaled from them) and pages through every member in-process
(``$limit=50`` and ``$cursorNext``: the API's own paging code, without HTTP); the HubSpot
sandbox takes N contacts through its batch create; time and RSS of each.
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
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-million-"))

PG_URL = os.environ.get("SYNC_TEST_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
RUN_ID = "bench_full_refresh"
MEASURED = ("extract_source", "extract_hubspot", "check_hubspot_deletions", "compute_delta",
            "validate", "load", "report")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
CITIES = ["London", "Berlin", "Sofia", "Lisbon", "New York", "Austin", "Paris", "Madrid"]
STATUSES = ["active", "active", "active", "former", "pending", "lead"]
FIRST = ["Jane", "John", "Ana", "Ivan", "Maria", "Li", "Omar", "Eva", "Zoë", "Kwame"]
LAST = ["Doe", "Smith", "Petrova", "Silva", "Müller", "Chen", "Haddad", "O'Brien"]


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


# --------------------------------------------------------------------------- the data


def sid(i: int) -> str:
    return f"64f0{i:020x}"


def hubspot_id(i: int) -> str:
    return str(10_000_000 + i)


def member_kind(i: int) -> str:
    """What member ``i`` is in the run (deterministic, spread over the ids)."""
    r = (i * 7919) % 1000
    if r < 5:
        return "bad_email"
    if r < 8:
        return "no_email"
    if r < 12:
        return "left_filter"
    if r < 14:
        return "bad_date"
    if r < 24:
        return "new"  # not in HubSpot: created
    if r < 27:
        return "adopt"  # in HubSpot by email only: adopted, updated with the id property
    if r < 37:
        return "changed"  # HubSpot holds an older city: updated
    return "same"


def member(i: int) -> dict[str, Any]:
    kind = member_kind(i)
    email = f"Member{i}@Example{i % 97}.com "
    if kind == "bad_email":
        email = f"member{i} at example.com"
    elif kind == "no_email":
        email = None
    city = CITIES[i % len(CITIES)]
    start = (T0 - timedelta(days=i % 3000)).strftime("%Y-%m-%d")
    return {
        "_id": sid(i), "name": f"{FIRST[i % 10]} {LAST[i % 8]}{i % 1000}", "email": email,
        "phone": f" +44 20 7{i % 1000:03d} {i % 10000:04d}",
        "address": {"street": f"{i % 300} High Street", "city": city, "state": None,
                    "zip": f"N{i % 20} {i % 9}AB", "country": "GB"},
        "status": "inactive" if kind == "left_filter" else STATUSES[i % len(STATUSES)],
        "startDate": "2023-02-30" if kind == "bad_date" else start,
        "company": f"c0{i % (1 + 200_000):022x}" if i % 10 else None,
        "team": None, "isContact": True, "calendarId": None,
        "createdAt": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        "modifiedAt": (T0 + timedelta(seconds=2 * i)).isoformat().replace("+00:00", "Z"),
        "properties": {"membershipType": "flex" if i % 3 else "dedicated"},
    }


def contact(i: int, prefix: str, id_property: str) -> dict[str, Any] | None:
    """HubSpot's record for member ``i`` as the previous sync wrote it (None: no record)."""
    kind = member_kind(i)
    if kind in ("new", "bad_email", "no_email"):
        return None
    city = CITIES[i % len(CITIES)]
    props = {
        "email": f"member{i}@example{i % 97}.com", "firstname": FIRST[i % 10],
        "lastname": f"{LAST[i % 8]}{i % 1000}", "phone": f"+44 20 7{i % 1000:03d} {i % 10000:04d}",
        "address": f"{i % 300} High Street", "city": "Old Town" if kind == "changed" else city,
        "state": None, "zip": f"N{i % 20} {i % 9}AB", "country": "GB",
        "officernd_status": STATUSES[i % len(STATUSES)],
        "officernd_start_date": (T0 - timedelta(days=i % 3000)).strftime("%Y-%m-%d"),
        id_property: None if kind == "adopt" else f"{prefix}{sid(i)}",
        "hs_object_id": hubspot_id(i), "createdate": "2024-01-01T00:00:00.000Z",
        "lastmodifieddate": "2024-06-01T00:00:00.000Z",
    }
    return {"id": hubspot_id(i), "properties": props, "archived": False,
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-06-01T00:00:00.000Z"}


def orphan(j: int, prefix: str, id_property: str) -> dict[str, Any]:
    k = 900_000_000 + j
    return {"id": hubspot_id(k), "archived": False, "properties": {
        "email": f"gone{j}@example.com", "firstname": "Gone", "lastname": f"Member{j}",
        id_property: f"{prefix}{sid(k)}", "hs_object_id": hubspot_id(k)}}


# --------------------------------------------------------------------------- replays


class Clock:
    """Seconds spent inside replay calls (the API side)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0

    def timed(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t
            self.cpu += time.process_time() - c


class ReplaySource:
    """The OfficeRnD source's answers (pages of 50), generated per page."""

    PAGE = 50

    def __init__(self, n: int, clock: Clock) -> None:
        self.n, self.clock = n, clock
        self.calls: Counter[tuple[str, str]] = Counter()

    @property
    def call_count(self) -> int:
        return sum(self.calls.values())

    def _page(self, start: int) -> list[dict]:
        self.calls[("GET", "/members")] += 1
        return [member(i) for i in range(start, min(start + self.PAGE, self.n))]

    def extract(self, resource: str, since: Any = None, until: Any = None,
                changed_at: Any = None) -> Iterator[dict[str, Any]]:
        assert resource == "members", resource
        for start in range(0, self.n, self.PAGE):
            yield from self.clock.timed(self._page, start)

    def get_many(self, resource: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {}

    def list_ids(self, resource: str, id_field: str = "_id") -> set[str]:
        return self.clock.timed(lambda: {sid(i) for i in range(self.n)})

    def close(self) -> None:
        return None


class ReplayHook:
    """The HubSpot hook's answers for contacts (list pages and batch calls of 100)."""

    PAGE = 100

    def __init__(self, n: int, orphans: int, prefix: str, id_property: str,
                 clock: Clock) -> None:
        self.n, self.orphans, self.prefix, self.id_property = n, orphans, prefix, id_property
        self.clock = clock
        self.calls: Counter[tuple[str, str]] = Counter()
        self.rate_limited = 0

    @property
    def call_count(self) -> int:
        return sum(self.calls.values())

    @property
    def write_call_count(self) -> int:
        return sum(n for (method, route), n in self.calls.items() if method == "WRITE")

    def _list_page(self, start: int) -> list[dict]:
        self.calls[("GET", "/crm/v3/objects/{objectType}")] += 1
        out = []
        for i in range(start, min(start + self.PAGE, self.n + self.orphans)):
            record = (contact(i, self.prefix, self.id_property) if i < self.n
                      else orphan(i - self.n, self.prefix, self.id_property))
            if record is not None:
                out.append(record)
        return out

    def list_objects(self, object_type: str, properties: Sequence[str], archived: bool = False,
                     progress: Any = None) -> Iterator[dict]:
        for start in range(0, self.n + self.orphans, self.PAGE):
            page = self.clock.timed(self._list_page, start)
            if progress is not None:
                progress.advance(len(page))
            yield from page

    def _batch_read(self, ids: list[str], id_property: str | None) -> list[dict]:
        out = []
        for start in range(0, len(ids), self.PAGE):
            self.calls[("POST", "/crm/v3/objects/{objectType}/batch/read")] += 1
            for value in ids[start:start + self.PAGE]:
                if id_property == "email" and value.startswith("member") and "@" in value \
                        and value[6:value.index("@")].isdigit():
                    record = contact(int(value[6:value.index("@")]), self.prefix,
                                     self.id_property)
                    if record is not None and record["properties"]["email"] == value:
                        out.append(record)
        return out

    def batch_read(self, object_type: str, ids: Iterable[str], properties: Sequence[str],
                   id_property: str | None = None, progress: Any = None,
                   archived: bool = False) -> list[dict]:
        wanted = list(dict.fromkeys(str(i) for i in ids))
        return self.clock.timed(self._batch_read, wanted, id_property)

    def _association_types(self, ids: list[str]) -> dict[str, dict[str, list[int]]]:
        self.calls[("POST", "/crm/v4/associations/batch/read")] += -(-len(ids) // 1000)
        out = {}
        for hid in ids:
            i = int(hid) - 10_000_000
            if 0 <= i < self.n and i % 10:
                out[hid] = {str(20_000_000 + i % 200_001): [1, 279]}
        return out

    def read_association_types(self, from_type: str, to_type: str,
                               ids: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        return self.clock.timed(self._association_types, list(ids))

    def _write(self, inputs: Sequence[dict], upsert: bool) -> Any:
        from hubspot_sync.hubspot_client.errors import BatchOutcome

        outcome = BatchOutcome()
        for start in range(0, len(inputs), self.PAGE):
            self.calls[("WRITE", "batch/upsert" if upsert else "batch/update")] += 1
            for item in inputs[start:start + self.PAGE]:
                if upsert:
                    i = int(item["id"][len(self.prefix) + 4:], 16)
                    outcome.results.append({
                        "id": hubspot_id(i), "new": member_kind(i) == "new",
                        "objectWriteTraceId": item.get("objectWriteTraceId"),
                        "properties": {self.id_property: item["id"]}})
                else:
                    outcome.results.append({"id": item["id"], "properties": {},
                                            "objectWriteTraceId": item.get("objectWriteTraceId")})
        return outcome

    def batch_upsert(self, object_type: str, inputs: Sequence[dict], id_property: str,
                     progress: Any = None) -> Any:
        return self.clock.timed(self._write, inputs, True)

    def batch_update(self, object_type: str, inputs: Sequence[dict], progress: Any = None) -> Any:
        return self.clock.timed(self._write, inputs, False)


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
    t = time.perf_counter()
    with PeakSampler() as sampler:
        state = State(seed=42, scale=n, anchor=datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    counts = state.record_counts()
    print(f"OfficeRnD sandbox generate + load (scale {n:,}): {time.perf_counter() - t:.1f} s, "
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
    t = time.perf_counter()
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

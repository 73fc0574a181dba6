"""The distributed deployment, end to end: separate api-server, scheduler, dag-processor,
triggerer and two Celery workers on PostgreSQL and Redis (tests/cluster/conftest.py).

Driven the way an operator drives it: the REST API v2 with a JWT from /auth/token, and the
airflow CLI for backfills. Checked against both sandboxes over HTTP and the warehouse.
The tests share one cluster and run in file order (each later one builds on the first
sync).
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

# One cluster for the module: its start and the first sync count towards the first test.
# One cluster for both files (a session fixture): keep them on one xdist worker.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200), pytest.mark.xdist_group("cluster")]

ENTITY_DAGS = ["sync_companies", "sync_members", "sync_plans", "sync_resources",
               "sync_contracts", "sync_opportunities"]
HUBSPOT_POOL = "hubspot_api"


def parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of intervals open at one instant (an end frees its slot before a
    start at the same instant takes one)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda ev: (ev[0], ev[1]))
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def intervals(tis: list[dict]) -> list[tuple[datetime, datetime]]:
    out = []
    for ti in tis:
        start, end = parse(ti.get("start_date")), parse(ti.get("end_date"))
        if start and end:
            out.append((start, end))
    return out


@pytest.fixture(scope="module")
def first_sync(cluster) -> dict[str, Any]:
    """Every entity DAG unpaused and triggered through the REST API at once, then waited
    for: the runs and every task instance of them."""
    started = time.monotonic()
    manual = {}
    for dag_id in ENTITY_DAGS:
        cluster.unpause(dag_id)  # a paused DAG's runs stay queued
        manual[dag_id] = cluster.trigger(dag_id)
    runs = cluster.wait_runs_done(ENTITY_DAGS, timeout=900)
    tis = [ti for dag_id in ENTITY_DAGS for ti in cluster.task_instances(dag_id)]
    print(f"\nfirst sync: {sum(len(r) for r in runs.values())} runs of {len(ENTITY_DAGS)} "
          f"DAGs, {len(tis)} task instances, in {time.monotonic() - started:.0f} s")
    return {"runs": runs, "manual": manual, "tis": tis}


def test_every_entity_dag_succeeds_when_triggered_through_the_rest_api(cluster, first_sync):
    for dag_id, runs in first_sync["runs"].items():
        assert first_sync["manual"][dag_id] in {r["dag_run_id"] for r in runs}
        assert {(r["dag_run_id"], r["state"]) for r in runs} == {
            (r["dag_run_id"], "success") for r in runs}, dag_id
        assert any(r["run_type"] == "manual" and r["triggered_by"] == "rest_api"
                   for r in runs)
    errors = cluster.api("GET", "/importErrors")
    assert errors["total_entries"] == 0, errors


def test_hubspot_holds_what_the_mappings_say(cluster, first_sync):
    """Per HubSpot object: one record per synced source record (officernd_id with the
    mapping's prefix), nothing else, nothing twice; and every source record the mapping
    selects is synced or held back with a reason."""
    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.warehouse import Warehouse
    from hubspot_sync.warehouse.connection import normalise_url

    mappings = [m for m in load_mappings().ordered()
                if "sync_" + m.entity in ENTITY_DAGS]
    source = OfficeRnDSource.from_url(cluster.officernd_url, "sandbox-client",
                                      "sandbox-secret", "sandbox", token_cache_dir=None)
    hook = HubSpotHook.from_url(cluster.hubspot_url, "sandbox-token")
    warehouse = Warehouse(normalise_url(cluster.settings["AIRFLOW_CONN_SYNC_WAREHOUSE"]))
    expected_by_object: dict[str, set[str]] = {}
    try:
        for m in mappings:
            records = list(source.extract(m.source.resource, changed_at=None))
            selected = {str(r[m.source.id]) for r in records
                        if all(r.get(k) in allowed for k, allowed in m.filter.items())}
            rejects = warehouse.open_rejects(m.entity)
            held = set(rejects["source_id"].astype(str)) if len(rejects) else set()
            # Skipped by the run with a reason (e.g. its parent record is not there).
            snapshot = warehouse.read_source_snapshot(
                m.entity, first_sync["manual"][f"sync_{m.entity}"])
            skipped = (set(snapshot.loc[snapshot["skip_reason"].notna(), "source_id"]
                           .astype(str)) if len(snapshot) else set())
            synced = set(warehouse.id_map(m.entity))
            assert synced == selected - held - skipped, (
                f"{m.entity}: not synced and no reason: "
                f"{sorted(selected - held - skipped - synced)[:5]}"
                f"; synced but not selected: {sorted(synced - selected)[:5]}")
            print(f"{m.entity}: {len(records)} in OfficeRnD, {len(selected)} selected, "
                  f"{len(synced)} synced, {len(held)} held back, {len(skipped)} skipped")
            assert len(synced) > 0, m.entity
            expected_by_object.setdefault(m.hubspot.object, set()).update(
                m.source_id_value(s) for s in synced)
        for object_type, expected in expected_by_object.items():
            ids = [r["properties"].get("officernd_id")
                   for r in hook.list_objects(object_type, ["officernd_id"])]
            twice = [i for i, n in Counter(ids).items() if n > 1]
            assert not twice, f"{object_type}: officernd_id twice: {twice[:5]}"
            assert set(ids) == expected, (
                f"{object_type}: missing {sorted(expected - set(ids))[:5]}, "
                f"extra {sorted(set(ids) - expected)[:5]}")
            print(f"{object_type}: {len(ids)} records, as the mappings say")
    finally:
        source.close()
        warehouse.dispose()


def test_task_instances_ran_on_both_workers(first_sync):
    hosts = Counter(ti["hostname"] for ti in first_sync["tis"] if ti["state"] == "success")
    print(f"task instances per worker: {dict(hosts)}")
    assert set(hosts) == {"worker1", "worker2"}, hosts
    assert min(hosts.values()) >= 5, hosts


def test_hubspot_pool_bounds_concurrent_hubspot_tasks_across_workers(cluster, first_sync):
    """The pool's slots are fewer than the workers' (2 x 4): HubSpot tasks never overlap
    more than the slots, while the tasks overall did (so the workers had room)."""
    slots = int(cluster.settings["SYNC_HUBSPOT_POOL_SLOTS"])
    pool = cluster.api("GET", f"/pools/{HUBSPOT_POOL}")
    assert pool["slots"] == slots
    tis = first_sync["tis"]
    pooled = [ti for ti in tis if ti["pool"] == HUBSPOT_POOL]
    pooled_hosts = Counter(ti["hostname"] for ti in pooled if ti["hostname"])
    overlap_pooled = max_overlap(intervals(pooled))
    overlap_all = max_overlap(intervals(tis))
    print(f"hubspot_api pool: {slots} slots; {len(pooled)} pooled task instances on "
          f"{dict(pooled_hosts)}; at most {overlap_pooled} ran at once; all tasks: at most "
          f"{overlap_all} at once (workers: 2 x "
          f"{cluster.settings['AIRFLOW__CELERY__WORKER_CONCURRENCY']} slots)")
    assert len(pooled) >= 3 * len(ENTITY_DAGS)
    assert set(pooled_hosts) == {"worker1", "worker2"}
    assert overlap_pooled <= slots
    assert overlap_pooled == slots, "the pool was never full: the bound was not exercised"
    assert overlap_all > slots, "never more tasks than the pool's slots: no contention"


def test_backfill_over_three_hours_runs_three_backfill_runs_with_their_windows(cluster):
    from hubspot_sync.warehouse import Warehouse
    from hubspot_sync.warehouse.connection import normalise_url

    dag_id = "sync_plans"
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = hour - timedelta(hours=5)
    starts = [first + timedelta(hours=i) for i in range(3)]
    cluster.unpause(dag_id)
    cluster.airflow("backfill", "create", "--dag-id", dag_id,
                    "--from-date", starts[0].isoformat(), "--to-date", starts[-1].isoformat(),
                    "--max-active-runs", "3")
    deadline = time.monotonic() + 300
    while True:
        backfills = [r for r in cluster.runs(dag_id) if r["run_type"] == "backfill"]
        if len(backfills) == 3 and all(r["state"] in ("success", "failed") for r in backfills):
            break
        assert time.monotonic() < deadline, f"backfill not done: {backfills}"
        time.sleep(3)
    assert [r["state"] for r in backfills] == ["success"] * 3
    windows = sorted((parse(r["data_interval_start"]), parse(r["data_interval_end"]))
                     for r in backfills)
    assert windows == [(s, s + timedelta(hours=1)) for s in starts]
    warehouse = Warehouse(normalise_url(cluster.settings["AIRFLOW_CONN_SYNC_WAREHOUSE"]))
    try:
        for run in backfills:
            row = warehouse.get_run("plans", run["dag_run_id"])
            assert row and row["status"] == "success", row
            assert (row["window_start"], row["window_end"]) == (
                parse(run["data_interval_start"]), parse(run["data_interval_end"]))
    finally:
        warehouse.dispose()
    print(f"backfill: {[(s.isoformat(), e.isoformat()) for s, e in windows]}")


def test_a_worker_killed_during_load_is_retried_on_the_other_worker(cluster):
    """SIGKILL to one worker's whole session (the worker and its task processes) while
    `load` writes: the scheduler notices the missing heartbeats, the retry runs on the
    other worker, the run succeeds and HubSpot holds every record once."""
    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.warehouse import Warehouse
    from hubspot_sync.warehouse.connection import normalise_url

    dag_id = "sync_members"
    hubspot = cluster.hubspot_url
    # Changes for load to write: members created and changed in OfficeRnD.
    r = requests.post(f"{cluster.officernd_url}/_sandbox/mutate",
                      json={"resource": "members", "create": 15, "update": 15, "seed": 7},
                      timeout=30)
    r.raise_for_status()
    cluster.wait_runs_done([dag_id], timeout=300)  # any scheduled run out of the way
    run_id = cluster.trigger(dag_id)

    def ti(task_id: str) -> dict:
        return next(t for t in cluster.task_instances(dag_id, run_id) if t["task_id"] == task_id)

    def slow(ms: int) -> None:
        requests.post(f"{hubspot}/_sandbox/faults", json={"latency_ms": ms},
                      timeout=30).raise_for_status()

    deadline = time.monotonic() + 300
    while ti("validate")["state"] not in ("running", "success"):
        assert time.monotonic() < deadline, "validate never ran"
        time.sleep(0.5)
    slow(8000)  # every HubSpot call now takes 8 s: load is still writing when killed
    try:
        while (load := ti("load"))["state"] != "running":
            assert load["state"] not in ("success", "failed"), load
            assert time.monotonic() < deadline, "load never ran"
            time.sleep(0.3)
        victim = load["hostname"]
        # Only load of this run on the victim, so nothing else dies with it.
        while any(t["state"] == "running" and t["hostname"] == victim
                  and t["task_id"] != "load" for t in cluster.task_instances(dag_id, run_id)):
            time.sleep(0.5)
        time.sleep(2)
        assert ti("load")["state"] == "running"
        killed = cluster.kill_session(victim, signal.SIGKILL)
    finally:
        slow(0)
    assert killed, f"no process in {victim}'s session"
    print(f"killed {victim} (session {cluster.sessions[victim]}, {len(killed)} processes) "
          f"while load (try 1) was running on it")
    runs = cluster.wait_runs_done([dag_id], timeout=300, run_ids={dag_id: run_id})
    assert runs[dag_id][0]["state"] == "success", cluster.log_tails()
    load = ti("load")
    survivor = ({"worker1", "worker2"} - {victim}).pop()
    assert load["state"] == "success" and load["try_number"] >= 2, load
    assert load["hostname"] == survivor, load
    tries = cluster.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/load/tries")
    hosts = [(t["try_number"], t["hostname"], t["state"]) for t in tries["task_instances"]]
    print(f"load tries: {hosts}")
    assert hosts[0][1] == victim and hosts[0][2] in ("failed", "up_for_retry"), hosts
    # No duplicate in HubSpot: every contact once, exactly the warehouse's id map.
    warehouse = Warehouse(normalise_url(cluster.settings["AIRFLOW_CONN_SYNC_WAREHOUSE"]))
    try:
        id_map = warehouse.id_map("members")
        row = warehouse.get_run("members", run_id)
    finally:
        warehouse.dispose()
    assert row and row["status"] == "success" and row["created"] + row["updated"] > 0, row
    contacts = list(HubSpotHook.from_url(hubspot, "sandbox-token")
                    .list_objects("contacts", ["officernd_id", "email"]))
    ids = [c["properties"].get("officernd_id") for c in contacts]
    emails = [c["properties"].get("email") for c in contacts if c["properties"].get("email")]
    assert len(ids) == len(set(ids)) and len(emails) == len(set(emails))
    assert set(ids) == set(id_map), "HubSpot contacts are exactly the synced members"

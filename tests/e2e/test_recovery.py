"""Recovery end to end: a worker killed mid-load, a stale run's load, a non-unique id property.

The kill is real: a separate Python process runs ``python -m hubspot_sync.cli sync members``
(a real DAG run with dag.test(), its own AIRFLOW_HOME, the test's sandboxes and warehouse)
and gets SIGKILL while HubSpot is answering its load's batches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hubspot_sync.mapping import load_mappings
from hubspot_sync.steps import STEP_NAMES, STEPS, call_step
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.steps.load import SupersededRun

from .conftest import record_write_calls
from .test_members_sync import expected_members

pytestmark = pytest.mark.e2e

UPSERT = "/crm/v3/objects/{objectType}/batch/upsert"


def upserts(stats: dict) -> int:
    return sum(r["count"] for r in stats["requests"] if r["route"] == UPSERT)


def kill_during_load(sync_env, home: Path, timeout_s: float = 300) -> int:
    """Run sync_members in a worker process; SIGKILL it once HubSpot has answered one more
    batch upsert than before (the first contacts batch; the next one is in flight)."""
    env = {**os.environ, "AIRFLOW_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    before = upserts(sync_env.hubspot.stats())
    log = (home / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "hubspot_sync.cli", "sync", "members"],
                              env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while upserts(sync_env.hubspot.stats()) == before:
            assert worker.poll() is None, (
                f"the worker ended before its load ({worker.returncode}):\n"
                + (home / "worker.log").read_text()[-3000:])
            assert time.monotonic() < deadline, "the worker never reached load"
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)
        return worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        log.close()


def test_a_worker_killed_mid_load_is_healed_by_the_next_run(sync_env, tmp_path) -> None:
    members = expected_members(sync_env.officernd)
    assert len(members) > 100, "two upsert batches, so the kill lands between them"
    assert sync_env.run("companies")["state"] == "success"
    # Each HubSpot call takes a while: the kill lands while the load is between batches.
    sync_env.hubspot.configure_faults(latency_ms=400)
    home = tmp_path / "worker-home"
    home.mkdir()

    assert kill_during_load(sync_env, home) == -signal.SIGKILL

    sync_env.hubspot.configure_faults()
    written = {c["properties"]["officernd_id"] for c in sync_env.contacts()}
    [killed] = sync_env.warehouse.runs("members").to_dict("records")
    assert killed["status"] == "running", "the killed run never finished"
    assert written and not sync_env.warehouse.id_map("members"), (
        "HubSpot holds contacts the warehouse never recorded (the case to heal)")

    run = sync_env.run("members")

    assert run["state"] == "success"
    mapped = sync_env.warehouse.id_map("members")
    assert set(members) <= set(mapped), "every valid member is mapped"
    contacts = sync_env.contacts()
    ids = [c["properties"]["officernd_id"] for c in contacts]
    assert len(ids) == len(set(ids)) == len(members), "no duplicates, none missing"
    assert {c["properties"]["officernd_id"]: c["id"] for c in contacts} == {
        sid: mapped[sid] for sid in members}
    companies = sync_env.warehouse.id_map("companies")
    linked = {sid: mapped[sid] for sid, m in members.items() if m.get("company") in companies}
    assert linked.keys() & written, "members written before the kill have companies"
    associations = sync_env.hook().read_associations("contacts", "companies",
                                                     list(linked.values()))
    for sid, hid in linked.items():
        assert associations.get(hid) == [companies[members[sid]["company"]]], sid


def test_load_of_a_run_overtaken_by_a_newer_successful_run_is_refused(sync_env) -> None:
    sync_env.run("companies")
    mapping = load_mappings().mappings["members"]
    old = EntityRun(mapping=mapping, run_id="manual__old_run")
    outputs: dict = {}
    load = STEPS[STEP_NAMES.index("load")]
    for step in STEPS[:STEP_NAMES.index("load")]:
        outputs[step.name] = call_step(step, old, outputs)  # run A up to validate
    assert outputs["validate"]["units"]["members"]
    sid = sorted(expected_members(sync_env.officernd))[0]
    sync_env.officernd.patch_record("members", sid, {"name": "Newer Name"})
    newer = sync_env.run("members")  # run B, complete
    assert newer["state"] == "success"
    before = sync_env.hubspot.stats()

    with pytest.raises(SupersededRun) as refused:
        call_step(load, old, outputs)

    message = str(refused.value)
    assert newer["dag_run"].run_id in message and "Start a new run" in message
    assert record_write_calls(sync_env.hubspot.stats()) == record_write_calls(before)
    names = {c["properties"]["officernd_id"]: c["properties"]["firstname"]
             for c in sync_env.contacts()}
    assert names[sid] == "Newer", "B's value stays"


def test_a_non_unique_id_property_fails_the_run_before_any_write(sync_env) -> None:
    sync_env.hubspot.state.create_property("contacts", {
        "name": "officernd_id", "label": "OfficeRnD ID", "type": "string",
        "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": False})
    before = sync_env.hubspot.stats()

    run = sync_env.run("members")

    assert run["state"] == "failed"
    assert run["status"] == "failed"
    error = run["details"]["error"]
    assert "officernd_id" in error and "not unique-valued" in error
    assert run["details"]["failed_step"] == "ensure_properties"
    after = sync_env.hubspot.stats()
    assert sum(r["count"] for r in after["requests"] if r["method"] != "GET") == sum(
        r["count"] for r in before["requests"] if r["method"] != "GET"), "nothing written"
    assert after["objects"].get("contacts", 0) == 0

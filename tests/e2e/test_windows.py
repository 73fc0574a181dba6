"""Which changes a scheduled run reads (issue #9): a failed, paused or skipped hour is never
lost, nothing is written twice, and a backfill keeps its exact interval. Real DAG runs of
run type SCHEDULED / BACKFILL over hourly data intervals, with the OfficeRnD sandbox clock
stamping each change inside a chosen hour."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hubspot_sync.steps.context import LOOKBACK

pytestmark = pytest.mark.e2e

HOUR = timedelta(hours=1)
UPSERT = "/crm/v3/objects/{objectType}/batch/upsert"


def change_names(sync_env, at: datetime, ids: list[str], label: str,
                 expected: dict[str, tuple[str, str]]) -> None:
    """Renames ``ids`` with the OfficeRnD clock at ``at``; notes the (first, last) name each
    contact must end with."""
    sync_env.officernd.set_clock(at)
    for i, sid in enumerate(ids):
        sync_env.officernd.patch_record("members", sid, {"name": f"{label} Member{i}"})
        expected[sid] = (label, f"Member{i}")


def changed_in(members: list[dict], start: datetime, end: datetime) -> set[str]:
    """Members whose last change falls in [start, end)."""
    return {m["_id"] for m in members
            if start <= datetime.fromisoformat(m["modifiedAt"].replace("Z", "+00:00")) < end}


def test_a_failed_and_paused_hours_changes_arrive_once_when_the_schedule_resumes(
        sync_env) -> None:
    sb, hubspot = sync_env.officernd, sync_env.hubspot
    assert sync_env.run("companies")["state"] == "success"
    # Hour 1 starts after every seeded change (the seed's times reach up to the clock's now).
    h0 = (sb.now() + 2 * HOUR).replace(minute=0, second=0, microsecond=0)

    # ---- hour 1: the first scheduled run reads everything before its interval's end
    first = sync_env.run("members", scheduled_at=h0 + HOUR)
    assert first["state"] == "success" and first["created"] > 0
    assert str(first["dag_run"].run_type).endswith("scheduled")
    assert first["window_start"] is None and first["window_end"] == h0 + HOUR
    synced = sorted(sync_env.warehouse.id_map("members"))
    expected: dict[str, tuple[str, str]] = {}

    # ---- hour 2: records change; HubSpot refuses every call (a revoked token): the run fails
    change_names(sync_env, h0 + HOUR + timedelta(minutes=10), synced[0:6], "Failed", expected)
    hubspot.configure_faults(error_rate=1.0, statuses=[403])
    failed = sync_env.run("members", scheduled_at=h0 + 2 * HOUR)
    hubspot.configure_faults()
    assert failed["state"] == "failed"
    assert failed["record_write_calls"] == 0

    # ---- hours 3 to 5: the DAG is paused (no runs) while records keep changing
    change_names(sync_env, h0 + 2 * HOUR + timedelta(minutes=20), synced[6:10], "Paused3",
                 expected)
    # One member changed in the failed hour changes again: the later value must win.
    change_names(sync_env, h0 + 3 * HOUR + timedelta(minutes=30), [synced[0], *synced[10:13]],
                 "Paused4", expected)
    company = next(m["company"] for m in sb.state.records("members")
                   if m["_id"] in synced and m.get("company"))
    sb.set_clock(h0 + 4 * HOUR + timedelta(minutes=40))
    new_id = sb.insert_record("members", {"name": "Joined Paused5", "company": company,
                                          "email": "joined.paused5@example.org",
                                          "status": "active"})["_id"]

    # ---- hour 6: the schedule resumes; one more change inside its own interval
    change_names(sync_env, h0 + 5 * HOUR + timedelta(minutes=15), synced[13:15], "Hour6",
                 expected)
    resumed = sync_env.run("members", scheduled_at=h0 + 6 * HOUR)

    assert resumed["state"] == "success"
    # The window reaches back to the last successful window's end (less the look-back).
    assert resumed["window_start"] == h0 + HOUR - LOOKBACK
    assert resumed["window_end"] == h0 + 6 * HOUR
    run_id = resumed["dag_run"].run_id
    snapshot = sync_env.warehouse.read_source_snapshot("members", run_id)
    assert set(snapshot["source_id"]) == set(expected) | {new_id}
    # Every change arrives, each record is written once: one upsert for all of them.
    delta = sync_env.warehouse.read_delta("members", run_id, ["create", "update"])
    actions = dict(zip(delta["source_id"], delta["action"], strict=True))
    assert actions == {**dict.fromkeys(expected, "update"), new_id: "create"}
    assert resumed["updated"] == len(expected) and resumed["created"] == 1
    assert resumed["routes"][UPSERT] == 1
    contacts = {c["properties"].get("officernd_id"): c["properties"]
                for c in sync_env.contacts(("officernd_id", "email", "firstname", "lastname"))}
    assert len(contacts) == len(synced) + 1, "no duplicates"
    for sid, (firstname, lastname) in expected.items():
        got = contacts[sid]
        assert (got["firstname"], got["lastname"]) == (firstname, lastname), sid
    assert contacts[new_id]["email"] == "joined.paused5@example.org"
    assert sync_env.warehouse.id_map("members", [new_id]) != {}

    # ---- hour 7: nothing changed, nothing is written again
    quiet = sync_env.run("members", scheduled_at=h0 + 7 * HOUR)
    assert quiet["state"] == "success"
    assert quiet["window_start"] == h0 + 6 * HOUR - LOOKBACK
    assert quiet["extracted"] == 0 and quiet["write_calls"] == 0

    # ---- a backfill of paused hour 4 keeps its exact interval and writes nothing
    backfill = sync_env.run("members", backfill_at=h0 + 4 * HOUR)
    assert backfill["state"] == "success"
    assert (backfill["window_start"], backfill["window_end"]) == (h0 + 3 * HOUR, h0 + 4 * HOUR)
    snapshot = sync_env.warehouse.read_source_snapshot("members", backfill["dag_run"].run_id)
    hour4 = changed_in(sb.state.records("members"), h0 + 3 * HOUR, h0 + 4 * HOUR)
    assert set(snapshot["source_id"]) == hour4 == {synced[0], *synced[10:13]}
    assert backfill["write_calls"] == 0 and backfill["updated"] == 0
    # The backfill does not move the scheduled runs' watermark back.
    assert sync_env.warehouse.last_successful_window_end("members") == h0 + 7 * HOUR

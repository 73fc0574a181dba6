"""Deletes and churn end to end (issue 10): the real DAGs with dag.test() against both
sandboxes over HTTP.

- a member deleted in OfficeRnD is flagged (the shipped mapping) or archived (a mapping
  saying so); a member leaving the filter is handled per on_filter_exit;
- the delete guard stops a run that would archive 30 % of the contacts before any write,
  a dry run shows the plan, and the same run with confirm_deletes goes through;
- a contact a person archived in HubSpot stays archived through three runs, with a
  tombstone and a reject in the report; recreate_deleted brings it back;
- a merged contact: the surviving record is adopted; merged into another synced contact,
  the record is tombstoned and the survivor left to its own member.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_bad_input import with_mapping

# 100 members (90 or so synced): enough for the guard's 20-record floor at 30 %, and fast.
pytestmark = [pytest.mark.e2e, pytest.mark.officernd_scale(100)]

PROPS = ["email", "officernd_id", "officernd_status", "firstname"]


def synced_members(env) -> dict[str, str]:
    # Companies are not synced: the members' associations wait, which is not the point here.
    first = env.run("members")
    assert first["state"] == "success"
    return env.warehouse.id_map("members")


def contact(env, hubspot_id: str, archived: bool = False) -> dict:
    return env.hubspot.state.get_object("contacts", hubspot_id, properties=PROPS,
                                        archived=archived)


def by_member(env) -> dict[str, dict]:
    return {c["properties"].get("officernd_id"): c for c in env.records("contacts", PROPS)}


def test_deleted_members_are_flagged_by_the_shipped_mapping(sync_env) -> None:
    ids = synced_members(sync_env)
    gone = sorted(ids)[:3]
    for sid in gone:
        sync_env.officernd.state.delete_record("members", sid)
    # delete_check: daily, and the first run scanned: a full refresh checks regardless.
    run = sync_env.run("members", full_refresh=True)
    assert run["state"] == "success"
    for sid in gone:
        props = contact(sync_env, ids[sid])["properties"]
        assert props["officernd_status"] == "deleted", "kept and flagged"
        assert props["officernd_id"] == sid
    assert run["details"]["flagged"] == 3
    assert sorted(run["details"]["delete_list"]) == [f"{s}: flag (source delete)" for s in gone]
    written = sync_env.warehouse.read_source_deletions("members", run["run_id"])
    assert set(written["status"]) == {"written"} and set(written["source_id"]) == set(gone)
    # Already flagged: the next check writes nothing for them.
    again = sync_env.run("members", full_refresh=True)
    assert again["state"] == "success" and not again["details"].get("flagged")
    assert again["routes"].get("/crm/v3/objects/{objectType}/batch/update", 0) == 0


def test_deleted_member_is_archived_when_the_mapping_says_so(sync_env, monkeypatch) -> None:
    with_mapping(monkeypatch, "members", on_source_delete="archive", delete_check="every_run")
    ids = synced_members(sync_env)
    sid = sorted(ids)[5]
    sync_env.officernd.state.delete_record("members", sid)
    run = sync_env.run("members")
    assert run["state"] == "success" and run["details"]["archived"] == 1
    assert run["routes"]["/crm/v3/objects/{objectType}/batch/archive"] == 1
    assert contact(sync_env, ids[sid], archived=True)["archived"] is True
    assert sid not in by_member(sync_env)
    assert sid not in sync_env.warehouse.id_map("members"), "the sync's own archive"
    # Not a person's delete: no tombstone, and nothing happens on the next run.
    again = sync_env.run("members")
    assert again["state"] == "success" and not again["details"].get("archived")
    assert len(sync_env.warehouse.tombstones("members")) == 0


def test_member_leaving_the_filter_is_handled_per_on_filter_exit(sync_env,
                                                                  monkeypatch) -> None:
    with_mapping(monkeypatch, "members", filter={"status": ["active"]},
                 on_filter_exit="flag", on_source_delete="ignore")
    ids = synced_members(sync_env)
    members = {m["_id"]: m for m in sync_env.officernd.state.records("members")}
    active = [sid for sid in sorted(ids) if members[sid]["status"] == "active"]
    leaving, staying = active[0], active[1]
    sync_env.officernd.patch_record("members", leaving, {"status": "former"})
    sync_env.officernd.patch_record("members", staying, {"name": "Still Here"})
    run = sync_env.run("members")
    assert run["state"] == "success"
    assert run["details"]["flagged"] == 1
    assert contact(sync_env, ids[leaving])["properties"]["officernd_status"] == "left_filter"
    assert contact(sync_env, ids[staying])["properties"]["officernd_status"] == "active"
    # Back inside the filter: the regular update sets the real status again.
    sync_env.officernd.patch_record("members", leaving, {"status": "active"})
    back = sync_env.run("members")
    assert back["state"] == "success" and back["updated"] >= 1
    assert contact(sync_env, ids[leaving])["properties"]["officernd_status"] == "active"


def test_guard_stops_a_run_that_would_archive_30_percent_until_confirmed(sync_env,
                                                                         monkeypatch) -> None:
    # delete_check: daily (the default): a stopped run does not count as the day's check,
    # and the confirming run checks again whatever the schedule.
    with_mapping(monkeypatch, "members", on_source_delete="archive")
    ids = synced_members(sync_env)
    gone = sorted(ids)[: round(len(ids) * 0.3)]
    assert len(gone) >= 20
    for sid in gone:
        sync_env.officernd.state.delete_record("members", sid)
    before = len(sync_env.contacts())

    plan = sync_env.run("members", dry_run=True)
    assert plan["state"] == "success", "a dry run shows the plan, guard included"
    assert plan["details"]["planned_deletes"] == len(gone)
    assert "max_delete_ratio" in plan["details"]["delete_guard"]

    stopped = sync_env.run("members")
    assert stopped["state"] == "failed" and stopped["status"] == "failed"
    assert stopped["details"]["failed_step"] == "deletes"
    assert stopped["details"]["would_archive"] == len(gone)
    assert f"archive {len(gone)}" in stopped["details"]["delete_guard"]
    assert stopped["write_calls"] == 0, "nothing was written"
    assert len(sync_env.contacts()) == before
    guarded = sync_env.warehouse.read_source_deletions("members", stopped["run_id"])
    assert set(guarded["status"]) == {"guarded"} and len(guarded) == len(gone)
    assert sync_env.warehouse.last_delete_check("members") is None

    confirmed = sync_env.run("members", confirm_deletes=True)
    assert confirmed["state"] == "success"
    assert confirmed["details"]["archived"] == len(gone)
    assert confirmed["routes"]["/crm/v3/objects/{objectType}/batch/archive"] == -(
        -len(gone) // 100)
    assert len(sync_env.contacts()) == before - len(gone)


def test_contact_archived_in_hubspot_stays_archived_and_is_reported(sync_env,
                                                                     monkeypatch) -> None:
    ids = synced_members(sync_env)
    sid = sorted(ids)[7]
    sync_env.hubspot.state.archive_object("contacts", ids[sid])
    for n in range(1, 4):
        sync_env.officernd.patch_record("members", sid, {"name": f"Changed Name{n}"})
        run = sync_env.run("members")
        assert run["state"] == "success"
        assert sid not in by_member(sync_env), f"run {n} did not re-create it"
        assert run["details"]["tombstoned"] == 1
        assert run["details"]["tombstone_list"][0].startswith(f"{sid}: HubSpot contacts")
        assert "archived in HubSpot" in run["details"]["tombstone_list"][0]
    assert contact(sync_env, ids[sid], archived=True)["archived"] is True
    stone = sync_env.warehouse.tombstones("members").to_dict("records")
    assert [(s["source_id"], s["hubspot_id"], s["kind"], s["times_seen"]) for s in stone] == [
        (sid, ids[sid], "archived", 3)]
    assert stone[0]["first_seen_at"] < stone[0]["last_seen_at"]
    rejects = sync_env.warehouse.open_rejects("members")
    held = rejects[rejects["rule"] == "hubspot_deleted"]
    assert list(held["source_id"]) == [sid] and list(held["category"]) == ["ARCHIVED"]
    # The mapping may say otherwise: then the record is created again, once.
    with_mapping(monkeypatch, "members", recreate_deleted=True)
    sync_env.officernd.patch_record("members", sid, {"name": "Back Again"})
    back = sync_env.run("members")
    assert back["state"] == "success" and back["details"]["recreated"] == 1
    assert back["created"] == 1 and sid in by_member(sync_env)
    assert len(sync_env.warehouse.tombstones("members")) == 0


def test_merged_contacts_follow_the_merge(sync_env) -> None:
    ids = synced_members(sync_env)
    kept, merged_away, other = sorted(ids)[10:13]
    state = sync_env.hubspot.state
    # A person merges a synced contact into a contact typed by hand, then (later) clears
    # the id property on the survivor: the sync finds it through the old id.
    typed = state.create_object("contacts", {"email": "typed.by.hand@example.com"})
    state.merge("contacts", typed["id"], ids[kept])
    state.update_object("contacts", typed["id"], {"officernd_id": ""})
    # Another synced contact merged into a third synced one: not taken over.
    state.merge("contacts", ids[other], ids[merged_away])
    for sid in (kept, merged_away):
        sync_env.officernd.patch_record("members", sid, {"name": "After Merge"})
    run = sync_env.run("members")
    assert run["state"] == "success"
    assert run["details"]["merges_adopted"] == 1
    assert sync_env.warehouse.id_map("members")[kept] == typed["id"]
    survivor = contact(sync_env, typed["id"])["properties"]
    assert survivor["officernd_id"] == kept and survivor["firstname"] == "After"
    assert len([c for c in by_member(sync_env) if c == kept]) == 1
    assert by_member(sync_env)[other]["id"] == ids[other], "the other keeps its contact"
    stone = sync_env.warehouse.tombstones("members").to_dict("records")
    assert [(s["source_id"], s["kind"]) for s in stone] == [(merged_away, "merged")]
    assert f"synced from {other}" in stone[0]["reason"]
    again = sync_env.run("members")
    assert again["state"] == "success" and again["record_write_calls"] == 0

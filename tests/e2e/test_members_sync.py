"""Companies and members end to end: dag.test() against both sandboxes over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import hold_back_company

pytestmark = pytest.mark.e2e

FILTERED_STATUSES = {"not_approved"}  # members.yaml's filter leaves these out


def expected_members(sb) -> dict[str, dict]:
    """Members the first run must write: valid email, first of any shared email, in the filter."""
    bad = sb.anomalies()["members"]
    held = set(bad["invalid_email"]) | set(bad["missing_email"]) | set(bad["duplicate_email"])
    return {m["_id"]: m for m in sb.state.records("members")
            if m["_id"] not in held and m["status"] not in FILTERED_STATUSES}


def test_first_run_creates_one_contact_per_valid_member(sync_env) -> None:
    members = expected_members(sync_env.officernd)
    # A contact that already exists in HubSpot with a member's email is adopted, not duplicated.
    adopted_id, adopted = next(iter(sorted(members.items())))
    pre = sync_env.hubspot.state.create_object(
        "contacts", {"email": adopted["email"].strip().lower(), "firstname": "Typed",
                     "phone": "+1 555 0100"})

    companies = sync_env.run("companies")
    run = sync_env.run("members")

    assert companies["state"] == run["state"] == "success"
    contacts = sync_env.contacts()
    synced = {c["properties"].get("officernd_id"): c for c in contacts}
    assert set(synced) == set(members), "exactly the valid members became contacts"
    assert len(contacts) == len(members), "no duplicates"
    assert synced[adopted_id]["id"] == pre["id"], "the existing contact was adopted"
    assert synced[adopted_id]["properties"]["phone"] == "+1 555 0100", "fill_if_empty kept it"
    assert run["created"] == len(members) - 1 and run["updated"] == 1
    # Every deliberately bad member is held back with its rule, and never sent.
    bad = sync_env.officernd.anomalies()["members"]
    rejects = sync_env.warehouse.open_rejects("members")
    by_rule = rejects.groupby("rule")["source_id"].apply(set).to_dict()
    assert set(bad["invalid_email"]) <= by_rule["email"]
    assert set(bad["missing_email"]) <= by_rule["required"]
    assert set(bad["duplicate_email"]) <= by_rule["unique"]
    assert run["rejected"] == len(set(rejects["source_id"]))
    # One upsert call per 100 records (plus one update for the adopted contact).
    assert run["routes"]["/crm/v3/objects/{objectType}/batch/upsert"] == -(
        -(len(members) - 1) // 100)
    assert run["routes"]["/crm/v3/objects/{objectType}/batch/update"] == 1


def test_contacts_are_associated_with_their_company(sync_env) -> None:
    sync_env.run("companies")
    sync_env.run("members")
    hook = sync_env.hook()
    company_ids = sync_env.warehouse.id_map("companies")
    contact_ids = sync_env.warehouse.id_map("members")
    members = {m["_id"]: m for m in sync_env.officernd.state.records("members")}
    linked = {sid: hid for sid, hid in contact_ids.items()
              if members[sid].get("company") in company_ids}
    assert linked, "the seed has members of synced companies"
    associations = hook.read_associations("contacts", "companies", list(linked.values()))
    for sid, hid in linked.items():
        assert associations[hid] == [company_ids[members[sid]["company"]]]
    # Members of a company that is not synced wait for it; nothing is dropped silently.
    pending = sync_env.warehouse.pending_associations("members")
    assert {p["source_id"] for p in pending} == {
        sid for sid in contact_ids if members[sid].get("company")
        and members[sid]["company"] not in company_ids}


def test_second_run_over_the_same_window_writes_nothing(sync_env) -> None:
    sync_env.run("companies")
    first = sync_env.run("members", since="2000-01-01T00:00:00Z",
                         until="2100-01-01T00:00:00Z")
    second = sync_env.run("members", since="2000-01-01T00:00:00Z",
                          until="2100-01-01T00:00:00Z")
    assert first["created"] > 0
    assert second["write_calls"] == 0
    assert second["created"] == second["updated"] == 0
    assert second["unchanged"] == first["created"] + first["updated"]
    # A manual run right after reads only what changed since the last one: nothing.
    third = sync_env.run("members")
    assert third["write_calls"] == 0 and third["created"] == third["updated"] == 0


def test_mutations_update_exactly_those_members_and_fields(sync_env) -> None:
    sync_env.run("companies")
    sync_env.run("members")
    hour = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    sync_env.officernd.set_clock(hour + timedelta(minutes=5))
    synced = sync_env.warehouse.id_map("members")
    chosen = sorted(synced)[:10]
    hook = sync_env.hook()
    # Sales typed a phone into HubSpot for the first member; OfficeRnD's must not replace it.
    sales_phone_id = synced[chosen[0]]
    hook.batch_update("contacts", [{"id": sales_phone_id, "properties": {"phone": "+44 20 7946"}}])
    for i, sid in enumerate(chosen):
        sync_env.officernd.patch_record("members", sid, {"name": f"Renamed Person{i}",
                                                         "phone": f"+359 {i:04d}"})
    before = sync_env.hubspot.stats()

    run = sync_env.run("members", since=hour.isoformat(),
                       until=(hour + timedelta(hours=1)).isoformat())

    assert run["extracted"] == 10 and run["updated"] == 10 and run["created"] == 0
    delta = sync_env.warehouse.read_delta("members", run["dag_run"].run_id, ["update"])
    assert set(delta["source_id"]) == set(chosen)
    for row in delta.to_dict("records"):
        assert set(row["changed_fields"]) <= {"firstname", "lastname", "phone"}
    assert run["write_calls"] == 1, "ten updates are one batch upsert"
    phones = {c["id"]: c["properties"].get("phone") for c in sync_env.contacts()}
    assert phones[sales_phone_id] == "+44 20 7946"
    assert sync_env.hubspot.stats()["total"] > before["total"]


def test_dry_run_writes_nothing_and_keeps_the_plan(sync_env) -> None:
    sync_env.run("companies")
    run = sync_env.run("members", dry_run=True)
    assert run["state"] == "success"
    assert run["write_calls"] == 0 and run["created"] == 0
    plan = sync_env.warehouse.read_delta("members", run["dag_run"].run_id, ["create"])
    assert len(plan) > 0
    row = plan.iloc[0]
    assert row["after"]["email"] and row["changed_fields"]
    assert sync_env.warehouse.id_map("members") == {}
    # A dry run does not move the watermark: the next real run still reads everything.
    real = sync_env.run("members")
    assert real["created"] == len(plan) - real["rejected"]


def test_backfill_over_midnight_processes_each_hours_changes_once(sync_env) -> None:
    """Six hourly BACKFILL runs, 21:00 to 03:00 three days back: each run reads exactly the
    members last changed in its own hour (seed records included; a change at midnight
    itself belongs to the hour after it), so every change is processed once and only once,
    and an hour without changes writes nothing. That a backfill run's window is its data
    interval whatever the watermark, hour after hour over two days, is the rule
    tests/unit/test_window.py checks over 48 runs."""
    sync_env.run("companies")
    sync_env.run("members")
    start = (datetime.now(UTC) - timedelta(days=3)).replace(hour=21, minute=0, second=0,
                                                             microsecond=0)
    synced = sorted(sync_env.warehouse.id_map("members"))
    # run index -> (minute in that hour, members changed); index 3 starts at midnight.
    changes = {1: (20, synced[0:3]), 3: (0, synced[3:5]), 4: (20, synced[5:6]),
               5: (59, synced[6:10])}
    for hour, (minute, ids) in changes.items():
        sync_env.officernd.set_clock(start + timedelta(hours=hour, minutes=minute))
        for sid in ids:
            sync_env.officernd.patch_record("members", sid, {"name": f"Backfilled {hour} {sid}"})

    runs = [sync_env.run("members", backfill_at=start + timedelta(hours=h + 1))
            for h in range(6)]

    assert all(r["state"] == "success" for r in runs)
    assert all(str(r["dag_run"].run_type).endswith("backfill") for r in runs)
    # Each hour extracted exactly the members last changed in it (seed records included),
    # so every change was processed once and only once.
    members = sync_env.officernd.state.records("members")
    for hour, run in enumerate(runs):
        lo, hi = start + timedelta(hours=hour), start + timedelta(hours=hour + 1)
        expected = {m["_id"] for m in members
                    if lo <= datetime.fromisoformat(m["modifiedAt"].replace("Z", "+00:00")) < hi}
        snapshot = sync_env.warehouse.read_source_snapshot("members", run["dag_run"].run_id)
        assert set(snapshot["source_id"]) == expected, f"hour {hour}"
        assert set(changes.get(hour, (0, []))[1]) <= expected, f"hour {hour}"
    updated = {h: r["updated"] for h, r in enumerate(runs) if r["updated"]}
    assert updated == {h: len(ids) for h, (_, ids) in changes.items()}
    assert sum(r["write_calls"] for r in runs) == len(changes)


def test_broken_threshold_fails_before_any_write(sync_env, monkeypatch) -> None:
    import hubspot_sync.steps.context as context

    run_cls = context.EntityRun

    def strict(*args, **kwargs):
        run = run_cls(*args, **kwargs)
        run.mapping = run.mapping.model_copy(update={"max_rejected_ratio": 0.0,
                                                     "reject_threshold_min_records": 0})
        return run

    sync_env.run("companies")
    monkeypatch.setattr(context, "EntityRun", strict)
    run = sync_env.run("members")
    assert run["state"] == "failed"
    assert run["record_write_calls"] == 0
    assert run["status"] == "failed"
    assert len(sync_env.warehouse.open_rejects("members")) > 0


def test_report_goes_to_xcom_and_emits_the_asset_event(sync_env) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = sync_env.run("companies")
    run_id = run["dag_run"].run_id
    with create_session() as session:
        xcom = session.scalars(select(XComModel).where(
            XComModel.dag_id == "sync_companies", XComModel.run_id == run_id,
            XComModel.task_id == "report", XComModel.key == "return_value")).one()
        counts = XComModel.deserialize_value(xcom)
        events = session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri.like("hubspot://companies%"),
                   AssetEvent.source_run_id == run_id)).all()
        extras = [e.extra for e in events]
    assert {k: counts[k] for k in ("extracted", "created", "rejected", "api_calls")} == {
        k: run[k] for k in ("extracted", "created", "rejected", "api_calls")}
    assert counts["data_docs"].endswith("index.html")
    assert extras == [{"entity": "companies", "created": run["created"], "updated": 0,
                       "rejected": run["rejected"], "failed": 0}]


def test_waiting_associations_are_counted_once_across_runs(sync_env) -> None:
    # Members of a company that fails validation wait for it.
    held = next(m["company"] for m in expected_members(sync_env.officernd).values()
                if m.get("company"))
    hold_back_company(sync_env.officernd, held)
    companies = sync_env.run("companies")
    assert held not in sync_env.warehouse.id_map("companies")
    assert companies["rejected"] == 1
    window = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    first = sync_env.run("members", **window)
    second = sync_env.run("members", **window)
    waiting = sync_env.warehouse.pending_associations("members")
    assert first["details"]["pending_associations"] > 0
    assert second["details"]["pending_associations"] == first["details"][
        "pending_associations"] == len(waiting)
    assert len({(p["source_id"], p["to_source_id"]) for p in waiting}) == len(waiting)
    assert {p["to_source_id"] for p in waiting} == {held}


def test_an_association_hubspot_refuses_waits_with_its_reason(sync_env) -> None:
    sync_env.run("companies")
    companies = sync_env.warehouse.id_map("companies")
    members = sync_env.officernd.state.records("members")
    target = next(m["company"] for m in members if m.get("company") in companies)
    # Someone archived the company in HubSpot after it synced: associating with it fails.
    sync_env.hook().batch_archive("companies", [companies[target]])

    run = sync_env.run("members")

    assert run["state"] == "success"
    waiting = [p for p in sync_env.warehouse.pending_associations("members")
               if p["to_source_id"] == target]
    assert waiting, "the refused pairs are kept, not dropped"
    assert all(p["reason"].startswith("HubSpot refused the association") for p in waiting)
    assert {p["source_id"] for p in waiting} == {
        m["_id"] for m in members if m.get("company") == target
        and m["_id"] in sync_env.warehouse.id_map("members")}

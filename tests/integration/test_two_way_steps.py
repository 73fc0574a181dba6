"""The two-way steps in-process (run_steps, as the benchmarks run them) against both
sandboxes over HTTP: a dry run plans the reverse writes and sends nothing; a HubSpot value
the inverse stage map does not know is a reject with its reason, never sent."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from hubspot_sync.steps.context import RunWindow

pytestmark = pytest.mark.officernd_scale(60)


@pytest.fixture
def synced(hubspot_sandbox, officernd_sandbox, tmp_path):
    """First syncs of companies, members and opportunities; ``run(entity, **kw)`` runs one
    more (the window: since the previous run of the entity)."""
    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.mapping import load_mappings
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.steps import STEPS, call_step, run_steps
    from hubspot_sync.steps.context import EntityRun
    from hubspot_sync.warehouse import Warehouse

    mappings = load_mappings().mappings
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    officernd_sandbox.set_clock(datetime.now(UTC))
    ends: dict[str, datetime] = {}

    def run(entity: str, dry_run: bool = False, before_step=None, **hook_options) -> dict:
        """``before_step(name)`` is called before each step; ``hook_options`` go to the hook."""
        end = datetime.now(UTC)
        window = RunWindow(ends.get(entity), end, False, "test")
        source = OfficeRnDSource.from_url(
            officernd_sandbox.url, "sandbox-client", "sandbox-secret", "sandbox",
            token_url=f"{officernd_sandbox.url}/oauth/token", token_cache_dir=None)
        hook = HubSpotHook.from_url(hubspot_sandbox.url, "sandbox-token", search_per_second=0,
                                    **hook_options)
        entity_run = EntityRun(mapping=mappings[entity], run_id=f"{entity}-{len(ends)}-"
                               f"{end.timestamp()}", mappings=mappings, window=window,
                               dry_run=dry_run, _warehouse=warehouse, _hook=hook,
                               _source=source)
        if before_step is None:
            report = run_steps(entity_run)["report"]
        else:
            outputs: dict = {}
            for step in STEPS:
                if step.applies_to(entity_run.mapping):
                    before_step(step.name)
                    outputs[step.name] = call_step(step, entity_run, outputs)
            report = outputs["report"]
        if not dry_run:
            ends[entity] = end
        return {**report, "hubspot_writes": hook.write_call_count}

    for entity in ("companies", "members", "opportunities"):
        run(entity)
    yield run, warehouse
    warehouse.dispose()


def test_dry_run_plans_reverse_writes_and_an_unknown_stage_is_rejected(synced, hubspot_sandbox,
                                                            officernd_sandbox) -> None:
    run, warehouse = synced
    sid, hid = sorted(warehouse.id_map("members").items())[0]
    hubspot_sandbox.user_edit("contacts", hid, {"phone": "+1 555 0142"})
    writes = officernd_sandbox.write_counts()

    report = run("members", dry_run=True)

    plan = report["two_way"]["reverse_plan"]
    assert {"action": "update", "source_id": sid, "body": {"phone": "+1 555 0142"}} in plan
    assert report["two_way"]["planned_officernd_updates"] == len(plan) >= 1
    assert officernd_sandbox.write_counts() == writes
    assert report["hubspot_writes"] == 0

    # One setup for both checks (three first syncs cost most of this file's time).
    _unknown_stage_is_a_reject_not_a_write(run, warehouse, hubspot_sandbox, officernd_sandbox)


def _unknown_stage_is_a_reject_not_a_write(run, warehouse, hubspot_sandbox,
                                           officernd_sandbox) -> None:
    """A stage the stage map does not know: rejected with its reason, never sent."""
    sid, hid = sorted(warehouse.id_map("opportunities").items())[0]
    before = next(o for o in officernd_sandbox.state.records("opportunities")
                  if o["_id"] == sid)
    hubspot_sandbox.user_edit("deals", hid, {"dealstage": "contractsent"})

    report = run("opportunities")

    assert report["officernd_rejected"] == 1 and report["officernd_updated"] == 0
    rejects = warehouse.open_rejects("opportunities")
    row = rejects[rejects["source_id"] == sid].to_dict("records")[0]
    assert row["rule"] == "reverse_conversion" and row["property"] == "dealstage"
    assert "'contractsent' is not in the value map of dealstage" in row["reason"]
    after = next(o for o in officernd_sandbox.state.records("opportunities") if o["_id"] == sid)
    assert after["status"] == before["status"]
    # The forward direction does not put OfficeRnD's stage back over the person's edit.
    from hubspot_sync.hubspot_client import HubSpotHook

    deal = HubSpotHook.from_url(hubspot_sandbox.url, "sandbox-token").batch_read(
        "deals", [hid], ["dealstage"])[0]
    assert deal["properties"]["dealstage"] == "contractsent"


def test_a_record_matched_to_another_records_contact_takes_nothing_back(
        synced, hubspot_sandbox, officernd_sandbox) -> None:
    """A new member whose email is another synced member's: HubSpot's contact for that email
    is the other member's (a match conflict), so none of its values flow back onto the new
    member (found by the chaos test: another person's phone and address were written to
    OfficeRnD)."""
    run, warehouse = synced
    sid, hid = sorted(warehouse.id_map("members").items())[1]
    other = officernd_sandbox.state.collections["members"].by_id[sid]
    hubspot_sandbox.user_edit("contacts", hid, {"phone": "+1 555 0199", "city": "Lisbon"})
    newcomer = officernd_sandbox.insert_record("members", {
        "name": "Sam Newcomer", "email": other["email"], "phone": "+44 20 7946 0000",
        "status": "active", "location": other.get("location"),
        "address": {"city": "Leeds"}})
    writes = officernd_sandbox.write_counts()
    report = run("members")
    after = officernd_sandbox.state.collections["members"].by_id[newcomer["_id"]]
    assert after.get("phone") == "+44 20 7946 0000"
    assert (after.get("address") or {}).get("city") == "Leeds"
    # The other member's own contact edit still reaches it: only the newcomer is excluded.
    assert officernd_sandbox.state.collections["members"].by_id[sid].get("phone") == \
        "+1 555 0199"
    changed = officernd_sandbox.write_counts()
    assert changed != writes and report["officernd_updated"] == 1


def test_a_lost_answer_to_an_applied_write_is_not_a_conflict(synced, hubspot_sandbox,
                                                             officernd_sandbox) -> None:
    """A forward phone write HubSpot applied but whose answer was lost, then a newer phone in
    OfficeRnD: the newest phone ends on both sides, no conflict (members' phone is
    hubspot_wins: before the write-ahead pending value the older, sent phone was written back
    over the person's newer one, found by the chaos test)."""
    from hubspot_sync.hubspot_client import HubSpotHook

    run, warehouse = synced
    sid, hid = sorted(warehouse.id_map("members").items())[2]
    officernd_sandbox.user_edit("members", sid, {"phone": "+1 555 0101"})
    time.sleep(0.01)  # past the edit's millisecond: the window ends before it otherwise

    def lose_load_answers(step: str) -> None:  # only load's requests: applied, answer lost
        if step == "load":
            hubspot_sandbox.configure_faults(lost_error_rate=1.0, seed=1)
        else:
            hubspot_sandbox.configure_faults()

    try:
        with pytest.raises(Exception, match="502|504"):
            run("members", before_step=lose_load_answers, max_attempts=1)
    finally:
        hubspot_sandbox.configure_faults()

    def hubspot_phone() -> str | None:
        return HubSpotHook.from_url(hubspot_sandbox.url, "sandbox-token").batch_read(
            "contacts", [hid], ["phone"])[0]["properties"].get("phone")

    assert hubspot_phone() == "+1 555 0101"  # applied, though load never heard so
    officernd_sandbox.user_edit("members", sid, {"phone": "+1 555 0202"})
    time.sleep(0.01)

    report = run("members")

    assert report["two_way_conflicts"] == 0
    assert warehouse.read_conflicts("members").empty
    assert officernd_sandbox.state.collections["members"].by_id[sid]["phone"] == "+1 555 0202"
    assert hubspot_phone() == "+1 555 0202"
    base = warehouse.read_baseline_pending("members", [sid])
    row = base[base["property"] == "phone"].to_dict("records")[0]
    assert (row["value"], row["has_pending"]) == ("+1 555 0202", False)

"""Two-way sync end to end: the real DAGs (dag.test()) against both sandboxes over HTTP.

One sequence of twelve DAG runs (module-scoped, one xdist group) carries every scenario of
issue 14; the tests below assert on what it observed:

- first syncs of companies, members, opportunities (a deal a person created in HubSpot in a
  stage the stage map does not know waits);
- members run 1: a phone edited in HubSpot reaches OfficeRnD, one edited in OfficeRnD
  reaches HubSpot, a phone edited on both sides goes to HubSpot's (hubspot_wins), a city
  edited on both sides goes to the later edit (latest_wins: OfficeRnD's), both losers
  recorded; runs 1-5 alternate edits of one member's phone between the sides; run 6 (no
  edit) writes nothing on either side;
- opportunities: the waiting deal moved to a mapped stage becomes exactly one OfficeRnD
  opportunity linked to its company and member, an amount edited in HubSpot reaches
  OfficeRnD; the next run settles; the one after writes nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import http_connection
from tests.e2e.conftest import SyncEnv

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("two_way")]

UNMAPPED_STAGE = "contractsent"   # a HubSpot stage the opportunities stage map has no key for
MAPPED_STAGE = "qualifiedtobuy"   # "Tour booked" in the stage map
ALTERNATING = ["+1 555 0101", "+359 88 0202", "+1 555 0303", "+359 88 0404", "+1 555 0505"]


def officernd_writes(sb: Any) -> int:
    return sum(c.get("created", 0) + c.get("updated", 0) for c in sb.write_counts().values())


class Story:
    """The environment and what each run observed."""

    def __init__(self, env: SyncEnv) -> None:
        self.env = env
        self.runs: dict[str, dict[str, Any]] = {}

    def run(self, label: str, entity: str) -> dict[str, Any]:
        before = officernd_writes(self.env.officernd)
        result = self.env.run(entity)
        result["officernd_writes"] = officernd_writes(self.env.officernd) - before
        assert result["state"] == "success", (label, result.get("details"))
        self.runs[label] = result
        return result

    def member(self, sid: str) -> dict:
        return next(m for m in self.env.officernd.state.records("members") if m["_id"] == sid)

    def contact(self, hid: str) -> dict:
        return self.env.hook().batch_read("contacts", [hid], ["phone", "city"])[0]["properties"]


@pytest.fixture(scope="module")
def story(entity_dags, tmp_path_factory) -> Iterator[Story]:
    from hubspot_sync.mapping import association_type_id
    from hubspot_sync.warehouse import Warehouse
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.officernd import OfficeRnDSandbox

    url = f"sqlite:///{tmp_path_factory.mktemp('two_way') / 'warehouse.db'}"
    hubspot = HubSpotSandbox(port=0, burst_limit=0, search_limit=0).start()
    officernd = OfficeRnDSandbox(port=0, seed=42, scale=100, rate_limit=0,
                                 token_rate_limit=0).start()
    officernd.set_clock(datetime.now(UTC))  # both sides' change times on one clock
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_HUBSPOT_DEFAULT",
                                            "AIRFLOW_CONN_OFFICERND_DEFAULT",
                                            "AIRFLOW_CONN_SYNC_WAREHOUSE")}
    os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = http_connection(hubspot.url,
                                                                 password="sandbox-token")
    os.environ["AIRFLOW_CONN_OFFICERND_DEFAULT"] = http_connection(
        officernd.url, login="sandbox-client", password="sandbox-secret",
        extra={"org_slug": "sandbox", "token_url": f"{officernd.url}/oauth/token"})
    os.environ["AIRFLOW_CONN_SYNC_WAREHOUSE"] = json.dumps(
        {"conn_type": "generic", "extra": {"url": url}})
    warehouse = Warehouse(url)
    story = Story(SyncEnv(hubspot, officernd, warehouse, entity_dags))
    try:
        _play(story, association_type_id)
        yield story
    finally:
        warehouse.dispose()
        hubspot.stop()
        officernd.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _play(story: Story, association_type_id: Any) -> None:
    env = story.env
    hs, od, wh = env.hubspot, env.officernd, env.warehouse
    # A deal a person creates in HubSpot, in a stage the stage map does not know.
    story.run("companies", "companies")
    story.run("members", "members")
    companies, members = wh.id_map("companies"), wh.id_map("members")
    linked = next(m for m in od.state.records("members")
                  if m["_id"] in members and m.get("company") in companies)
    deal = hs.user_create("deals", {"dealname": "Walk-in from HubSpot", "pipeline": "default",
                                    "dealstage": UNMAPPED_STAGE, "amount": "1800"}, [
        {"to": {"id": companies[linked["company"]]}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED",
             "associationTypeId": association_type_id("deals", "companies")}]},
        {"to": {"id": members[linked["_id"]]}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED",
             "associationTypeId": association_type_id("deals", "contacts")}]}])
    story.run("opportunities first", "opportunities")
    story.deal, story.linked_member = str(deal["id"]), linked

    # Members run 1: one-sided edits, both-sided edits, and the first alternating edit.
    ids = sorted(sid for sid in members if sid != linked["_id"])
    with_address = [sid for sid in ids if (story.member(sid).get("address") or {}).get("city")]
    a, b, c, e = [sid for sid in ids if sid not in with_address[:1]][:4]
    d = with_address[0]
    story.cast = {"a": a, "b": b, "c": c, "d": d, "e": e}
    hs.user_edit("contacts", members[a], {"phone": "+44 20 7946 0001"})
    od.user_edit("members", b, {"phone": "+44 20 7946 0002"})
    hs.user_edit("contacts", members[c], {"phone": "+1 212 555 0003"})
    od.user_edit("members", c, {"phone": "+359 2 555 0003"})
    hs.user_edit("contacts", members[d], {"city": "Lyon"})
    time.sleep(1.1)  # OfficeRnD's edit of d's city is the later one
    od.user_edit("members", d, {"address": {**story.member(d)["address"], "city": "Plovdiv"}})
    hs.user_edit("contacts", members[e], {"phone": ALTERNATING[0]})
    story.run("members 1", "members")
    story.after_first = {sid: (story.member(sid), story.contact(members[sid]))
                         for sid in (a, b, c, d, e)}
    story.alternation = [(story.member(e)["phone"], story.contact(members[e])["phone"])]
    for i, phone in enumerate(ALTERNATING[1:], start=2):
        if i % 2 == 0:
            od.user_edit("members", e, {"phone": phone})
        else:
            hs.user_edit("contacts", members[e], {"phone": phone})
        story.run(f"members {i}", "members")
        story.alternation.append((story.member(e)["phone"],
                                  story.contact(members[e])["phone"]))
    story.run("members re-run", "members")

    # Opportunities: the deal moves to a mapped stage; a synced deal's amount is edited.
    opportunities = wh.id_map("opportunities")
    story.edited_opportunity = sorted(opportunities)[0]
    hs.user_edit("deals", opportunities[story.edited_opportunity], {"amount": "4321"})
    hs.user_edit("deals", story.deal, {"dealstage": MAPPED_STAGE})
    story.run("opportunities 2", "opportunities")
    story.run("opportunities settle", "opportunities")
    story.run("opportunities re-run", "opportunities")


def test_an_edit_on_each_side_arrives_on_the_other(story) -> None:
    cast, seen = story.cast, story.after_first
    officernd_a, hubspot_a = seen[cast["a"]]
    assert officernd_a["phone"] == hubspot_a["phone"] == "+44 20 7946 0001"
    officernd_b, hubspot_b = seen[cast["b"]]
    assert officernd_b["phone"] == hubspot_b["phone"] == "+44 20 7946 0002"
    run = story.runs["members 1"]
    assert run["details"]["two_way"]["to_officernd"] >= 2


def test_simultaneous_edits_follow_the_rule_and_the_loser_is_recorded(story) -> None:
    cast, seen = story.cast, story.after_first
    # phone: hubspot_wins (members.yaml)
    assert seen[cast["c"]][0]["phone"] == seen[cast["c"]][1]["phone"] == "+1 212 555 0003"
    # city: latest_wins, OfficeRnD's edit was the later one
    assert seen[cast["d"]][0]["address"]["city"] == seen[cast["d"]][1]["city"] == "Plovdiv"
    conflicts = story.env.warehouse.read_conflicts("members")
    rows = {(r["source_id"], r["property"]): r for r in conflicts.to_dict("records")}
    phone = rows[(cast["c"], "phone")]
    assert (phone["rule"], phone["winner"]) == ("hubspot_wins", "hubspot")
    assert (phone["officernd_value"], phone["hubspot_value"]) == ("+359 2 555 0003",
                                                                  "+1 212 555 0003")
    city = rows[(cast["d"], "city")]
    assert (city["rule"], city["winner"]) == ("latest_wins", "officernd")
    assert (city["officernd_value"], city["hubspot_value"]) == ("Plovdiv", "Lyon")
    assert city["officernd_changed_at"] > city["hubspot_changed_at"]
    assert story.runs["members 1"]["details"]["two_way_conflicts"] == 2


def test_alternating_edits_over_five_runs_end_identical(story) -> None:
    assert story.alternation == [(p, p) for p in ALTERNATING]
    for i in range(2, 6):
        run = story.runs[f"members {i}"]
        # one side written per run: HubSpot's edit to OfficeRnD, or OfficeRnD's to HubSpot
        assert (run["officernd_writes"], run["record_write_calls"]) in ((1, 0), (0, 1))


def test_every_re_run_writes_nothing(story) -> None:
    for label in ("members re-run", "opportunities re-run"):
        run = story.runs[label]
        assert run["write_calls"] == 0, (label, run["routes"])
        assert run["officernd_writes"] == 0, label


def test_a_deal_entering_a_mapped_stage_becomes_exactly_one_opportunity(story) -> None:
    env = story.env
    first = story.runs["opportunities first"]
    assert first["details"]["two_way"]["waiting_for_mapped_stage"] == 1
    created = [o for o in env.officernd.state.records("opportunities")
               if (o.get("properties") or {}).get("hubspot_deal_id") == story.deal]
    assert len(created) == 1
    opportunity = created[0]
    statuses = {s["_id"]: s for s in env.officernd.state.records("opportunity-statuses")}
    assert statuses[opportunity["status"]]["description"] == "Tour booked"
    assert opportunity["company"] == story.linked_member["company"]
    assert opportunity["member"] == story.linked_member["_id"]
    assert opportunity["name"] == "Walk-in from HubSpot" and opportunity["dealSize"] == 1800
    deal = env.hook().batch_read("deals", [story.deal], ["officernd_id"])[0]
    assert deal["properties"]["officernd_id"] == f"opportunity-{opportunity['_id']}"
    assert env.warehouse.id_map("opportunities")[opportunity["_id"]] == story.deal
    assert story.runs["opportunities 2"]["details"]["two_way"]["waiting_for_mapped_stage"] == 0
    # The runs after create nothing more (the deal now carries the id property).
    for label in ("opportunities settle", "opportunities re-run"):
        assert story.runs[label]["details"]["officernd_created"] == 0
    # A HubSpot amount edit of a synced deal reached OfficeRnD.
    edited = next(o for o in env.officernd.state.records("opportunities")
                  if o["_id"] == story.edited_opportunity)
    assert edited["dealSize"] == 4321

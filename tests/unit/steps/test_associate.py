"""associate's pair planning and its pending-association bookkeeping."""

from __future__ import annotations

from types import SimpleNamespace

from hubspot_sync.mapping import PARENT_LINK
from hubspot_sync.steps.associate import (
    plan_associations,
    refused,
    waiting_references,
    wanted_associations,
)
from hubspot_sync.steps.extract import WAITING_KEY

from .conftest import mapping

ASSOCS = mapping().associations  # members -> companies via company


def row(sid: str, company: str | None, skip: str | None = None) -> dict:
    return {"source_id": sid, "skip_reason": skip, "links": {"company": company}}


def test_wanted_skips_skipped_rejected_and_linkless_and_merges_pending() -> None:
    pending = [{"source_id": "m1", "to_entity": "companies", "to_source_id": "c1"},
               {"source_id": "m9", "to_entity": "companies", "to_source_id": "c9"},
               {"source_id": "m8", "to_entity": "plans", "to_source_id": "p1"}]
    wanted = wanted_associations([row("m1", "c1"), row("m2", "c2", skip="filtered"),
                                  row("m3", "c3"), row("m4", None)], ASSOCS, {"m3"}, pending)
    assert [(w["source_id"], w.get("pending", False)) for w in wanted] == [
        ("m1", True), ("m9", True)]  # one entry per pair; plans: no such association


def plan(wanted, own, targets, current=None):
    return plan_associations(wanted, own, targets, current or {},
                             object_of=lambda entity: entity,
                             type_id_of=lambda assoc, obj: 1)


def test_pairs_wait_until_both_sides_are_synced_and_existing_ones_are_skipped() -> None:
    a = ASSOCS[0]
    wanted = [{"source_id": "m1", "to_entity": "companies", "to_source_id": "c1", "assoc": a},
              {"source_id": "m2", "to_entity": "companies", "to_source_id": "c2", "assoc": a},
              {"source_id": "m3", "to_entity": "companies", "to_source_id": "c1", "assoc": a},
              {"source_id": "m4", "to_entity": "companies", "to_source_id": "c1", "assoc": a,
               "pending": True}]
    p = plan(wanted, {"m1": "11", "m2": "12", "m4": "14"}, {"companies": {"c1": "91"}},
             current={"m1": {"companies": ["91"]}})
    assert dict(p.batches) == {("companies", 1): [("14", "91")]}  # m1 already there
    assert [(w["source_id"], w["reason"]) for w in p.waiting] == [
        ("m2", "companies c2 is not synced to HubSpot yet"),
        ("m3", "this record is not synced to HubSpot yet")]
    assert [w["source_id"] for w in p.done_pending] == ["m4"]


def test_a_refused_pair_waits_with_hubspots_reason_and_stays_pending() -> None:
    a = ASSOCS[0]
    w = {"source_id": "m4", "to_entity": "companies", "to_source_id": "c1", "assoc": a,
         "pending": True}
    p = plan([w], {"m4": "14"}, {"companies": {"c1": "91"}})
    refused(p, "companies", 1, [SimpleNamespace(input_id="14:91", category="LIMIT",
                                                message="too many")])
    assert p.done_pending == []
    assert p.waiting[0]["reason"] == "HubSpot refused the association (LIMIT): too many"


def test_unresolved_references_queue_under_the_parent() -> None:
    ref = {"to_entity": "plans", "to_source_id": "p2", "reason": "not synced"}
    rows = [{"source_id": "i1", "links": {PARENT_LINK: "c1", WAITING_KEY: [ref]}},
            {"source_id": "i2", "links": {}},
            {"source_id": "x", "links": {WAITING_KEY: [ref]}}]
    assert waiting_references(rows) == [{"source_id": "c1", "type_id": 0, **ref},
                                        {"source_id": "x", "type_id": 0, **ref}]

"""Delta classification rules (pandas, no I/O)."""

from __future__ import annotations

import pandas as pd

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.steps.delta_frame import compute_delta, normaliser, summarise
from hubspot_sync.steps.load import write_payload

MAPPING = EntityMapping.model_validate({
    "entity": "members",
    "source": {"system": "officernd", "resource": "members"},
    "hubspot": {"object": "contacts", "match_on": ["email"]},
    "properties": [
        {"from": "email", "to": "email"},
        {"from": "name", "to": "firstname"},
        {"from": "phone", "to": "phone", "ownership": "fill_if_empty"},
        {"from": "note", "to": "note", "ownership": "never"},
        {"from": "price", "to": "price"},
        {"from": "start", "to": "start_date"},
    ],
})
TYPES = {"price": "number", "start_date": "date"}


def src(sid, skip=None, **props):
    return {"source_id": sid, "changed_at": None, "properties": props, "skip_reason": skip}


def hs(sid, hid, matched_by="officernd_id", **props):
    return {"source_id": sid, "hubspot_id": hid, "matched_by": matched_by, "properties": props}


def delta(source, hubspot, **kw):
    frame = compute_delta(pd.DataFrame(source), pd.DataFrame(hubspot), MAPPING, TYPES, **kw)
    return {r["source_id"]: r for r in frame.to_dict("records")}


def test_create_update_unchanged_skipped() -> None:
    rows = delta(
        [src("new", email="n@x.co", firstname="N"),
         src("same", email="s@x.co", price="12.50", start_date="2025-01-01"),
         src("moved", email="m@x.co", firstname="New name"),
         src("filtered", skip="status 'x' is not one of active", email="f@x.co")],
        [hs("same", "1", email="s@x.co", price="12.5", start_date="2025-01-01T00:00:00.000Z"),
         hs("moved", "2", email="m@x.co", firstname="Old name")])
    assert rows["new"]["action"] == "create"
    assert rows["new"]["changed_fields"] == ["email", "firstname"]
    assert rows["same"]["action"] == "unchanged"  # 12.50 == 12.5, date == midnight datetime
    assert rows["moved"]["action"] == "update" and rows["moved"]["changed_fields"] == ["firstname"]
    assert rows["filtered"]["action"] == "skipped"
    assert "not one of" in rows["filtered"]["reason"]


def test_ownership_rules() -> None:
    rows = delta(
        [src("a", email="a@x.co", phone="111", note="from source"),
         src("b", email="b@x.co", phone="222")],
        [hs("a", "1", email="a@x.co", phone="999", note="typed in HubSpot"),
         hs("b", "2", email="b@x.co")])
    assert rows["a"]["action"] == "unchanged"  # fill_if_empty keeps HubSpot's phone; never: note
    assert rows["b"]["changed_fields"] == ["phone"]  # empty in HubSpot: filled


def test_overwrite_clears_a_value_the_source_no_longer_has() -> None:
    rows = delta([src("a", email="a@x.co")], [hs("a", "1", email="a@x.co", firstname="Old")])
    assert rows["a"]["changed_fields"] == ["firstname"]
    assert write_payload(rows["a"], MAPPING) == {"firstname": "", "officernd_id": "a"}


def test_adopted_record_gets_the_id_property() -> None:
    rows = delta([src("a", email="a@x.co", firstname="A")],
                 [hs("a", "77", matched_by="email", email="a@x.co", firstname="A")])
    assert rows["a"]["action"] == "update"
    assert rows["a"]["changed_fields"] == ["officernd_id"]


def test_match_key_owned_by_another_record_is_a_conflict() -> None:
    rows = delta([src("b", email="shared@x.co")],
                 [hs("b", "77", matched_by="email", email="shared@x.co")],
                 owner_of={"77": "a"})
    assert rows["b"]["action"] == "conflict"
    assert "already synced from a" in rows["b"]["reason"]


def test_orphans_only_in_full_refresh() -> None:
    source, hubspot = [src("a", email="a@x.co")], [hs("a", "1", email="a@x.co"),
                                                   hs("gone", "2", email="g@x.co")]
    assert "gone" not in delta(source, hubspot)
    assert delta(source, hubspot, full_refresh=True)["gone"]["action"] == "orphan"


def test_modes() -> None:
    update_only = MAPPING.model_copy(update={"mode": "update_only"})
    frame = compute_delta(pd.DataFrame([src("a", email="a@x.co")]), pd.DataFrame(),
                          update_only, TYPES)
    assert frame.loc[0, "action"] == "skipped"


def test_summary_counts_every_action() -> None:
    frame = compute_delta(pd.DataFrame([src("a", email="a@x.co")]), pd.DataFrame(), MAPPING,
                          TYPES)
    assert summarise(frame) == {"create": 1, "update": 0, "unchanged": 0, "skipped": 0,
                                "conflict": 0, "orphan": 0}


def test_normalisers() -> None:
    assert normaliser("number")("1.50") == "1.5"
    assert normaliser("date")("2025-02-03T00:00:00Z") == "2025-02-03"
    assert normaliser("datetime")("2025-02-03T00:00:00Z") == normaliser("datetime")(
        "1738540800000") == "2025-02-03T00:00:00.000Z"
    assert normaliser("string")("  x ") == "x" and normaliser("string")("") is None
    assert normaliser("bool")("Yes") == "true"

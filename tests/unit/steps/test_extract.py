"""extract_source's rules: filter, links, lookups, id_of references, snapshot order."""

from __future__ import annotations

from datetime import UTC, datetime

from hubspot_sync.mapping import PARENT_LINK
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.steps.extract import (
    WAITING_KEY,
    filter_reason,
    link,
    ordered_snapshot,
    resolve_references,
    retry_ids,
    snapshot_rows,
    with_lookups,
)

from .conftest import mapping


def test_filter_reason_names_the_field_and_the_allowed_values() -> None:
    m = mapping()
    assert filter_reason(m, {"status": "active"}) is None
    assert filter_reason(m, {"status": "lead"}) == \
        "status 'lead' is not one of active, former (mapping filter)"


def test_link_takes_an_id_or_a_nested_records_id() -> None:
    assert link("c1") == "c1" and link({"_id": 7}) == "7"
    assert link("") is None and link(None) is None and link({"name": "x"}) is None


class FakeSource:
    def __init__(self, records: dict[str, dict[str, dict]]) -> None:
        self.records, self.asked = records, []

    def get_many(self, resource: str, ids: list[str]) -> dict[str, dict]:
        self.asked.append((resource, ids))
        return {i: self.records[resource][i] for i in ids if i in self.records[resource]}


def test_lookups_join_referenced_records_with_one_read_per_lookup() -> None:
    source = FakeSource({"companies": {"c1": {"name": "Acme"}}})
    m = mapping(lookups={"company": {"resource": "companies", "key": "companyId"}})
    out = with_lookups(source, [{"companyId": "c1"}, {"companyId": "c1"}, {"companyId": None},
                                {"companyId": "gone"}], m.lookups)
    assert [o["company"] for o in out] == [{"name": "Acme"}, {"name": "Acme"}, None, None]
    assert source.asked == [("companies", ["c1", "gone"])]
    assert with_lookups(source, [{"a": 1}], {}) == [{"a": 1}]


def test_snapshot_rows_map_filter_and_link() -> None:
    run = EntityRun(mapping=mapping(), run_id="r")
    changed = "2026-11-20T10:00:00.000Z"
    rows = snapshot_rows(run, [
        ("m1", {"status": "active", "email": "a@b.co", "company": {"_id": "c1"},
                "modifiedAt": changed}, {"email": "a@b.co", "name": "Ann"}),
        ("m2", {"status": "lead", "company": "c2"}, {"email": "x@y.co"}),
    ])
    assert rows[0]["links"] == {"company": "c1"} and rows[0]["skip_reason"] is None
    assert rows[0]["changed_at"] == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert rows[0]["properties"]["firstname"] == "Ann"
    assert rows[1]["skip_reason"].startswith("status 'lead'")


def test_a_child_of_a_skipped_parent_is_skipped() -> None:
    parent = EntityRun(mapping=mapping(entity="contracts"), run_id="r")
    child = EntityRun(mapping=mapping(entity="contracts_items", filter={}, associations=[]),
                      run_id="r", parent=parent)
    rows = snapshot_rows(child, [("i1", {"item": {"id": 1}}, {}), ("i2", {}, {})],
                         parents=["p1", "p2"], parent_skips={"p1": "filtered", "p2": None})
    assert [r["links"][PARENT_LINK] for r in rows] == ["p1", "p2"]
    assert rows[0]["skip_reason"] == "its contracts p1 is skipped"
    assert rows[1]["skip_reason"] is None and rows[0]["raw"] == {"id": 1}


def test_unsynced_references_skip_the_record_and_are_noted_for_associate() -> None:
    m = mapping(properties=[{"from": "plan", "to": "hs_product_id", "id_of": "plans"}],
                hubspot={"object": "line_items"})
    rows = [{"source_id": "i1", "properties": {"hs_product_id": "p1"}, "skip_reason": None,
             "links": {PARENT_LINK: "c1"}},
            {"source_id": "i2", "properties": {"hs_product_id": "p2"}, "skip_reason": None,
             "links": {}},
            {"source_id": "i3", "properties": {"hs_product_id": None}, "skip_reason": None,
             "links": {}}]
    resolve_references(rows, m.properties, {"hs_product_id": {"p1": "901"}})
    assert rows[0]["properties"]["hs_product_id"] == "901" and WAITING_KEY not in rows[0]["links"]
    assert rows[1]["properties"]["hs_product_id"] is None
    assert rows[1]["skip_reason"] == "hs_product_id: plans p2 is not synced to HubSpot yet"
    assert rows[1]["links"][WAITING_KEY] == [{"to_entity": "plans", "to_source_id": "p2",
                                              "reason": rows[1]["skip_reason"]}]
    assert rows[2]["skip_reason"] is None


def test_records_waiting_for_a_reference_are_read_again() -> None:
    m = mapping(properties=[{"from": "plan", "to": "hs_product_id", "id_of": "plans"}],
                hubspot={"object": "line_items"})
    pending = [{"source_id": "c1", "to_entity": "plans"},
               {"source_id": "c2", "to_entity": "companies"}]
    assert retry_ids(pending, m.properties) == {"c1"}
    assert retry_ids(pending, mapping().properties) == set()


def test_snapshot_is_oldest_change_first_and_one_row_per_id() -> None:
    t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    rows = [{"source_id": s, "changed_at": c, "properties": {}, "skip_reason": None,
             "problems": [], "raw": {}, "links": {"n": n}}
            for n, (s, c) in enumerate([("b", t[2]), ("a", t[1]), ("c", None), ("b", t[0])])]
    frame = ordered_snapshot(rows)
    assert list(frame["source_id"]) == ["c", "a", "b"]
    assert frame.set_index("source_id").loc["b", "links"] == {"n": 0}
    assert len(ordered_snapshot([])) == 0

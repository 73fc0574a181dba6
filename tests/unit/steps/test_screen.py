"""Screening before anything is stored (issue #9): malformed records are rejected with a
reason, never crash a run nor collapse into one record; a mapped field no record has fails
the run, but a small batch or null objects never do."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from hubspot_sync.steps import screen
from hubspot_sync.steps.context import EntityRun, StopRun
from hubspot_sync.steps.extract import extract_source
from hubspot_sync.warehouse.schema import KEY_LENGTH

from .conftest import mapping

GOOD = {"_id": "m1", "status": "active", "email": "a@b.co", "name": "Ann Lee",
        "modifiedAt": "2026-11-20T10:00:00.000Z"}


def member(**fields: Any) -> dict[str, Any]:
    return {**GOOD, **fields}


def by_rule(screened: screen.Screened) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in screened.rejects:
        out.setdefault(r["rule"], []).append(dict(r))
    return out


# --------------------------------------------------------------------------- malformed

def test_records_without_a_usable_id_are_rejected_each_under_its_own_key() -> None:
    no_id = {k: v for k, v in GOOD.items() if k != "_id"}
    records = [member(_id=None, name="Null Id"), no_id, member(_id="  "),
               member(_id={"$oid": "x"}), member()]
    screened = screen.screen_records(records, mapping())
    assert [sid for sid, _ in screened.passed] == ["m1"]
    rejects = screened.rejects
    assert [r["rule"] for r in rejects] == ["source_id"] * 4
    keys = [r["source_id"] for r in rejects]
    assert len(set(keys)) == 4, "two records without an id are never one"
    assert all(k.startswith(screen.BAD_ID_PREFIX) and k != "None" for k in keys)
    assert "has no _id (null, missing or blank)" in rejects[0]["reason"]
    assert rejects[3]["reason"] == '_id {"$oid": "x"} is not an id'
    # The same record is the same reject key run after run.
    again = screen.screen_records([member(_id=None, name="Null Id")], mapping())
    assert again.rejects[0]["source_id"] == keys[0]


def test_an_id_longer_than_the_key_column_is_rejected_with_its_length() -> None:
    long_id = "a" * (KEY_LENGTH + 45)
    screened = screen.screen_records([member(_id=long_id), member(_id="b" * KEY_LENGTH)],
                                     mapping())
    assert [sid for sid, _ in screened.passed] == ["b" * KEY_LENGTH]
    (reject,) = screened.rejects
    assert reject["rule"] == "source_id" and len(reject["source_id"]) <= KEY_LENGTH
    assert reject["reason"].startswith(f"_id is {KEY_LENGTH + 45} characters long ('aaaa")
    assert reject["reason"].endswith(f"the warehouse keeps ids of at most {KEY_LENGTH} "
                                     "characters")


def test_an_id_with_a_nul_byte_is_rejected_and_the_reject_stores_no_nul() -> None:
    (reject,) = screen.screen_records([member(_id="m\x00")], mapping()).rejects
    assert reject["rule"] == "source_id" and "\x00" not in reject["reason"]
    assert reject["value"] == "m\\u0000"


def test_a_malformed_change_timestamp_is_rejected_naming_the_field() -> None:
    screened = screen.screen_records(
        [member(_id="m1", modifiedAt="yesterday"), member(_id="m2", modifiedAt={"d": 1}),
         member(_id="m3", modifiedAt=None), member(_id="m4", modifiedAt=1764000000000)],
        mapping())
    assert [sid for sid, _ in screened.passed] == ["m3", "m4"]
    first = screened.rejects[0]
    assert (first["source_id"], first["rule"], first["property"], first["value"]) == \
        ("m1", "changed_at", "modifiedAt", "yesterday")
    assert first["reason"] == ("modifiedAt 'yesterday' is not a date-time (ISO-8601 or epoch "
                               "milliseconds): the record's change cannot be placed in time")


def test_a_lone_surrogate_anywhere_in_the_record_is_rejected_naming_the_path() -> None:
    screened = screen.screen_records(
        [member(_id="m1", address={"city": "Os\ud800lo"}), member(_id="m2", name="Zoë 李雷")],
        mapping())
    assert [sid for sid, _ in screened.passed] == ["m2"], "valid Unicode passes"
    (reject,) = screened.rejects
    assert (reject["rule"], reject["property"], reject["value"]) == \
        ("text_encoding", "address.city", "Os\\ud800lo")
    assert "is not valid Unicode (a lone surrogate)" in reject["reason"]
    reject["value"].encode("utf-8")  # storable
    reject["reason"].encode("utf-8")


def test_nul_and_other_controls_in_texts_are_no_reason_to_reject() -> None:
    screened = screen.screen_records([member(name="A\x00B\x07")], mapping())
    assert screened.rejects == [] and len(screened.passed) == 1


def test_a_mapped_value_with_a_lone_surrogate_is_rejected() -> None:
    rows = [{"source_id": "c1", "properties": {"dealname": "Acme\udc00 CON-1"}},
            {"source_id": "c2", "properties": {"dealname": "Acme CON-2", "amount": 5}}]
    kept, rejects = screen.unstorable_values(rows)
    assert [r["source_id"] for r in kept] == ["c2"]
    assert [(r["source_id"], r["rule"], r["property"]) for r in rejects] == \
        [("c1", "text_encoding", "dealname")]


def contracts(**child: Any) -> Any:
    return mapping(entity="contracts", hubspot={"object": "deals"}, filter={},
                   properties=[{"from": "number", "to": "dealname"}], associations=[],
                   children=[{"name": "line_items", "explode": "plans",
                              "id": "{_id}:{item.id}", "hubspot": {"object": "line_items"},
                              "properties": [{"from": "item.count", "to": "quantity"}],
                              **child}])


def test_a_list_to_explode_that_is_no_list_rejects_the_parent() -> None:
    screened = screen.screen_records(
        [member(_id="c1", plans=5), member(_id="c2", plans=None), member(_id="c3", plans=[])],
        contracts())
    assert [sid for sid, _ in screened.passed] == ["c2", "c3"]
    (reject,) = screened.rejects
    assert (reject["rule"], reject["property"]) == ("child_list", "plans")
    assert reject["reason"].startswith("plans is int 5, not a list: its line_items cannot")


def test_a_child_whose_id_template_lacks_a_field_is_rejected() -> None:
    context = {"_id": "c1", "item": {"count": 2}}
    assert screen.child_id_problem("{_id}:{item.id}", context, "c1:", "line item") == (
        "the line item has no item.id, which its id template '{_id}:{item.id}' needs: it can "
        "neither be synced nor told apart from the others")
    assert screen.child_id_problem("{_id}:{item.id}", {"_id": "c1", "item": {"id": "p"}},
                                   "c1:p", "line item") is None


# --------------------------------------------------------------------------- missing fields

def typo_mapping(**overrides: Any) -> Any:
    return mapping(properties=[{"from": "email", "to": "email"},
                               {"from": "adress.city", "to": "city"},
                               {"template": "{name} ({adress.zip})", "to": "firstname"},
                               {"value": "x", "to": "lastname", "when": {"stauts": ["a"]}}],
                   **overrides)


def test_a_mapped_field_no_record_has_is_named_with_where_the_mapping_says_it() -> None:
    contexts = [member(_id=f"m{i}", address={"city": "Oslo"}) for i in range(20)]
    with pytest.raises(screen.MissingSourceField) as caught:
        screen.check_fields(typo_mapping(), contexts)
    assert isinstance(caught.value, StopRun), "fails the task without retries"
    text = str(caught.value)
    assert text.startswith("members: a mapped source field is in none of the 20 records")
    assert "  - 'adress.city' (members.yaml: properties[1].from -> city): absent from 20 " \
           "records" in text
    assert "'adress.zip' (members.yaml: properties[2].template -> firstname)" in text
    assert "'stauts' (members.yaml: properties[3].when -> lastname)" in text
    assert "'email'" not in text and "'name'" not in text


def test_a_small_batch_never_fails_on_a_missing_field() -> None:
    contexts = [member(_id=f"m{i}") for i in range(19)]
    assert screen.missing_fields(typo_mapping(), contexts) == []
    assert len(screen.missing_fields(typo_mapping(missing_field_min_records=19), contexts)) == 3


def test_null_values_and_null_objects_are_not_a_missing_field() -> None:
    m = mapping(properties=[{"from": "address.city", "to": "city"},
                            {"from": "phone", "to": "phone"}, {"from": "tags.0", "to": "tag"}],
                hubspot={"object": "contacts"})
    contexts = [member(_id=f"m{i}", address=None, phone=None, tags=[]) for i in range(50)]
    assert screen.missing_fields(m, contexts) == [], "OfficeRnD sends empty values as null"
    # One record having the field is enough, however many lack it.
    lacking: list[dict[str, Any]] = [{"_id": f"m{i}", "address": {}} for i in range(50)]
    assert screen.missing_fields(m, [*lacking, member(address={"city": None}, phone="1",
                                                      tags=["a"])]) == []
    assert [u.path for u, n in screen.missing_fields(m, lacking)] == ["address.city", "phone",
                                                                        "tags.0"]


def test_presence_tells_absent_from_null_from_unknown() -> None:
    record = {"a": {"b": None}, "n": None, "s": "text", "l": [{"x": 1}]}
    assert screen.presence(record, "a.b") is True
    assert screen.presence(record, "a.c") is False
    assert screen.presence(record, "n.c") is None
    assert screen.presence(record, "s.c") is False
    assert screen.presence(record, "l.0.x") is True and screen.presence(record, "l.3.x") is None
    assert screen.presence(record, "zz") is False


def test_a_childs_missing_field_names_the_parents_file() -> None:
    child = contracts().child_mappings()[0]
    assert screen.mapping_file(child) == "contracts.yaml: children[line_items]"
    contexts = [{"_id": "c", "item": {"id": str(i)}} for i in range(20)]
    with pytest.raises(screen.MissingSourceField, match=r"'item.count' \(contracts.yaml: "
                                                        r"children\[line_items\]: properties"):
        screen.check_fields(child, contexts)


# --------------------------------------------------------------------------- extract_source

class Source:
    def __init__(self, records: list[dict]) -> None:
        self.records = records

    def extract(self, resource: str, start: Any, end: Any, changed_at: Any) -> list[dict]:
        return list(self.records)

    def get_many(self, resource: str, ids: list[str]) -> dict[str, dict]:
        return {}


class Warehouse:
    """What extract_source stores, in memory."""

    def __init__(self) -> None:
        self.snapshots: dict[str, pd.DataFrame] = {}
        self.rejects: list[dict] = []
        self.resolved: list[tuple] = []
        self.open = pd.DataFrame(columns=["source_id", "rule", "property"])

    def start_run(self, *args: Any, **kwargs: Any) -> None:
        pass

    def pending_associations(self, entity: str) -> list:
        return []

    def open_reject_ids(self, entity: str, categories: Any) -> set[str]:
        return set()  # nothing to read again in these tests

    def write_source_snapshot(self, entity: str, run_id: str, frame: pd.DataFrame) -> int:
        self.snapshots[entity] = frame
        return len(frame)

    def record_rejects(self, entity: str, run_id: str, rows: list[dict]) -> int:
        self.rejects += rows
        return len(rows)

    def open_rejects(self, entity: str, *, rules: Any = None,
                     source_ids: Any = None) -> pd.DataFrame:
        out = self.open
        if rules is not None:
            out = out[out["rule"].isin(list(rules))]
        if source_ids is not None:
            out = out[out["source_id"].isin(list(source_ids))]
        return out

    def resolve_rejects(self, entity: str, run_id: str, ids: Any, **kwargs: Any) -> int:
        self.resolved.append((sorted(ids), kwargs))
        return 0


def extract(m: Any, records: list[dict], warehouse: Warehouse | None = None) -> tuple:
    from hubspot_sync.steps.context import RunWindow

    warehouse = warehouse or Warehouse()
    run = EntityRun(mapping=m, run_id="r", window=RunWindow(None, None, False, "test"),
                    _warehouse=warehouse, _source=Source(records))  # type: ignore[arg-type]
    return extract_source(run), warehouse


def test_extract_goes_on_with_the_valid_records_and_records_the_rejects() -> None:
    records = [member(_id=None), member(_id=None, name="Other"), member(_id="x" * 300),
               member(_id="m2", modifiedAt="yesterday"), member(_id="m3", name="\ud800"),
               member(_id="m4", name="A\x00B"), member()]
    out, warehouse = extract(mapping(), records)
    snapshot = warehouse.snapshots["members"]
    assert sorted(snapshot["source_id"]) == ["m1", "m4"]
    assert "None" not in set(snapshot["source_id"])
    nul = snapshot.set_index("source_id").loc["m4"]
    assert nul["properties"]["firstname"] == "AB", "cleaned by clean_text"
    assert nul["raw"]["name"] == "A\x00B", "the raw copy is as read"
    assert sorted(r["rule"] for r in warehouse.rejects) == \
        ["changed_at", "source_id", "source_id", "source_id", "text_encoding"]
    assert out["units"]["members"] == {"extracted": 7, "rejected": 5}


def test_extract_fails_before_storing_anything_on_a_missing_field() -> None:
    records = [member(_id=f"m{i}") for i in range(25)]
    with pytest.raises(screen.MissingSourceField):
        extract(typo_mapping(), records)
    warehouse = Warehouse()
    with pytest.raises(screen.MissingSourceField):
        extract(typo_mapping(), records, warehouse)
    assert warehouse.snapshots == {} and warehouse.rejects == []


def test_children_without_an_id_are_rejected_and_rejected_parents_take_their_children() -> None:
    records = [member(_id="c1", number="CON-1", plans=[{"id": "p1", "count": 1},
                                                       {"count": 2}, {"count": 3}]),
               member(_id="c2", number="CON-2", modifiedAt="yesterday",
                      plans=[{"id": "p1", "count": 1}])]
    out, warehouse = extract(contracts(), records)
    items = warehouse.snapshots["contracts_line_items"]
    assert list(items["source_id"]) == ["c1:p1"], "no 'c1:' shared by two items"
    child_rejects = [r for r in warehouse.rejects if r["rule"] == "source_id"]
    assert len(child_rejects) == 2 and len({r["source_id"] for r in child_rejects}) == 2
    assert out["units"]["contracts_line_items"] == {"extracted": 3, "rejected": 2}
    assert list(warehouse.snapshots["contracts"]["source_id"]) == ["c1"]


def test_earlier_extraction_rejects_of_records_read_well_are_resolved() -> None:
    warehouse = Warehouse()
    warehouse.open = pd.DataFrame([
        {"source_id": "m1", "rule": "changed_at", "property": "modifiedAt"},
        {"source_id": "m1", "rule": "email", "property": "email"},
        {"source_id": "~bad-id:0123", "rule": "source_id", "property": "_id"}])
    extract(mapping(), [member()], warehouse)
    (ids, kwargs), = warehouse.resolved
    assert ids == ["m1"], "a digest-keyed reject stays open outside a full refresh"
    assert kwargs["still_failing"] == [("m1", "email", "email")], "validation's stay open"

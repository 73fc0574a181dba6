"""Two-way mapping keys: defaults, resolved directions and rules, and the configuration
errors raised while a mapping file loads (before any write)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hubspot_sync.mapping import EntityMapping, MappingError, load_mapping

STAGES = {"Open": "appointmentscheduled", "Won": "closedwon", "Lost": "closedlost"}


def opportunities(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "entity": "opportunities",
        "source": {"system": "officernd", "resource": "opportunities"},
        "lookups": {"status_record": {"resource": "opportunity-statuses", "key": "status"}},
        "hubspot": {"object": "deals", "id_prefix": "opportunity-"},
        "properties": [
            {"from": "name", "to": "dealname"},
            {"from": "dealSize", "to": "amount", "transform": "number"},
            {"value": "default", "to": "pipeline"},
            {"from": "status_record.description", "to": "dealstage", "value_map": STAGES,
             "on_unmapped": "skip"},
        ],
    }
    data.update(changes)
    return data


def with_property(index: int, **keys: Any) -> dict[str, Any]:
    data = opportunities()
    data["properties"][index] = {**data["properties"][index], **keys}
    return data


def load(tmp_path: Path, data: dict[str, Any]) -> EntityMapping:
    path = tmp_path / f"{data['entity']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_mapping(path)


def error_of(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(MappingError) as caught:
        load(tmp_path, data)
    return str(caught.value)


def test_defaults_are_todays_behaviour(tmp_path: Path) -> None:
    mapping = load(tmp_path, opportunities())
    assert (mapping.sync_mode, mapping.conflict_rule, mapping.reverse_create) == (
        "to_hubspot", "latest_wins", None)
    assert all(mapping.direction_of(p) == "to_hubspot" for p in mapping.properties)
    assert mapping.reverse_properties() == [] and mapping.has_reverse is False
    assert mapping.enabled


def test_directions_and_rules_resolve_from_the_entity_and_the_property(tmp_path: Path) -> None:
    data = opportunities(conflict_rule="officernd_wins")
    data["properties"][1].update(direction="both", conflict="hubspot_wins")
    data["properties"][3].update(direction="both")
    data["properties"][0].update(direction="to_officernd")
    mapping = load(tmp_path, data)
    assert [mapping.direction_of(p) for p in mapping.properties] == [
        "to_officernd", "both", "to_hubspot", "both"]
    assert mapping.conflict_of("amount") == "hubspot_wins"  # its own
    assert mapping.conflict_of("dealstage") == "officernd_wins"  # the entity's
    assert mapping.conflict_of("dealname") == "hubspot_wins"  # to_officernd: fixed
    assert [p.to for p in mapping.reverse_properties()] == ["dealname", "amount", "dealstage"]
    assert mapping.has_reverse
    with pytest.raises(KeyError, match="'nope' is not a mapped HubSpot property"):
        mapping.direction_of("nope")


def test_sync_mode_is_every_propertys_default(tmp_path: Path) -> None:
    data = opportunities(sync_mode="two_way")
    data["properties"][2]["direction"] = "to_hubspot"  # a constant stays one way
    mapping = load(tmp_path, data)
    assert [mapping.direction_of(p) for p in mapping.properties] == [
        "both", "both", "to_hubspot", "both"]
    data = opportunities(sync_mode="to_officernd")
    data["properties"][2]["direction"] = "to_hubspot"
    assert load(tmp_path, data).direction_of("amount") == "to_officernd"
    disabled = load(tmp_path, opportunities(sync_mode="disabled"))
    assert not disabled.enabled and not disabled.has_reverse


def test_reverse_create_alone_makes_a_reverse_mapping(tmp_path: Path) -> None:
    data = with_property(3, direction="both")
    data["reverse_create"] = {"when": {"property": "dealstage", "mapped": True}}
    mapping = load(tmp_path, data)
    assert mapping.reverse_create is not None
    when = mapping.reverse_create.when
    assert when.matches("closedwon", STAGES.values())
    assert not when.matches("contractsent", STAGES.values()) and not when.matches(None)
    members = yaml.safe_load((Path(__file__).parents[2] / "include" / "mappings"
                              / "members.yaml").read_text())
    members["properties"] = [{"from": "email", "to": "email"},
                             {"from": "status", "to": "lifecyclestage",
                              "direction": "to_officernd"}]
    members["reverse_create"] = {"when": {"property": "lifecyclestage", "in": ["customer"]},
                                 "as": {"status": "lead"}}
    mapping = load(tmp_path, members)
    assert mapping.reverse_create is not None
    assert mapping.reverse_create.as_ == {"status": "lead"}
    assert mapping.reverse_create.when.matches(" customer ")
    assert not mapping.reverse_create.when.matches("lead")


def test_nested_parts_of_one_object_may_all_flow_back(tmp_path: Path) -> None:
    members = {"entity": "members", "source": {"system": "officernd", "resource": "members"},
               "hubspot": {"object": "contacts"}, "sync_mode": "two_way",
               "properties": [{"from": f"address.{k}", "to": k}
                              for k in ("street", "city", "zip")]}
    assert len(load(tmp_path, members).reverse_properties()) == 3


@pytest.mark.parametrize(("data", "message"), [
    (with_property(2, direction="both"),
     "properties[2] (pipeline).direction both: a constant ('value: default') has no "
     "OfficeRnD field to write back"),
    (with_property(0, direction="both", transform="first_name"),
     "properties[0] (dealname).direction both: the transform 'first_name' has no inverse"),
    (with_property(3, direction="both", value_map={"Open": "open", "New": "open"}),
     "properties[3] (dealstage).direction both: the value map is not invertible: 'Open' and "
     "'New' both give 'open'"),
    (with_property(0, direction="to_officernd", **{"from": None}, template="{name} deal"),
     "a template ('{name} deal') cannot be split back into OfficeRnD fields"),
    (with_property(1, direction="both", ownership="fill_if_empty"),
     "ownership fill_if_empty does not apply to a reverse direction"),
    (with_property(1, conflict="hubspot_wins"),
     "properties[1] (amount).conflict: only a 'both' property has a conflict rule (this one "
     "is to_hubspot)"),
    (with_property(1, direction="sideways"),
     "properties[1].direction: Input should be 'to_hubspot', 'to_officernd' or 'both'"),
    (opportunities(conflict_rule="loudest_wins"),
     "conflict_rule: Input should be 'officernd_wins', 'hubspot_wins' or 'latest_wins'"),
    (opportunities(sync_mode="both_ways"), "sync_mode: Input should be"),
    (with_property(0, direction="both", to="officernd_id"),
     "'officernd_id' is the id property; it is set by the sync and cannot also be mapped"),
    (with_property(1, direction="both", id_of="companies"),
     "an id_of property (companies) is not written back"),
    (with_property(1, direction="both", when={"type": ["x"]}),
     "a property set only 'when' other fields match cannot be written back"),
    (opportunities(reverse_create={"when": {"property": "nothing", "mapped": True}}),
     "reverse_create.when.property: 'nothing' is not a mapped HubSpot property"),
    (opportunities(reverse_create={"when": {"property": "dealstage", "mapped": True}}),
     "reverse_create.when.property: 'dealstage' must have direction both or to_officernd"),
    (dict(with_property(1, direction="both"),
          reverse_create={"when": {"property": "amount", "mapped": True}}),
     "reverse_create.when.mapped: 'amount' has no value map; use 'in: [values]'"),
    (opportunities(reverse_create={"when": {"property": "dealstage"}}),
     "give exactly one of 'mapped: true' or 'in: [values]'"),
    (opportunities(reverse_create={"when": {"property": "dealstage", "mapped": True,
                                            "in": ["closedwon"]}}),
     "give exactly one of 'mapped: true' or 'in: [values]'"),
])
def test_configuration_errors_name_the_key_and_what_is_wrong(
        tmp_path: Path, data: dict[str, Any], message: str) -> None:
    text = error_of(tmp_path, data)
    assert text.startswith(str(tmp_path / "opportunities.yaml"))
    assert message in text


def test_two_properties_setting_one_officernd_field(tmp_path: Path) -> None:
    data = opportunities()
    data["properties"] += [{"from": "status_record.name", "to": "officernd_status",
                            "direction": "both"}]
    data["properties"][3]["direction"] = "both"
    assert ("'status_record.name' and 'status_record.description' both set the OfficeRnD field "
            "'status'") in error_of(tmp_path, data)
    data = opportunities()
    data["properties"] += [{"from": "name", "to": "officernd_name", "direction": "both"}]
    data["properties"][0]["direction"] = "both"
    assert "'name' and 'name' both set the OfficeRnD field 'name'" in error_of(tmp_path, data)


def test_only_writable_officernd_resources_flow_back(tmp_path: Path) -> None:
    data = with_property(1, direction="both")
    data["source"] = {"system": "sql", "table": "deals"}
    assert "source: sql  cannot be written back" in error_of(tmp_path, data)
    data["source"] = {"system": "officernd", "resource": "fees"}
    assert "source: officernd fees cannot be written back (writable OfficeRnD resources: " \
           "members, companies, opportunities)" in error_of(tmp_path, data)


def test_children_sync_one_way_only(tmp_path: Path) -> None:
    data = opportunities()
    data["children"] = [{"name": "items", "explode": "items", "id": "{_id}:{item.id}",
                         "hubspot": {"object": "line_items"},
                         "properties": [{"from": "item.name", "to": "name",
                                         "direction": "both"}]}]
    assert "children[0].properties[0] (name): children sync to HubSpot only" in error_of(
        tmp_path, data)


def test_every_problem_is_listed_on_its_own_line(tmp_path: Path) -> None:
    data = copy.deepcopy(opportunities(sync_mode="two_way"))
    data["properties"][0]["transform"] = "last_name"
    lines = error_of(tmp_path, data).splitlines()
    assert len(lines) == 2
    assert "(dealname)" in lines[0] and "(pipeline)" in lines[1]

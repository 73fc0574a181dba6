"""ensure_properties' planning and value-map checks."""

from __future__ import annotations

import pytest

from hubspot_sync.steps.context import ConfigurationError
from hubspot_sync.steps.properties import (
    apply_pipeline_options,
    check_value_maps,
    plan_properties,
    planned_definitions,
)

from .conftest import mapping

EXISTING = {"email": {"name": "email", "type": "string"},
            "firstname": {"name": "firstname", "type": "string"}}


def test_only_the_missing_id_property_is_planned() -> None:
    wanted = plan_properties(mapping(), EXISTING)
    assert [d["name"] for d in wanted] == ["officernd_id"]
    assert wanted[0]["hasUniqueValue"] is True
    assert plan_properties(mapping(), {**EXISTING, "officernd_id": {}}) == []


def test_a_typed_custom_property_is_created_an_untyped_one_refused() -> None:
    typed = mapping(properties=[{"from": "size", "to": "size", "type": "number"}],
                    hubspot={"object": "contacts"})
    assert [d["name"] for d in plan_properties(typed, {"officernd_id": {}})] == ["size"]
    untyped = mapping(properties=[{"from": "size", "to": "size"}], hubspot={"object": "contacts"})
    with pytest.raises(ConfigurationError, match="size: HubSpot contacts has no such property"):
        plan_properties(untyped, {"officernd_id": {}})


def test_planned_definitions_are_marked_and_limited_to_mapped_names() -> None:
    defs = planned_definitions(mapping(), {**EXISTING, "other": {}},
                               [{"name": "officernd_id", "type": "string"}])
    assert set(defs) == {"email", "firstname", "officernd_id"}
    assert defs["officernd_id"]["planned"] is True and "planned" not in defs["email"]


STAGES = mapping(entity="opportunities", hubspot={"object": "deals"}, associations=[],
                 filter={}, properties=[
                     {"value": "sales", "to": "pipeline"},
                     {"from": "status", "to": "dealstage", "value_map": {"Won": "closedwon"}}])
PIPELINES = [{"id": "sales", "label": "Sales", "stages": [{"id": "closedwon", "label": "Won"}]},
             {"id": "other", "stages": [{"id": "elsewhere"}]}]


def test_deal_stages_come_from_the_chosen_pipeline() -> None:
    defs = {"pipeline": {"type": "enumeration"}, "dealstage": {"type": "enumeration"}}
    apply_pipeline_options(defs, STAGES, PIPELINES)
    assert [o["value"] for o in defs["pipeline"]["options"]] == ["sales", "other"]
    assert [o["value"] for o in defs["dealstage"]["options"]] == ["closedwon"]
    check_value_maps(STAGES, defs)


def test_a_value_map_naming_an_unknown_option_is_refused() -> None:
    defs = {"dealstage": {"type": "enumeration", "options": [{"value": "elsewhere"}]}}
    with pytest.raises(ConfigurationError,
                       match="value_map of dealstage names closedwon.*options: elsewhere"):
        check_value_maps(STAGES, defs)
    # Not an enumeration: nothing to check against.
    check_value_maps(STAGES, {"dealstage": {"type": "string"}})

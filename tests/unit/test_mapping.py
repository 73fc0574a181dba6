"""Mapping models: defaults, ordering, association ids, the property table (no I/O beyond
reading the shipped mapping files). Tests that write mapping files are in
tests/integration/test_mapping_files.py."""

from __future__ import annotations

import pytest

from hubspot_sync.mapping import (
    DEFAULT_MAPPINGS_DIR,
    EntityMapping,
    MappingError,
    MappingSet,
    association_type_id,
    load_mapping,
    load_mappings,
)


def entity(name: str, depends_on: list[str]) -> EntityMapping:
    return EntityMapping.model_validate({
        "entity": name, "source": {"system": "officernd", "resource": name},
        "hubspot": {"object": "contacts"}, "properties": [{"from": "email", "to": "email"}],
        "depends_on": depends_on})


def test_every_shipped_mapping_is_valid() -> None:
    result = load_mappings(DEFAULT_MAPPINGS_DIR)
    assert result.errors == {}
    assert {"companies", "members"} <= set(result.mappings)


def test_ordered_puts_dependencies_first_and_never_raises() -> None:
    chain = MappingSet({"b": entity("b", ["c"]), "a": entity("a", []), "c": entity("c", [])},
                       {})
    assert [m.entity for m in chain.ordered()] == ["a", "c", "b"]
    # a set built by hand with a cycle (load_mappings keeps cycles out) still orders
    loop = MappingSet({"x": entity("x", ["y"]), "y": entity("y", ["x"])}, {})
    assert sorted(m.entity for m in loop.ordered()) == ["x", "y"]


def test_association_type_ids() -> None:
    assert association_type_id("contacts", "companies", "primary") == 1
    assert association_type_id("contacts", "companies") == 279
    assert association_type_id("line_items", "deals") == 20
    assert association_type_id("products", "deals", explicit=99) == 99
    with pytest.raises(MappingError, match="no primary association from deals to contacts"):
        association_type_id("deals", "contacts", "primary")


def test_property_table_lists_every_property() -> None:
    mapping = load_mapping(DEFAULT_MAPPINGS_DIR / "members.yaml")
    table = mapping.property_table_md()
    for prop in mapping.properties:
        assert f"`{prop.to}`" in table
    assert "| `phone` | trim | both, hubspot_wins (two-way) |" in table

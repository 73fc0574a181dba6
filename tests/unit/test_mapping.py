"""Mapping files: schema validation, errors that name the file and the key, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubspot_sync.mapping import (
    DEFAULT_MAPPINGS_DIR,
    MappingError,
    association_type_id,
    load_mapping,
    load_mappings,
)

MINIMAL = """\
entity: {name}
source: {{system: officernd, resource: members}}
hubspot: {{object: contacts, match_on: [email]}}
properties:
  - {{from: email, to: email, transform: email}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_every_shipped_mapping_is_valid() -> None:
    result = load_mappings(DEFAULT_MAPPINGS_DIR)
    assert result.errors == {}
    assert {"companies", "members"} <= set(result.mappings)


def test_minimal_mapping_gets_defaults(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, "people", MINIMAL.format(name="people")))
    assert mapping.dag_id == "sync_people"
    assert mapping.hubspot.id_property == "officernd_id"
    assert mapping.source.changed_at == "modifiedAt"
    assert mapping.mode == "upsert"
    assert mapping.asset_uri == "hubspot://contacts"


@pytest.mark.parametrize(("patch", "expected"), [
    ("  - {from: email, to: email, ownership: sometimes}\n",
     "properties[1].ownership: Input should be 'overwrite', 'fill_if_empty' or 'never'"),
    ("  - {from: name, to: firstname, transform: shout}\n",
     "properties[1]: unknown transform 'shout'"),
    ("  - {from: name, template: '{name}', to: firstname}\n",
     "properties[1]: give exactly one of 'from', 'template' or 'value'"),
    ("  - {from: name, to: FirstName}\n", "properties[1].to: 'FirstName' is not a HubSpot"),
    ("  - {from: name, to: firstname, colour: red}\n", "properties[1].colour: unknown key"),
])
def test_errors_name_file_and_key(tmp_path: Path, patch: str, expected: str) -> None:
    path = write(tmp_path, "people", MINIMAL.format(name="people") + patch)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_match_key_must_be_mapped(tmp_path: Path) -> None:
    text = MINIMAL.format(name="people").replace("match_on: [email]", "match_on: [phone]")
    with pytest.raises(MappingError, match="match_on keys must be mapped properties: phone"):
        load_mapping(write(tmp_path, "people", text))


def test_entity_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="must match the file name 'people'"):
        load_mapping(write(tmp_path, "people", MINIMAL.format(name="persons")))


def test_not_yaml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(write(tmp_path, "people", "entity: [unclosed\n"))


def test_broken_file_does_not_hide_the_others(tmp_path: Path) -> None:
    write(tmp_path, "people", MINIMAL.format(name="people"))
    write(tmp_path, "broken", "entity: broken\nsource: {system: nowhere}\n")
    result = load_mappings(tmp_path)
    assert list(result.mappings) == ["people"]
    (path, message), = result.errors.items()
    assert path.endswith("broken.yaml") and "source.system" in message


def test_dependency_order(tmp_path: Path) -> None:
    write(tmp_path, "b_first", MINIMAL.format(name="b_first"))
    write(tmp_path, "a_second", MINIMAL.format(name="a_second") + "depends_on: [b_first]\n")
    assert [m.entity for m in load_mappings(tmp_path).ordered()] == ["b_first", "a_second"]


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
    assert "fill_if_empty" in table

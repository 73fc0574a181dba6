"""Mapping files on disk: errors that name the file and the key, a broken file never
hides the others, and the checks across files (unknown entities, depends_on cycles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubspot_sync.mapping import MappingError, load_mapping, load_mappings

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


def test_a_depends_on_cycle_breaks_only_the_entities_on_it(tmp_path: Path) -> None:
    write(tmp_path, "alpha", MINIMAL.format(name="alpha") + "depends_on: [beta]\n")
    write(tmp_path, "beta", MINIMAL.format(name="beta") + "depends_on: [gamma]\n")
    write(tmp_path, "gamma", MINIMAL.format(name="gamma") + "depends_on: [beta]\n")
    write(tmp_path, "solo", MINIMAL.format(name="solo") + "depends_on: [solo]\n")
    write(tmp_path, "fine", MINIMAL.format(name="fine"))
    result = load_mappings(tmp_path)
    # alpha waits for a broken entity but is not on the cycle: it keeps working
    assert [m.entity for m in result.ordered()] == ["alpha", "fine"]
    assert set(result.errors) == {str(tmp_path / f"{n}.yaml") for n in ("beta", "gamma", "solo")}
    beta = result.errors[str(tmp_path / "beta.yaml")]
    assert beta == (f"{tmp_path / 'beta.yaml'}: depends_on[0]: depends_on cycle beta -> gamma "
                    "-> beta; an entity cannot wait for itself")
    assert "gamma.yaml: depends_on[0]: depends_on cycle beta -> gamma -> beta" in \
        result.errors[str(tmp_path / "gamma.yaml")]
    assert "depends_on cycle solo -> solo" in result.errors[str(tmp_path / "solo.yaml")]


def test_an_unknown_entity_name_is_a_broken_mapping(tmp_path: Path) -> None:
    write(tmp_path, "people", MINIMAL.format(name="people"))
    write(tmp_path, "broken", "entity: broken\nsource: {system: nowhere}\n")
    write(tmp_path, "deals", MINIMAL.format(name="deals") + (
        "  - {from: plan, to: hs_product_id, id_of: plan}\n"
        "associations:\n  - {to: people, via: person}\n  - {to: compnies, via: company}\n"
        "depends_on: [people, broken, ghosts]\n"))
    result = load_mappings(tmp_path)
    assert sorted(result.mappings) == ["people"]
    message = result.errors[str(tmp_path / "deals.yaml")]
    lines = message.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "depends_on[2]", "associations[1].to", "properties[1].id_of"]
    assert lines[0] == (f"{tmp_path / 'deals.yaml'}: depends_on[2]: 'ghosts' is not an entity "
                        "with a mapping file (known: broken, deals, people)")
    assert "'compnies' is not an entity" in lines[1] and "'plan' is not an entity" in lines[2]
    # a broken file still names a known entity: 'broken' is not reported as unknown
    assert "'broken'" not in message


def test_children_and_their_id_of_are_checked(tmp_path: Path) -> None:
    write(tmp_path, "people", MINIMAL.format(name="people"))
    write(tmp_path, "orders", MINIMAL.format(name="orders") + """\
children:
  - name: lines
    explode: items
    id: "{_id}:{item.id}"
    hubspot: {object: line_items}
    properties:
      - {from: item.id, to: hs_product_id, id_of: products}
""")
    write(tmp_path, "notes", MINIMAL.format(name="notes") + "depends_on: [people_lines]\n")
    write(tmp_path, "refunds", MINIMAL.format(name="refunds") + "depends_on: [orders_lines]\n")
    result = load_mappings(tmp_path)
    assert "children[0].properties[0].id_of: 'products'" in \
        result.errors[str(tmp_path / "orders.yaml")]
    assert "'people_lines' is not an entity" in result.errors[str(tmp_path / "notes.yaml")]
    # a child entity of a loaded mapping is a known name
    assert "refunds" in result.mappings

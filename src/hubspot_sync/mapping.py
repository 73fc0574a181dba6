"""Load and validate the entity mapping files in include/mappings/.

A mapping file describes one entity end to end: where its records come from, which
HubSpot object they become, how each property is derived, who owns each property,
which associations to make, and how many rejects a run may tolerate. Adding an entity
is a YAML file, not Python.

Errors name the file, the key path and what is wrong, e.g.
``include/mappings/members.yaml: properties[2].ownership: Input should be 'overwrite',
'fill_if_empty' or 'never'``. Only PyYAML and pydantic are imported here, so the DAG
factory can use this module at parse time.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hubspot_sync.lifecycle import LifecycleRules
from hubspot_sync.mapping_refs import reference_errors
from hubspot_sync.timeline_spec import TimelineSpec, timeline_table_md
from hubspot_sync.transforms import TRANSFORMS
from hubspot_sync.two_way.spec import PropertyDirection, TwoWayRules

# The project's include/mappings/, or the folder SYNC_MAPPINGS_DIR names.
DEFAULT_MAPPINGS_DIR = Path(os.environ.get(
    "SYNC_MAPPINGS_DIR", Path(__file__).resolve().parents[2] / "include" / "mappings"))

# HubSpot object names and the type ids that may stand for them in paths.
HUBSPOT_OBJECTS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "products": "0-7",
                   "line_items": "0-8"}

# HUBSPOT_DEFINED association type ids: (from, to) -> {"unlabeled": id, "primary": id}.
ASSOCIATION_TYPES: dict[tuple[str, str], dict[str, int]] = {
    ("contacts", "companies"): {"unlabeled": 279, "primary": 1},
    ("companies", "contacts"): {"unlabeled": 280, "primary": 2},
    ("deals", "companies"): {"unlabeled": 341, "primary": 5},
    ("companies", "deals"): {"unlabeled": 342, "primary": 6},
    ("deals", "contacts"): {"unlabeled": 3},
    ("contacts", "deals"): {"unlabeled": 4},
    ("line_items", "deals"): {"unlabeled": 20},
    ("deals", "line_items"): {"unlabeled": 19},
    # timeline notes (HubSpot's notes guide: note->contact 202, ->company 190, ->deal 214)
    ("notes", "contacts"): {"unlabeled": 202},
    ("notes", "companies"): {"unlabeled": 190},
    ("notes", "deals"): {"unlabeled": 214},
}

HUBSPOT_PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool",
                          "phone_number")
_FIELD_TYPES = {"string": "text", "number": "number", "date": "date", "datetime": "date",
                "enumeration": "select", "bool": "booleancheckbox", "phone_number": "phonenumber"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PARENT_LINK = "_parent"  # link of a child record to its parent's source id


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Model):
    system: Literal["officernd", "sql"]
    resource: str | None = Field(None, description="OfficeRnD resource, e.g. members")
    id: str = "_id"
    changed_at: str | None = Field(
        "modifiedAt", description="change-timestamp field; null: no change filter, read all")
    conn_id: str | None = Field(None, description="Airflow connection; default per system")
    table: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _check_system(self) -> SourceSpec:
        if self.system == "officernd" and not self.resource:
            raise ValueError("an officernd source needs 'resource' (e.g. members)")
        if self.system == "sql" and bool(self.table) == bool(self.query):
            raise ValueError("a sql source needs exactly one of 'table' or 'query'")
        return self


class LookupSpec(_Model):
    """Another source resource whose record is joined by id, for templates like {company.name}."""

    resource: str
    key: str = Field(description="field of the record holding the other record's id")
    refresh: bool = Field(
        default=True,
        description="records follow a change of the fields they read from the looked-up record "
                    "(a renamed plan renames its line items) on their next run, not only when "
                    "they change themselves")


class HubSpotSpec(_Model):
    object: str
    id_property: str = "officernd_id"
    id_prefix: str = Field("", description="prefix of id_property values, so that two entities "
                                           "writing one object (plans, resources) never collide")
    match_on: list[str] = Field(default_factory=list,
                                description="natural keys that adopt an existing record")

    @field_validator("object")
    @classmethod
    def _known_object(cls, value: str) -> str:
        if value not in HUBSPOT_OBJECTS:
            raise ValueError(f"unknown HubSpot object {value!r}; "
                             f"one of {', '.join(HUBSPOT_OBJECTS)}")
        return value


TransformStep = str | dict[str, Any]


# direction / conflict (two-way sync) are inherited from hubspot_sync.two_way.spec.
class PropertySpec(_Model, PropertyDirection):
    to: str
    from_: str | None = Field(None, alias="from")
    template: str | None = None
    value: Any = None
    transform: TransformStep | list[TransformStep] | None = None
    value_map: dict[str, Any] | None = None
    on_unmapped: Literal["reject", "skip", "empty", "keep"] = "reject"
    ownership: Literal["overwrite", "fill_if_empty", "never"] = "overwrite"
    required: bool = False
    expect: Literal["email", "url", "domain"] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    when: dict[str, list[Any]] | None = Field(
        None, description="set only when the record's fields have one of these values")
    id_of: str | None = Field(
        None, description="the value is the source id of a record of this entity; it is "
                          "replaced by that record's HubSpot id (e.g. hs_product_id)")
    type: Literal[HUBSPOT_PROPERTY_TYPES] | None = Field(  # type: ignore[valid-type]
        None, description="type of a custom property the run creates when HubSpot lacks it")
    label: str | None = None
    options: list[str] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_origin(self) -> PropertySpec:
        origins = [self.from_ is not None, self.template is not None, self.value is not None]
        if sum(origins) != 1:
            raise ValueError("give exactly one of 'from', 'template' or 'value'")
        if self.template is not None:
            try:
                list(string.Formatter().parse(self.template))
            except ValueError as exc:
                raise ValueError(f"template {self.template!r} is not a valid format: "
                                 f"{exc}") from exc
        for step in self.steps:
            name = step if isinstance(step, str) else next(iter(step), None)
            if isinstance(step, dict) and len(step) != 1:
                raise ValueError(f"a transform step is a name or a one-key mapping, got {step!r}")
            if name not in TRANSFORMS:
                raise ValueError(f"unknown transform {name!r}; "
                                 f"one of {', '.join(sorted(TRANSFORMS))}")
        if self.options is not None and self.type != "enumeration":
            raise ValueError("'options' only applies to type: enumeration")
        return self

    @field_validator("to")
    @classmethod
    def _property_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a HubSpot property name (lower-case, digits, _)")
        return value

    @property
    def steps(self) -> list[TransformStep]:
        if self.transform is None:
            return []
        return self.transform if isinstance(self.transform, list) else [self.transform]

    def describe_origin(self) -> str:
        if self.id_of is not None:
            return f"{self.from_ or self.template} → HubSpot id of {self.id_of}"
        if self.from_ is not None:
            return self.from_
        if self.template is not None:
            return f'"{self.template}"'
        return f"= {self.value!r}"

    def property_definition(self, group: str = "officernd") -> dict[str, Any]:
        """The body of ``POST /crm/v3/properties/{object}`` that creates this custom property."""
        ptype = self.type or "string"
        body: dict[str, Any] = {
            "name": self.to,
            "label": self.label or self.to.replace("_", " ").capitalize(),
            "type": ptype,
            "fieldType": _FIELD_TYPES[ptype],
            "groupName": group,
        }
        if ptype == "enumeration":
            body["options"] = [{"label": option, "value": option, "displayOrder": i}
                               for i, option in enumerate(self.options or [])]
        return body


class AssociationSpec(_Model):
    to: str = Field(description="the entity whose records this one is associated with")
    via: str = Field(description="source field holding the other record's source id")
    type: Literal["unlabeled", "primary"] = "unlabeled"
    type_id: int | None = Field(None, description="explicit associationTypeId (overrides type)")
    follow_source: bool = Field(
        default=True,
        description="when the record's link changes, the association the sync made to the old "
                    "target is removed (only pairs in the association ledger)")


class ExpectationSpec(_Model):
    """An extra Great Expectations expectation, e.g.
    {expectation: expect_column_values_to_match_regex, column: phone,
    kwargs: {regex: '^\\+?[0-9 ()-]+$'}}."""

    expectation: str
    column: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None


class ChildSpec(_Model):
    """Records derived from a list inside each source record (a contract's plan entries become
    line items). Children are created, updated and archived as the list changes."""

    name: str
    explode: str = Field(description="list field of the parent record; each item is a child")
    id: str = Field(description="template of the child's source id, e.g. '{_id}:{item.id}'")
    hubspot: HubSpotSpec
    properties: list[PropertySpec]
    lookups: dict[str, LookupSpec] = Field(default_factory=dict)
    parent_association_type_id: int | None = Field(
        None, description="associationTypeId child -> parent; default HubSpot's unlabeled one")


# Deletes and churn (on_source_delete, on_filter_exit, delete_check, flag, the delete guard,
# recreate_deleted) from hubspot_sync.lifecycle; sync_mode, conflict_rule, reverse_create
# (two-way sync) from hubspot_sync.two_way.spec.
class EntityMapping(_Model, LifecycleRules, TwoWayRules):
    entity: str
    description: str = ""
    source: SourceSpec
    filter: dict[str, list[Any]] = Field(default_factory=dict)
    lookups: dict[str, LookupSpec] = Field(default_factory=dict)
    hubspot: HubSpotSpec
    mode: Literal["upsert", "update_only", "create_only"] = "upsert"
    properties: list[PropertySpec]
    associations: list[AssociationSpec] = Field(default_factory=list)
    children: list[ChildSpec] = Field(default_factory=list)
    expectations: list[ExpectationSpec] = Field(default_factory=list)
    max_rejected_ratio: float = Field(0.05, ge=0, le=1)
    reject_threshold_min_records: int = Field(
        20, ge=0, description="the ratio fails a run only from this many records on: in a "
                              "small hourly batch one bad record is not a trend")
    missing_field_min_records: int = Field(
        20, ge=1, description="a mapped source field no extracted record has (the key absent, "
                              "not null) fails the run from this many records on")
    max_cleared_ratio: float = Field(
        0.1, ge=0, le=1, description="a run that would clear a property (send an empty value "
                                     "over HubSpot's) on more than this share of the records "
                                     "it updates stops before writing")
    clear_guard_min_records: int = Field(
        20, ge=0, description="the clear guard stops a run only when at least this many "
                              "records would lose the property's value")
    max_removed_associations_ratio: float = Field(
        default=0.05, ge=0, le=1,
        description="a run that would remove more than this share of the associations the sync "
                    "made for the entity stops before removing any, until a run confirms "
                    "(confirm_deletes)")
    association_guard_min_records: int = Field(
        default=20, ge=0,
        description="the association removal guard stops a run only from this many removals on")
    depends_on: list[str] = Field(default_factory=list,
                                  description="entities whose records this one associates with")
    tags: list[str] = Field(default_factory=list)
    timeline: list[TimelineSpec] = Field(default_factory=list,
                                         description="events written as HubSpot notes")

    @field_validator("entity")
    @classmethod
    def _entity_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and _")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EntityMapping:
        targets = [p.to for p in self.properties]
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            raise ValueError(f"HubSpot properties mapped twice: {', '.join(duplicates)}")
        if self.hubspot.id_property in targets:
            raise ValueError(f"{self.hubspot.id_property!r} is the id property; it is set by the "
                             "sync and cannot also be mapped")
        missing = [key for key in self.hubspot.match_on if key not in targets]
        if missing:
            raise ValueError(f"match_on keys must be mapped properties: {', '.join(missing)}")
        events = [t.event for t in self.timeline]
        twice = sorted({e for e in events if events.count(e) > 1})
        if twice:
            raise ValueError(f"timeline events named twice: {', '.join(twice)}")
        return self

    @property
    def dag_id(self) -> str:
        return f"sync_{self.entity}"

    @property
    def asset_uri(self) -> str:
        return f"hubspot://{self.hubspot.object}"

    def child_mappings(self) -> list[EntityMapping]:
        """Each child as an entity of its own (``<entity>_<child>``), associated with its parent
        through the ``_parent`` link the parent's extraction sets."""
        return [EntityMapping(
            entity=f"{self.entity}_{child.name}",
            description=f"{child.name} of {self.entity} (one per item of {child.explode})",
            source=self.source, hubspot=child.hubspot, properties=child.properties,
            lookups=child.lookups,
            associations=[AssociationSpec(to=self.entity, via=PARENT_LINK,
                                          type_id=child.parent_association_type_id)],
            max_rejected_ratio=self.max_rejected_ratio,
            reject_threshold_min_records=self.reject_threshold_min_records,
            missing_field_min_records=self.missing_field_min_records,
            max_cleared_ratio=self.max_cleared_ratio,
            clear_guard_min_records=self.clear_guard_min_records,
            depends_on=[self.entity], tags=self.tags)
            for child in self.children]

    def source_id_value(self, source_id: str) -> str:
        """The value of the HubSpot id property for a source id."""
        return f"{self.hubspot.id_prefix}{source_id}"

    def timeline_table_md(self) -> str:
        """The timeline events as a Markdown table (the DAG's doc_md)."""
        return timeline_table_md(self.timeline)

    def property_table_md(self) -> str:
        """The property mapping as a Markdown table (the DAG's doc_md)."""
        rows = ["| OfficeRnD | HubSpot | transform | ownership | checks |",
                "|---|---|---|---|---|"]
        rows.append(f"| `{self.source.id}` | `{self.hubspot.id_property}` (id) | "
                    f"{self.hubspot.id_prefix or ''} | sync | unique |")
        for prop in self.properties:
            steps = ", ".join(s if isinstance(s, str) else "{}: {}".format(*next(iter(s.items())))
                              for s in prop.steps)
            if prop.value_map:
                steps = ", ".join(filter(None, [steps, f"value map ({len(prop.value_map)}), "
                                                       f"unmapped: {prop.on_unmapped}"]))
            checks = ", ".join(filter(None, [
                "required" if prop.required else "", prop.expect or "",
                f">= {prop.min:g}" if prop.min is not None else "",
                f"<= {prop.max:g}" if prop.max is not None else "",
                "match key" if prop.to in self.hubspot.match_on else "",
            ]))
            way = self.direction_of(prop)  # two-way: the direction and conflict rule
            owner = prop.ownership if way == "to_hubspot" else \
                f"{way}, {self.conflict_of(prop)} (two-way)"
            rows.append(f"| {prop.describe_origin()} | `{prop.to}` | {steps} | {owner} | "
                        f"{checks} |")
        return "\n".join(rows)


def association_type_id(from_object: str, to_object: str, kind: str = "unlabeled",
                        explicit: int | None = None) -> int:
    """The HUBSPOT_DEFINED associationTypeId for a pair of objects."""
    if explicit is not None:
        return explicit
    try:
        return ASSOCIATION_TYPES[(from_object, to_object)][kind]
    except KeyError:
        raise MappingError(f"HubSpot defines no {kind} association from {from_object} to "
                           f"{to_object}; give type_id explicitly") from None


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = ""
        for part in error["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (typo?)"
        lines.append(f"{path}: {loc or '<top>'}: {message}")
    return "\n".join(lines)


def load_mapping(path: str | Path) -> EntityMapping:
    """Parse and validate one mapping file; raise MappingError naming the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise MappingError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{path}: <top>: expected a mapping of keys, got {type(data).__name__}")
    try:
        mapping = EntityMapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(_format_error(path, exc)) from None
    if mapping.entity != path.stem:
        raise MappingError(f"{path}: entity: {mapping.entity!r} must match the file name "
                           f"{path.stem!r}")
    return mapping


@dataclass(frozen=True)
class MappingSet:
    """Every usable mapping in a folder, and the files that cannot be used (each with its
    message). A mapping in a ``depends_on`` cycle, or naming an entity that has no mapping
    file, is among the errors, so the other entities keep working."""

    mappings: dict[str, EntityMapping]
    errors: dict[str, str]

    def ordered(self) -> list[EntityMapping]:
        """Entities in dependency order (depends_on first), then by name. Never raises:
        ``load_mappings`` keeps cycles out of ``mappings``; a back edge is ignored here."""
        done: list[str] = []

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in done or name in trail or name not in self.mappings:
                return
            for dep in sorted(self.mappings[name].depends_on):
                visit(dep, (*trail, name))
            done.append(name)

        for name in sorted(self.mappings):
            visit(name, ())
        return [self.mappings[name] for name in done]


def load_mappings(folder: str | Path | None = None) -> MappingSet:
    """Load every ``*.yaml`` in ``folder``; a broken file is reported, never fatal to the
    others. Besides each file's own checks, every entity a mapping names (depends_on,
    associations, ``id_of``) must have a mapping file, and depends_on must not loop."""
    folder = DEFAULT_MAPPINGS_DIR if folder is None else folder
    mappings: dict[str, EntityMapping] = {}
    paths: dict[str, Path] = {}
    errors: dict[str, str] = {}
    files = sorted(Path(folder).glob("*.yaml"))
    for path in files:
        try:
            mappings[path.stem] = load_mapping(path)
            paths[path.stem] = path
        except MappingError as exc:
            errors[str(path)] = str(exc)
    # A broken file still names a known entity: fixing it must not break its dependants.
    known = {path.stem for path in files}
    known |= {child.entity for m in mappings.values() for child in m.child_mappings()}
    for name, message in reference_errors(mappings, paths, known).items():
        errors[str(paths[name])] = message
        del mappings[name]
    return MappingSet(mappings, errors)

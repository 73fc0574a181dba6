"""The mapping keys of two-way sync: which direction each property flows, who wins when both
sides changed it, and which HubSpot records create OfficeRnD records.

``EntityMapping`` inherits :class:`TwoWayRules`, ``PropertySpec`` inherits
:class:`PropertyDirection` (``hubspot_sync.mapping``); this module imports only pydantic, so
the DAG factory can use it at parse time.

```yaml
sync_mode: two_way            # to_hubspot (default) | two_way | to_officernd | disabled
conflict_rule: latest_wins    # latest_wins (default) | officernd_wins | hubspot_wins
reverse_create:               # optional: a HubSpot record without the id property ...
  when: {property: dealstage, mapped: true}   # ... whose dealstage the value map knows
  as: {}                      # fixed OfficeRnD fields of the created record
properties:
  - {from: phone, to: phone, direction: both, conflict: hubspot_wins}
  - {from: email, to: email, direction: to_hubspot}
```

``sync_mode`` is Skalin's per-object setting seen from OfficeRnD: ``to_hubspot`` is "output
only" (today's behaviour), ``two_way`` "two-ways", ``to_officernd`` "input only", and
``disabled`` syncs nothing (the entity gets no DAG; other mappings may still name it). It is
the default ``direction`` of every property; a property's own ``direction`` wins.

``reverse_create.when`` is one HubSpot property (a mapped ``both`` / ``to_officernd``
property) and either ``mapped: true`` (its value is one the property's value map knows, e.g. a
deal stage of the stage map) or ``in: [...]`` (one of these HubSpot values, e.g. a contact's
``lifecyclestage`` in ``[customer]``). ``as`` sets fixed OfficeRnD fields on the created record
(``{status: lead}``); every reverse property of the HubSpot record fills the rest. HubSpot
records the sync created (they carry the id property) never create anything.

Configuration errors are raised while the file loads, before any write: a reverse direction
on a property that cannot be converted back (a ``value:`` constant, a template, a transform
without an inverse such as ``first_name``, a value map two keys of which give one HubSpot
value, ``id_of``, ``when``, ``ownership`` other than ``overwrite``), a source OfficeRnD cannot
be written to, two reverse properties writing one OfficeRnD field, ``conflict`` on a property
that is not ``both``, and children with a reverse direction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Direction = Literal["to_hubspot", "to_officernd", "both"]
ConflictRule = Literal["officernd_wins", "hubspot_wins", "latest_wins"]
SyncMode = Literal["to_hubspot", "two_way", "to_officernd", "disabled"]
DIRECTIONS = ("to_hubspot", "to_officernd", "both")
CONFLICT_RULES = ("officernd_wins", "hubspot_wins", "latest_wins")
REVERSE_DIRECTIONS = ("to_officernd", "both")
_MODE_DIRECTION: dict[str, Direction] = {"to_hubspot": "to_hubspot", "two_way": "both",
                                         "to_officernd": "to_officernd",
                                         "disabled": "to_hubspot"}

# OfficeRnD resources the sync may write (OfficeRnD API v2 create / update endpoints).
WRITABLE_RESOURCES = ("members", "companies", "opportunities")

# Transforms whose result converts back (two_way.convert): identity up to normalisation, or
# with an inverse (prefix strips it, iso_months reads P6M back as 6). first_name / last_name
# (a split), domain (drops the URL), default (a fallback) and join have none.
INVERTIBLE_TRANSFORMS = frozenset({
    "trim", "clean_text", "blank_to_none", "lower", "upper", "email", "number", "round",
    "integer", "date", "datetime", "prefix", "iso_months"})


class ReverseCreateWhen(BaseModel):
    """Which HubSpot records create an OfficeRnD record."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    property: str = Field(description="a mapped HubSpot property with a reverse direction")
    mapped: bool = Field(default=False, description="its value is one the property's value "
                                                    "map knows (a stage of the stage map)")
    in_: list[str] | None = Field(default=None, alias="in",
                                  description="its value is one of these HubSpot values")

    @model_validator(mode="after")
    def _one_test(self) -> ReverseCreateWhen:
        if self.mapped == (self.in_ is not None):
            raise ValueError("give exactly one of 'mapped: true' or 'in: [values]'")
        if self.in_ is not None and not self.in_:
            raise ValueError("'in' needs at least one value")
        return self

    def matches(self, value: str | None, known: Iterable[str] = ()) -> bool:
        """Whether a HubSpot value (HubSpot form) passes: in ``in``, or among ``known`` (the
        values of the property's value map) when ``mapped``."""
        if value is None or not str(value).strip():
            return False
        allowed = set(self.in_) if self.in_ is not None else set(known)
        return str(value).strip() in allowed


class ReverseCreateSpec(BaseModel):
    """Reverse creation: ``when`` a HubSpot record without the id property qualifies, one
    OfficeRnD record is created with the fixed fields ``as`` plus its reverse properties."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    when: ReverseCreateWhen
    as_: dict[str, Any] = Field(default_factory=dict, alias="as",
                                description="fixed OfficeRnD fields of the created record")


class PropertyDirection(BaseModel):
    """The per-property keys ``PropertySpec`` inherits (None: the entity's default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Direction | None = Field(
        default=None, description="to_hubspot, to_officernd or both; default from sync_mode")
    conflict: ConflictRule | None = Field(
        default=None, description="who wins when both sides changed a 'both' property since "
                                  "the last sync; default the entity's conflict_rule")


class TwoWayRules(BaseModel):
    """Two-way sync: the keys ``EntityMapping`` inherits (defaults: today's behaviour,
    every property to HubSpot only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sync_mode: SyncMode = Field(
        default="to_hubspot", description="every property's default direction: to_hubspot "
        "(output only), two_way (both), to_officernd (input only); disabled syncs nothing")
    conflict_rule: ConflictRule = Field(
        default="latest_wins", description="the default conflict rule of 'both' properties")
    reverse_create: ReverseCreateSpec | None = Field(
        default=None, description="HubSpot records that create OfficeRnD records")

    @model_validator(mode="after")
    def _two_way(self) -> Any:
        # getattr: properties, source, lookups, children belong to EntityMapping.
        problems = two_way_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ------------------------------------------------------------------ resolved values

    @property
    def enabled(self) -> bool:
        """False for ``sync_mode: disabled`` (the entity syncs nothing)."""
        return self.sync_mode != "disabled"

    def direction_of(self, prop: Any) -> Direction:
        """A property's direction (a PropertySpec or its HubSpot name): its own, else the
        sync_mode's."""
        prop = self._property(prop)
        own = getattr(prop, "direction", None)
        return own if own is not None else _MODE_DIRECTION[self.sync_mode]

    def conflict_of(self, prop: Any) -> ConflictRule:
        """The rule deciding a conflict on a property: its own ``conflict``, else the
        entity's ``conflict_rule``; always ``hubspot_wins`` for a ``to_officernd`` one."""
        prop = self._property(prop)
        if self.direction_of(prop) == "to_officernd":
            return "hubspot_wins"
        own = getattr(prop, "conflict", None)
        return own if own is not None else self.conflict_rule

    def reverse_properties(self) -> list[Any]:
        """The properties whose HubSpot value may flow to OfficeRnD (both, to_officernd)."""
        if not self.enabled:
            return []
        return [p for p in getattr(self, "properties", [])
                if self.direction_of(p) in REVERSE_DIRECTIONS]

    @property
    def has_reverse(self) -> bool:
        """Whether the entity writes to OfficeRnD: a reverse property or reverse_create."""
        return self.enabled and (bool(self.reverse_properties())
                                 or self.reverse_create is not None)

    def _property(self, prop: Any) -> Any:
        if isinstance(prop, str):
            found = next((p for p in getattr(self, "properties", []) if p.to == prop), None)
            if found is None:
                raise KeyError(f"{prop!r} is not a mapped HubSpot property")
            return found
        return prop


def officernd_field(prop: Any, lookups: dict[str, Any]) -> str | None:
    """The OfficeRnD field a reverse property writes: the top of its ``from`` path
    (``address`` for ``address.street``), or a lookup's key field (``status`` for
    ``status_record.description``); None when it has no ``from``."""
    path = getattr(prop, "from_", None)
    if path is None:
        return None
    head = path.split(".", 1)[0]
    if head in lookups and "." in path:
        return str(lookups[head].key)
    return head


def _property_problems(prop: Any, where: str) -> list[str]:
    """Why a property cannot flow back to OfficeRnD (empty: it can)."""
    out = []
    if prop.value is not None:
        out.append(f"{where}: a constant ('value: {prop.value}') has no OfficeRnD field to "
                   "write back; keep it direction: to_hubspot")
    if prop.template is not None:
        out.append(f"{where}: a template ({prop.template!r}) cannot be split back into "
                   "OfficeRnD fields; map one field with 'from' or keep it to_hubspot")
    for step in prop.steps:
        name = step if isinstance(step, str) else next(iter(step), "")
        if name not in INVERTIBLE_TRANSFORMS:
            out.append(f"{where}: the transform {name!r} has no inverse (invertible: "
                       f"{', '.join(sorted(INVERTIBLE_TRANSFORMS))})")
    if prop.value_map:
        seen: dict[str, str] = {}
        for key, value in prop.value_map.items():
            target = "" if value is None else str(value).strip()
            if target in seen:
                out.append(f"{where}: the value map is not invertible: {seen[target]!r} and "
                           f"{key!r} both give {target!r}")
            seen.setdefault(target, key)
        if "" in seen:
            out.append(f"{where}: the value map sends {seen['']!r} to an empty value, which "
                       "cannot be read back")
    if prop.id_of is not None:
        out.append(f"{where}: an id_of property ({prop.id_of}) is not written back")
    if prop.when:
        out.append(f"{where}: a property set only 'when' other fields match cannot be "
                   "written back")
    if prop.ownership != "overwrite":
        out.append(f"{where}: ownership {prop.ownership} does not apply to a reverse "
                   "direction (the conflict rule decides); use ownership: overwrite")
    return out


def two_way_problems(mapping: Any) -> list[str]:
    """Every two-way configuration error of an entity mapping, as ``key: what is wrong``."""
    properties = list(getattr(mapping, "properties", []))
    lookups = dict(getattr(mapping, "lookups", {}) or {})
    source = getattr(mapping, "source", None)
    out: list[str] = []
    writes: dict[str, str] = {}
    for i, prop in enumerate(properties):
        where = f"properties[{i}] ({prop.to})"
        direction = mapping.direction_of(prop)
        if prop.conflict is not None and direction != "both":
            out.append(f"{where}.conflict: only a 'both' property has a conflict rule "
                       f"(this one is {direction})")
        if direction not in REVERSE_DIRECTIONS or not mapping.enabled:
            continue
        out += _property_problems(prop, f"{where}.direction {direction}")
        if prop.from_ is None:
            continue
        # The OfficeRnD value it sets: its path (address parts merge), a lookup's key field.
        head = prop.from_.split(".", 1)[0]
        target = officernd_field(prop, lookups) if head in lookups else prop.from_
        if target in writes:
            out.append(f"{where}.direction: {prop.from_!r} and {writes[target]!r} both set "
                       f"the OfficeRnD field {target!r}; only one may flow back")
        writes.setdefault(str(target), prop.from_)
    for c, child in enumerate(getattr(mapping, "children", [])):
        for i, prop in enumerate(child.properties):
            if prop.direction not in (None, "to_hubspot") or prop.conflict is not None:
                out.append(f"children[{c}].properties[{i}] ({prop.to}): children sync to "
                           "HubSpot only")
    create = mapping.reverse_create
    reverse = bool(mapping.reverse_properties()) or create is not None
    if reverse and mapping.enabled and source is not None:
        resource = getattr(source, "resource", None)
        if source.system != "officernd" or resource not in WRITABLE_RESOURCES:
            out.append(f"source: {source.system} {resource or ''} cannot be written back "
                       f"(writable OfficeRnD resources: {', '.join(WRITABLE_RESOURCES)}); "
                       "keep every property to_hubspot")
    if create is not None:
        target = next((p for p in properties if p.to == create.when.property), None)
        if target is None:
            out.append(f"reverse_create.when.property: {create.when.property!r} is not a mapped "
                       "HubSpot property")
        elif mapping.direction_of(target) not in REVERSE_DIRECTIONS:
            out.append(f"reverse_create.when.property: {target.to!r} must have direction both "
                       "or to_officernd (its value is written to the new OfficeRnD record)")
        elif create.when.mapped and not target.value_map:
            out.append(f"reverse_create.when.mapped: {target.to!r} has no value map; use "
                       "'in: [values]'")
    return out

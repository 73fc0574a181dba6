"""Property definitions and property groups (``/crm/v3/properties/{objectType}``).

Each object type starts with HubSpot's default properties (``hubspotDefined``) and one
group; custom ones are created, updated and archived here. A ``hasUniqueValue`` property
gets a unique index on the object's records (see ``records.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.hubspot import schema
from sandbox.hubspot.models.batch_io import batch_answer, read_inputs
from sandbox.hubspot.models.core import StateCore
from sandbox.hubspot.models.errors import HubSpotError, validation_error
from sandbox.hubspot.models.values import fmt_ms, now_ms

if TYPE_CHECKING:
    from sandbox.hubspot.models.records import ObjectStore

MAX_UNIQUE_PROPERTIES = 10
PROPERTY_TYPES = {"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"}
FIELD_TYPES = {"booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html",
               "number", "phonenumber", "radio", "select", "text", "textarea"}


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[dict] = field(default_factory=list)
    has_unique_value: bool = False
    hubspot_defined: bool = False
    read_only_value: bool = False
    read_only_definition: bool = False
    calculated: bool = False
    display_order: int = -1
    hidden: bool = False
    form_field: bool = False
    created_at: int = 0
    updated_at: int = 0
    archived: bool = False
    archived_at: int | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "name": self.name, "label": self.label, "type": self.type,
            "fieldType": self.field_type, "description": self.description,
            "groupName": self.group_name, "options": self.options,
            "displayOrder": self.display_order, "calculated": self.calculated,
            "externalOptions": False, "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden, "formField": self.form_field,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.read_only_definition,
                                     "readOnlyValue": self.read_only_value},
            "createdAt": fmt_ms(self.created_at), "updatedAt": fmt_ms(self.updated_at),
            "archived": self.archived,
        }
        if self.hubspot_defined:
            out["hubspotDefined"] = True
        if self.archived_at is not None:
            out["archivedAt"] = fmt_ms(self.archived_at)
        return out

    @classmethod
    def from_json(cls, d: dict) -> PropertyDef:
        return cls(**d)

    def dump(self) -> dict:
        return dict(self.__dict__)

    def option_values(self) -> list[str]:
        return [o["value"] for o in self.options]



class PropertiesMixin(StateCore):
    """Properties and groups of every object type."""

    stores: dict[str, ObjectStore]
    properties: dict[str, dict[str, PropertyDef]]
    groups: dict[str, dict[str, dict]]
    dirty_properties: set[tuple[str, str]]
    dirty_meta: bool

    def _init_properties(self, t: int) -> None:
        """HubSpot's default properties and groups of every object type, created at ``t``."""
        self.properties = {}
        self.groups = {}
        for otype in schema.OBJECT_TYPE_IDS:
            props: dict[str, PropertyDef] = {}
            group = schema.GROUPS[otype][0][0]
            for order, (name, label, ptype, ftype, extra) in enumerate(
                    schema.DEFAULT_PROPERTIES[otype]):
                props[name] = PropertyDef(
                    name=name, label=label, type=ptype, field_type=ftype, group_name=group,
                    options=schema.default_options(extra.get("options", [])),
                    hubspot_defined=True, read_only_value=bool(extra.get("read_only")),
                    read_only_definition=True, calculated=ftype == "calculation_equation",
                    display_order=order, form_field=not extra.get("read_only"),
                    created_at=t, updated_at=t)
            self.properties[otype] = props
            self.groups[otype] = {
                g: {"name": g, "label": label, "displayOrder": i, "archived": False}
                for i, (g, label) in enumerate(schema.GROUPS[otype])}

    def _prop(self, otype: str, name: str) -> PropertyDef | None:
        p = self.properties[otype].get(name)
        if p is None or p.archived:
            return None
        return p

    def list_properties(self, otype: str, archived: bool = False) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            return {"results": [p.to_json() for p in self.properties[otype].values()
                                if p.archived == archived]}

    def get_property(self, otype: str, name: str, archived: bool = False) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            p = self.properties[otype].get(name)
            if p is None or p.archived != archived:
                raise HubSpotError(404, "OBJECT_NOT_FOUND",
                                   f"Unable to find property {name} on object type "
                                   f"{schema.OBJECT_TYPE_IDS[otype]}",
                                   context={"propertyName": [name]})
            return p.to_json()

    def _property_from_input(self, otype: str, body: dict) -> PropertyDef:
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName")
                   if not body.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise validation_error(
                f"Property name {name} is invalid: use lower-case letters, digits and _")
        if body["type"] not in PROPERTY_TYPES:
            raise validation_error(f"Invalid property type {body['type']}")
        if body["fieldType"] not in FIELD_TYPES:
            raise validation_error(f"Invalid fieldType {body['fieldType']}")
        if body["groupName"] not in self.groups[otype]:
            raise validation_error(f"Property group {body['groupName']} does not exist")
        options = self._options(body.get("options") or [])
        if body["type"] == "enumeration" and not options and body["fieldType"] != "booleancheckbox":
            raise validation_error("Enumeration properties need options")
        if body["type"] == "bool" and not options:
            options = [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                       {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]
        unique = bool(body.get("hasUniqueValue"))
        if unique and len(self.stores[otype].unique) - (otype == "contacts") \
                >= MAX_UNIQUE_PROPERTIES:
            raise validation_error(
                f"An object can have at most {MAX_UNIQUE_PROPERTIES} unique properties")
        t = now_ms()
        return PropertyDef(
            name=name, label=str(body["label"]), type=body["type"],
            field_type=body["fieldType"], group_name=body["groupName"],
            description=str(body.get("description") or ""), options=options,
            has_unique_value=unique, display_order=int(body.get("displayOrder", -1)),
            hidden=bool(body.get("hidden", False)), form_field=bool(body.get("formField", False)),
            created_at=t, updated_at=t)

    @staticmethod
    def _options(options: list) -> list[dict]:
        out = []
        for i, o in enumerate(options):
            if not isinstance(o, dict) or "value" not in o or "label" not in o:
                raise validation_error("Each option needs a label and a value")
            out.append({"label": str(o["label"]), "value": str(o["value"]),
                        "displayOrder": int(o.get("displayOrder", i)),
                        "hidden": bool(o.get("hidden", False)),
                        **({"description": o["description"]} if o.get("description") else {})})
        return out

    def _add_property(self, otype: str, pdef: PropertyDef) -> None:
        existing = self.properties[otype].get(pdef.name)
        if existing is not None and not existing.archived:
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                               f"Property named '{pdef.name}' already exists.",
                               context={"name": [pdef.name]})
        if existing is not None and existing.hubspot_defined:
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                               f"Property named '{pdef.name}' already exists.")
        self.properties[otype][pdef.name] = pdef
        if pdef.has_unique_value:
            store = self.stores[otype]
            index: dict[str, int] = {}
            for rec in store.records.values():
                v = rec.props.get(pdef.name)
                if v and not rec.archived:
                    index.setdefault(v, rec.id)
            store.unique[pdef.name] = index
        self.dirty_properties.add((otype, pdef.name))

    def create_property(self, otype: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            pdef = self._property_from_input(otype, body)
            self._add_property(otype, pdef)
            self._changed()
            return pdef.to_json()

    def update_property(self, otype: str, name: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            p = self.properties[otype].get(name)
            if p is None or p.archived:
                self.get_property(otype, name)  # raises 404
                raise AssertionError
            if p.read_only_definition:
                raise validation_error(f"Property {name} is HubSpot-defined and read-only")
            if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != p.has_unique_value:
                raise validation_error("hasUniqueValue cannot be changed once set")
            for key, attr in (("label", "label"), ("description", "description"),
                              ("groupName", "group_name"), ("displayOrder", "display_order"),
                              ("hidden", "hidden"), ("formField", "form_field")):
                if key in body:
                    setattr(p, attr, body[key])
            if "type" in body:
                if body["type"] not in PROPERTY_TYPES:
                    raise validation_error(f"Invalid property type {body['type']}")
                p.type = body["type"]
            if "fieldType" in body:
                if body["fieldType"] not in FIELD_TYPES:
                    raise validation_error(f"Invalid fieldType {body['fieldType']}")
                p.field_type = body["fieldType"]
            if "options" in body:
                p.options = self._options(body["options"] or [])
            p.updated_at = now_ms()
            self.dirty_properties.add((otype, name))
            self._changed()
            return p.to_json()

    def archive_property(self, otype: str, name: str) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            p = self.properties[otype].get(name)
            if p is None or p.archived:
                self.get_property(otype, name)
                return
            if p.hubspot_defined:
                raise validation_error(f"Property {name} is HubSpot-defined and cannot be archived")
            p.archived = True
            p.archived_at = now_ms()
            self.stores[otype].unique.pop(name, None)
            self.dirty_properties.add((otype, name))
            self._changed()

    def batch_read_properties(self, otype: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = read_inputs(body, 1000)
            archived = bool(body.get("archived", False))
            results, missing = [], []
            for inp in inputs:
                name = str(inp.get("name", "")) if isinstance(inp, dict) else ""
                p = self.properties[otype].get(name)
                if p is None or p.archived != archived:
                    missing.append(name)
                else:
                    results.append(p.to_json())
            errors = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                       "message": f"Unable to find properties: {missing}",
                       "context": {"properties": missing}, "errors": [], "links": {}}
                      ] if missing else []
            return batch_answer(results, errors, started)

    def batch_create_properties(self, otype: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            otype = self.resolve_type(otype)
            started = now_ms()
            inputs = read_inputs(body, 1000)
            results, errors = [], []
            for inp in inputs:
                try:
                    pdef = self._property_from_input(otype, inp)
                    self._add_property(otype, pdef)
                except HubSpotError as err:
                    errors.append(err.batch_error(
                        ids=[str(inp.get("name"))] if isinstance(inp, dict) else None))
                    continue
                results.append(pdef.to_json())
            if results:
                self._changed()
            status, out = batch_answer(results, errors, started)
            return (201 if status == 200 else status), out

    def batch_archive_properties(self, otype: str, body: dict) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            for inp in read_inputs(body, 1000):
                name = str(inp.get("name", "")) if isinstance(inp, dict) else ""
                p = self.properties[otype].get(name)
                if p is not None and not p.archived and not p.hubspot_defined:
                    self.archive_property(otype, name)

    # groups

    def list_groups(self, otype: str) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            return {"results": [dict(g) for g in self.groups[otype].values()
                                if not g["archived"]]}

    def get_group(self, otype: str, name: str) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            g = self.groups[otype].get(name)
            if g is None or g["archived"]:
                raise HubSpotError(404, "OBJECT_NOT_FOUND",
                                   f"Unable to find property group {name}",
                                   context={"groupName": [name]})
            return dict(g)

    def create_group(self, otype: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            name, label = body.get("name"), body.get("label")
            if not name or not label:
                raise validation_error("Missing required fields: name, label")
            existing = self.groups[otype].get(name)
            if existing is not None and not existing["archived"]:
                raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                                   f"Property group named '{name}' already exists.")
            g = {"name": name, "label": label, "displayOrder": int(body.get("displayOrder", -1)),
                 "archived": False}
            self.groups[otype][name] = g
            self.dirty_meta = True
            self._changed()
            return dict(g)

    def update_group(self, otype: str, name: str, body: dict) -> dict:
        with self.lock:
            otype = self.resolve_type(otype)
            self.get_group(otype, name)
            g = self.groups[otype][name]
            for key in ("label", "displayOrder"):
                if key in body:
                    g[key] = body[key]
            self.dirty_meta = True
            self._changed()
            return dict(g)

    def archive_group(self, otype: str, name: str) -> None:
        with self.lock:
            otype = self.resolve_type(otype)
            self.get_group(otype, name)
            self.groups[otype][name]["archived"] = True
            self.dirty_meta = True
            self._changed()


"""Step ``ensure_properties``: the HubSpot schema the mapping needs, checked before any write.

Creates the id property and any missing custom property the mapping types; checks that
every mapped property exists and that value maps only name options HubSpot has. The plan
is computed from the definitions alone (pure functions below), then applied.

The checked schema is remembered in the warehouse (``alert_state`` row
``hubspot_schema:<entity>``) with a fingerprint of the mapping and the portal, so an hourly
run within ``SYNC_SCHEMA_CHECK_HOURS`` (default 6; 0 = check every run) of the last check
reads no definitions: one call less per run, which on a small hourly run is most of the
overhead above the call floor. A changed mapping (any key) or another portal re-checks at
once; so do dry runs and full refreshes. A property someone deletes or an option someone
removes in HubSpot within those hours shows up as refused writes in that run's load, and the
next check (at most that many hours later) fails the run with the usual message.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.steps.context import ConfigurationError, EntityRun


def id_property_definition(name: str) -> dict[str, Any]:
    return {"name": name, "label": "OfficeRnD ID", "type": "string", "fieldType": "text",
            "groupName": "officernd", "hasUniqueValue": True,
            "description": "The OfficeRnD record this HubSpot record is synced from."}


def check_id_property(mapping: EntityMapping, existing: Mapping[str, dict]) -> None:
    """An existing id property must be unique-valued: HubSpot upserts and reads by a property
    only when it is, and a non-unique one would let two records claim one source record.
    HubSpot cannot switch ``hasUniqueValue`` on later, so the fix is by hand."""
    name, obj = mapping.hubspot.id_property, mapping.hubspot.object
    definition = existing.get(name)
    if definition is None or definition.get("hasUniqueValue") is True:
        return
    raise ConfigurationError(
        f"{mapping.entity}: the id property {name} of HubSpot {obj} exists but is not "
        "unique-valued (hasUniqueValue is not true), so records cannot be upserted or read "
        f"by it. HubSpot cannot make an existing property unique: archive {name} in HubSpot "
        "(Settings > Properties; delete it from the archive too) and the next run creates it "
        "with unique values, or name another id_property in the mapping's hubspot section. "
        "Nothing was written.")


def plan_properties(mapping: EntityMapping, existing: Mapping[str, dict]) -> list[dict[str, Any]]:
    """The property definitions to create; a mapped property HubSpot lacks and the mapping
    cannot create (no ``type``) is a ConfigurationError."""
    obj = mapping.hubspot.object
    wanted: list[dict[str, Any]] = []
    if mapping.hubspot.id_property not in existing:
        wanted.append(id_property_definition(mapping.hubspot.id_property))
    problems = []
    for prop in mapping.properties:
        if prop.to in existing:
            continue
        if prop.type is None:
            problems.append(f"{prop.to}: HubSpot {obj} has no such property and the mapping "
                            "gives no 'type' to create it")
        else:
            wanted.append(prop.property_definition())
    if problems:
        raise ConfigurationError(f"{mapping.entity}: " + "; ".join(problems))
    flag = mapping.flag_property_definition()  # on_source_delete / on_filter_exit: flag
    if flag and flag["name"] not in existing and all(d["name"] != flag["name"] for d in wanted):
        wanted.append(flag)
    return wanted


def planned_definitions(mapping: EntityMapping, existing: Mapping[str, dict],
                        wanted: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
    """The definitions of every mapped property once ``wanted`` exists (marked planned)."""
    planned = {**existing, **{d["name"]: {**d, "planned": True} for d in wanted}}
    names = [*(p.to for p in mapping.properties), mapping.hubspot.id_property]
    return {name: planned[name] for name in names if name in planned}


def apply_pipeline_options(definitions: dict[str, dict], mapping: EntityMapping,
                           pipelines: Sequence[Mapping[str, Any]]) -> None:
    """Deal stages are the stages of the deal's pipeline, not a fixed option list."""
    chosen = next((p.value for p in mapping.properties if p.to == "pipeline" and p.value), None)
    if "pipeline" in definitions:
        definitions["pipeline"] = {**definitions["pipeline"], "type": "enumeration",
                                   "options": [{"value": p["id"], "label": p.get("label", "")}
                                               for p in pipelines]}
    if "dealstage" in definitions:
        stages = [s for p in pipelines if chosen in (None, p["id"]) for s in p.get("stages", [])]
        definitions["dealstage"] = {**definitions["dealstage"], "type": "enumeration",
                                    "options": [{"value": s["id"], "label": s.get("label", "")}
                                                for s in stages]}


def check_value_maps(mapping: EntityMapping, definitions: Mapping[str, dict]) -> None:
    """A value map naming an option HubSpot's enumeration lacks is a ConfigurationError."""
    errors = []
    for prop in mapping.properties:
        definition = definitions.get(prop.to) or {}
        if not prop.value_map or definition.get("type") != "enumeration":
            continue
        options = {o.get("value") for o in definition.get("options", [])}
        unknown = sorted({str(v) for v in prop.value_map.values()
                          if v is not None and str(v) not in options})
        if unknown:
            errors.append(f"value_map of {prop.to} names {', '.join(unknown)}, which HubSpot's "
                          f"{prop.to} does not have (options: {', '.join(sorted(options))})")
    if errors:
        raise ConfigurationError(f"{mapping.entity}: " + "; ".join(errors))


def slim(definitions: Mapping[str, dict]) -> dict[str, dict]:
    """What later steps need of each definition (keeps XCom small)."""
    return {name: {"name": name, "type": d.get("type"), "fieldType": d.get("fieldType"),
                   "hubspotDefined": d.get("hubspotDefined", False),
                   "planned": d.get("planned", False),
                   "options": [{"value": o.get("value"), "label": o.get("label")}
                               for o in d.get("options", []) or []]}
            for name, d in definitions.items()}


SCHEMA_CHECK_HOURS = 6.0


def schema_check_hours() -> float:
    """How long a checked schema is trusted (``SYNC_SCHEMA_CHECK_HOURS``; 0: never)."""
    try:
        return max(0.0, float(os.environ.get("SYNC_SCHEMA_CHECK_HOURS") or SCHEMA_CHECK_HOURS))
    except ValueError:
        return SCHEMA_CHECK_HOURS


def schema_key(entity: str) -> str:
    return f"hubspot_schema:{entity}"


def schema_fingerprint(mapping: EntityMapping, portal: str) -> str:
    """Changes with any key of the mapping (properties, value maps, id and flag
    properties, pipeline) and with the portal the definitions were read from."""
    text = json.dumps([portal, mapping.model_dump(mode="json")], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def remembered_definitions(entry: Mapping[str, Any] | None, fingerprint: str, now: datetime,
                           hours: float) -> dict[str, dict] | None:
    """The definitions checked for ``fingerprint`` less than ``hours`` ago, else None."""
    if not entry or hours <= 0 or entry.get("fingerprint") != fingerprint:
        return None
    try:
        checked = datetime.fromisoformat(str(entry["checked_at"]))
    except (KeyError, ValueError):
        return None
    if checked.tzinfo is None:
        checked = checked.replace(tzinfo=UTC)
    if not timedelta(0) <= now - checked < timedelta(hours=hours):
        return None
    definitions = entry.get("definitions")
    return dict(definitions) if isinstance(definitions, Mapping) else None


def _portal(run: EntityRun) -> str:
    """The portal the hook talks to: its connection id, and the URL of a ``from_url`` hook."""
    attributes = vars(run.hook)  # the instance's own: a stand-in hook has none
    override = attributes.get("_override")
    return f"{attributes.get('hubspot_conn_id', '')}|{override[0] if override else ''}"


def ensure_properties(run: EntityRun) -> dict[str, Any]:
    """Check the mapping against HubSpot's definitions, then create what is missing; the
    definitions checked within ``SYNC_SCHEMA_CHECK_HOURS`` for this mapping are reused."""
    hours = schema_check_hours()
    if run.dry_run or run.full_refresh or hours <= 0:
        return check_schema(run)
    fingerprint = schema_fingerprint(run.mapping, _portal(run))
    now = datetime.now(UTC)
    entry = run.warehouse.alert_state(schema_key(run.entity))
    remembered = remembered_definitions(entry, fingerprint, now, hours)
    if remembered is not None:
        return {"created_properties": [], "planned_properties": [],
                "definitions": remembered, "schema_checked_at": entry and entry["checked_at"],
                "api_calls": run.api_calls()}
    out = check_schema(run)
    if not any(d.get("planned") for d in out["definitions"].values()):
        run.warehouse.set_alert_state(schema_key(run.entity), {
            "fingerprint": fingerprint, "checked_at": now.isoformat(),
            "definitions": out["definitions"]})
    return out


def check_schema(run: EntityRun) -> dict[str, Any]:
    """Read HubSpot's definitions, check the mapping against them, create what is missing."""
    mapping, hook = run.mapping, run.hook
    obj = mapping.hubspot.object
    existing = hook.get_properties(obj)
    check_id_property(mapping, existing)
    wanted = plan_properties(mapping, existing)
    # Checked against the definitions the run would create, before it creates any: a value
    # map naming an option HubSpot lacks fails the run with the portal untouched. A dry run
    # stops there (later steps see the planned definitions).
    definitions = planned_definitions(mapping, existing, wanted)
    if "dealstage" in definitions or "pipeline" in definitions:
        apply_pipeline_options(definitions, mapping, hook.get_pipelines("deals"))
    check_value_maps(mapping, definitions)
    created: list[str] = []
    if not run.dry_run and wanted:
        created = hook.ensure_properties(obj, wanted)
        # What was created is what was asked for (HubSpot never alters a definition it
        # accepts): no second read of every definition. One created meanwhile by another
        # task (409) is read back, as it may differ.
        raced = [d["name"] for d in wanted if d["name"] not in created]
        if raced:
            existing = hook.get_properties(obj)
        for d in wanted:
            if d["name"] in created:
                definitions[d["name"]] = dict(d)
            elif d["name"] in existing:
                definitions[d["name"]] = existing[d["name"]]
            else:
                definitions.pop(d["name"], None)
    return {"created_properties": created,
            "planned_properties": [d["name"] for d in wanted] if run.dry_run else [],
            "definitions": slim(definitions), "api_calls": run.api_calls()}


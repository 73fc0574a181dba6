"""The steps of one entity run, one function per DAG task.

Each step reads what the previous ones left in the warehouse (keyed by entity and run
id), does one job, and returns a small JSON summary for XCom. Nothing here knows about
Airflow's task machinery beyond connections, so every step can be called from a test.
Heavy imports (pandas, SQLAlchemy, GX) happen inside the steps, never at DAG parse time.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubspot_sync.mapping import (
    PARENT_LINK,
    EntityMapping,
    MappingError,
    association_type_id,
    load_mappings,
)
from hubspot_sync.transforms import get_path, map_record, parse_datetime, render_template

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.sources.base import Source
    from hubspot_sync.warehouse import Warehouse

log = logging.getLogger(__name__)

# Re-read this much before the watermark of a manual run: harmless (writes are
# idempotent) and it absorbs clock skew between Airflow and the source.
LOOKBACK = timedelta(seconds=int(os.environ.get("SYNC_LOOKBACK_SECONDS", "60")))
ASSOCIATIONS_KEY = "_associations"  # reserved key of a HubSpot snapshot row (not a property name)
# Rejects recorded by load (HubSpot refused the write, the parent is not synced): passing
# validation does not resolve them, only a successful write does.
LOAD_RULES = ("hubspot_refused", "parent_not_synced")


class ConfigurationError(RuntimeError):
    """The mapping and the HubSpot portal disagree; reported before any write."""


class RejectThresholdExceeded(RuntimeError):
    """More records failed validation than the mapping's max_rejected_ratio allows."""


@dataclass(frozen=True)
class RunWindow:
    """The change window a run extracts: [start, end); start None reads everything."""

    start: datetime | None
    end: datetime | None
    full_refresh: bool
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "full_refresh": self.full_refresh, "why": self.why}


def _as_utc(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(value if not hasattr(value, "isoformat") else value.isoformat())
    if parsed is None:
        raise ValueError(f"not a date-time: {value!r}")
    return parsed.astimezone(UTC)


def resolve_window(params: Mapping[str, Any], interval_start: Any, interval_end: Any,
                   run_type: str | None, last_end: datetime | None,
                   now: datetime | None = None) -> RunWindow:
    """Which changes a run syncs.

    - ``full_refresh``: everything (and orphans are reported);
    - ``since`` / ``until`` params: exactly that window;
    - scheduled and backfill runs: their data interval, so a backfill replays each
      hour's changes once; the very first scheduled run of an entity reads everything
      changed before its interval's end;
    - manual runs: from the last successful window's end (minus a small look-back) to
      now; the first run of an entity reads everything.
    """
    now = now or datetime.now(UTC)
    if params.get("full_refresh"):
        return RunWindow(None, None, True, "full refresh requested")
    since, until = _as_utc(params.get("since")), _as_utc(params.get("until"))
    if since or until:
        return RunWindow(since, until or now, False, "since/until params")
    start, end = _as_utc(interval_start), _as_utc(interval_end)
    if run_type in ("scheduled", "backfill") and start and end and start < end:
        if last_end is None and run_type == "scheduled":
            return RunWindow(None, end, False, "first run of this entity: everything before "
                                               "the interval's end")
        return RunWindow(start, end, False, f"{run_type} data interval")
    if last_end is None:
        return RunWindow(None, now, False, "first run of this entity: everything")
    return RunWindow(last_end - LOOKBACK, now, False,
                     "manual run: since the last successful window's end")


@dataclass
class EntityRun:
    """One run of one entity, with lazily built collaborators."""

    mapping: EntityMapping
    run_id: str
    dry_run: bool = False
    full_refresh: bool = False
    hubspot_conn_id: str = "hubspot_default"
    warehouse_conn_id: str = "sync_warehouse"
    mappings: dict[str, EntityMapping] = field(default_factory=dict)
    parent: EntityRun | None = None
    _warehouse: Warehouse | None = None
    _hook: HubSpotHook | None = None
    _source: Source | None = None

    @property
    def entity(self) -> str:
        return self.mapping.entity

    @property
    def warehouse(self) -> Warehouse:
        if self.parent is not None:
            return self.parent.warehouse
        if self._warehouse is None:
            from hubspot_sync.warehouse import Warehouse

            self._warehouse = Warehouse.from_airflow(self.warehouse_conn_id)
        return self._warehouse

    @property
    def hook(self) -> HubSpotHook:
        if self.parent is not None:
            return self.parent.hook
        if self._hook is None:
            from hubspot_sync.hubspot_client import HubSpotHook

            self._hook = HubSpotHook(hubspot_conn_id=self.hubspot_conn_id)
        return self._hook

    @property
    def source(self) -> Source:
        if self.parent is not None:
            return self.parent.source
        if self._source is None:
            from hubspot_sync.sources import source_for

            self._source = source_for(self.mapping.source)
        return self._source

    def units(self) -> list[EntityRun]:
        """This entity, then each of its children (e.g. a contract's line items)."""
        return [self, *(EntityRun(mapping=child, run_id=self.run_id, dry_run=self.dry_run,
                                  full_refresh=self.full_refresh, mappings=self.mappings,
                                  parent=self)
                        for child in self.mapping.child_mappings())]

    def api_calls(self) -> int:
        """HubSpot calls made so far by this run's hook (children share their parent's)."""
        if self.parent is not None:
            return 0
        return self._hook.call_count if self._hook is not None else 0

    def target_mapping(self, entity: str) -> EntityMapping:
        if entity == self.entity:
            return self.mapping
        if self.parent is not None and entity == self.parent.entity:
            return self.parent.mapping
        if not self.mappings:
            self.mappings = load_mappings().mappings
        try:
            return self.mappings[entity]
        except KeyError:
            raise MappingError(f"{self.entity}: associations name entity {entity!r}, which has "
                               "no mapping file") from None


# --------------------------------------------------------------------------- properties

def ensure_properties(run: EntityRun) -> dict[str, Any]:
    """Create the id property and any missing custom property the mapping types; check that
    every mapped property exists and that value maps only name options HubSpot has."""
    mapping, hook = run.mapping, run.hook
    obj = mapping.hubspot.object
    existing = hook.get_properties(obj)
    wanted: list[dict[str, Any]] = []
    if mapping.hubspot.id_property not in existing:
        wanted.append({"name": mapping.hubspot.id_property, "label": "OfficeRnD ID",
                       "type": "string", "fieldType": "text", "groupName": "officernd",
                       "hasUniqueValue": True,
                       "description": "The OfficeRnD record this HubSpot record is synced from."})
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
    # Checked against the definitions the run would create, before it creates any: a value
    # map naming an option HubSpot lacks fails the run with the portal untouched. A dry run
    # stops there (later steps see the planned definitions).
    planned = {**existing, **{d["name"]: {**d, "planned": True} for d in wanted}}
    names = [*(p.to for p in mapping.properties), mapping.hubspot.id_property]
    definitions = {name: planned[name] for name in names if name in planned}
    if "dealstage" in definitions or "pipeline" in definitions:
        _apply_pipeline_options(hook, definitions, mapping)
    _check_value_maps(mapping, definitions)
    created: list[str] = []
    if not run.dry_run and wanted:
        created = hook.ensure_properties(obj, wanted)
        if created:
            existing = hook.get_properties(obj)
        for name in (d["name"] for d in wanted):
            if name in existing:
                definitions[name] = existing[name]
            else:
                definitions.pop(name, None)
    return {"created_properties": created,
            "planned_properties": [d["name"] for d in wanted] if run.dry_run else [],
            "definitions": _slim(definitions), "api_calls": run.api_calls()}


def _apply_pipeline_options(hook: HubSpotHook, definitions: dict[str, dict],
                            mapping: EntityMapping) -> None:
    """Deal stages are the stages of the deal's pipeline, not a fixed option list."""
    pipelines = hook.get_pipelines("deals")
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


def _check_value_maps(mapping: EntityMapping, definitions: Mapping[str, dict]) -> None:
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


def _slim(definitions: Mapping[str, dict]) -> dict[str, dict]:
    """What later steps need of each definition (keeps XCom small)."""
    return {name: {"name": name, "type": d.get("type"), "fieldType": d.get("fieldType"),
                   "hubspotDefined": d.get("hubspotDefined", False),
                   "planned": d.get("planned", False),
                   "options": [{"value": o.get("value"), "label": o.get("label")}
                               for o in d.get("options", []) or []]}
            for name, d in definitions.items()}


# --------------------------------------------------------------------------- extract source

def extract_source(run: EntityRun, window: RunWindow) -> dict[str, Any]:
    """Records changed in the window, mapped to HubSpot values, into the source snapshot;
    for each child mapping, the items of those records into the child's snapshot."""
    mapping, source, warehouse = run.mapping, run.source, run.warehouse
    spec = mapping.source
    resource = spec.resource or spec.table or ""
    for unit in run.units():
        warehouse.start_run(unit.entity, run.run_id, window.start, window.end,
                            full_refresh=window.full_refresh, dry_run=run.dry_run)
    records = list(source.extract(resource, window.start, window.end, spec.changed_at))
    # Parents whose children referenced records not yet in HubSpot are read again, so the
    # children follow as soon as their references exist (not only when the parent changes).
    seen = {str(r.get(spec.id)) for r in records}
    retry = {p["source_id"] for unit in run.units()
             for p in warehouse.pending_associations(unit.entity)
             if p["to_entity"] in {q.id_of for q in unit.mapping.properties if q.id_of}} - seen
    if retry:
        records += list(source.get_many(resource, sorted(retry)).values())
    contexts = _with_lookups(source, records, mapping.lookups)
    parents = _snapshot(run, [(str(r.get(spec.id)), r, c) for r, c in
                              zip(records, contexts, strict=True)], window)
    summary = {"extracted": len(parents), "window": window.as_dict(), "children": {}}
    skipped = dict(zip(parents["source_id"], parents["skip_reason"], strict=True)) \
        if len(parents) else {}
    for unit, child in zip(run.units()[1:], mapping.children, strict=True):
        items = []
        for record, context in zip(records, contexts, strict=True):
            parent_id = str(record.get(spec.id))
            for item in get_path(record, child.explode) or []:
                item_context = {**context, "item": item}
                items.append((render_template(child.id, item_context) or "", item_context,
                              parent_id))
        item_contexts = _with_lookups(source, [c for _, c, _ in items], child.lookups)
        frame = _snapshot(unit, [(sid, ctx, ctx) for (sid, _, _), ctx in
                                 zip(items, item_contexts, strict=True)], window,
                          parents=[p for _, _, p in items], parent_skips=skipped)
        summary["children"][unit.entity] = {"extracted": len(frame)}
    return summary


def _snapshot(run: EntityRun, rows_in: list[tuple[str, dict, dict]], window: RunWindow, *,
              parents: list[str] | None = None,
              parent_skips: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Map (source id, record, context) triples and store them as the unit's source snapshot."""
    import pandas as pd

    mapping, warehouse = run.mapping, run.warehouse
    changed_at = mapping.source.changed_at
    rows = []
    for i, (source_id, record, context) in enumerate(rows_in):
        mapped = map_record(source_id, context, mapping.properties)
        skip = _filter_reason(mapping, record) or mapped.skip_reason
        links = {a.via: _link(get_path(record, a.via)) for a in mapping.associations
                 if a.via != PARENT_LINK}
        if parents is not None:
            links[PARENT_LINK] = parents[i]
            if parent_skips and parent_skips.get(parents[i]):
                skip = skip or f"its {run.parent.entity if run.parent else 'parent'} " \
                               f"{parents[i]} is skipped"
        rows.append({
            "source_id": source_id,
            "changed_at": _as_utc(record.get(changed_at)) if changed_at else None,
            "properties": mapped.properties, "skip_reason": skip,
            "problems": [list(p) for p in mapped.problems],
            "raw": record if parents is None else record.get("item"), "links": links,
        })
    _resolve_hubspot_ids(run, rows)
    frame = pd.DataFrame(rows, columns=["source_id", "changed_at", "properties", "skip_reason",
                                        "problems", "raw", "links"])
    # Oldest change first: when two records claim one unique value, the first keeps it.
    if len(frame):
        frame = (frame.assign(_order=frame["changed_at"].map(
                     lambda v: v.timestamp() if v else 0.0))
                 .sort_values(["_order", "source_id"], kind="stable").drop(columns="_order")
                 .drop_duplicates("source_id", keep="last").reset_index(drop=True))
    warehouse.write_source_snapshot(run.entity, run.run_id, frame)
    return frame


def _resolve_hubspot_ids(run: EntityRun, rows: list[dict[str, Any]]) -> None:
    """Replace ``id_of`` values (source ids of another entity) by that entity's HubSpot ids;
    a reference not synced yet skips the record and is remembered, so the next run retries."""
    referencing = [p for p in run.mapping.properties if p.id_of]
    if not referencing:
        return
    warehouse = run.warehouse
    waiting: list[dict[str, Any]] = []
    for prop in referencing:
        wanted = {str(r["properties"].get(prop.to)) for r in rows
                  if r["properties"].get(prop.to) is not None}
        known = warehouse.id_map(prop.id_of, wanted) if wanted else {}
        for row in rows:
            ref = row["properties"].get(prop.to)
            if ref is None:
                continue
            if str(ref) in known:
                row["properties"][prop.to] = known[str(ref)]
                continue
            row["properties"][prop.to] = None
            reason = f"{prop.to}: {prop.id_of} {ref} is not synced to HubSpot yet"
            row["skip_reason"] = row["skip_reason"] or reason
            waiting.append({"source_id": row["links"].get(PARENT_LINK, row["source_id"]),
                            "to_entity": prop.id_of, "to_source_id": str(ref), "type_id": 0,
                            "reason": reason})
    stale = [p for p in warehouse.pending_associations(run.entity)
             if p["to_entity"] in {q.id_of for q in referencing}]
    if stale:
        warehouse.clear_pending_associations(run.entity, [
            (p["source_id"], p["to_entity"], p["to_source_id"]) for p in stale])
    if waiting:
        warehouse.add_pending_associations(run.entity, run.run_id, waiting)


def _link(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("_id")
    return None if value in (None, "") else str(value)


def _filter_reason(mapping: EntityMapping, record: Mapping[str, Any]) -> str | None:
    for key, allowed in mapping.filter.items():
        value = get_path(record, key)
        if value not in allowed:
            return f"{key} {value!r} is not one of {', '.join(map(str, allowed))} (mapping filter)"
    return None


def _with_lookups(source: Source, records: list[dict], lookups: Mapping[str, Any]) -> list[dict]:
    """Each record with the records it references joined in, e.g. {company.name}."""
    if not lookups:
        return records
    joined: dict[str, dict[str, dict]] = {}
    for name, spec in lookups.items():
        ids = {str(v) for v in (get_path(r, spec.key) for r in records) if v}
        joined[name] = source.get_many(spec.resource, sorted(ids)) if ids else {}
    out = []
    for record in records:
        context = dict(record)
        for name, spec in lookups.items():
            key = get_path(record, spec.key)
            context[name] = joined[name].get(str(key)) if key else None
        out.append(context)
    return out


# --------------------------------------------------------------------------- extract HubSpot

def extract_hubspot(run: EntityRun, definitions: Mapping[str, dict]) -> dict[str, Any]:
    """HubSpot's current side of exactly the extracted records (or of the whole object in a
    full refresh): by the id property first, then by the match keys for records never synced."""
    import pandas as pd

    mapping, hook, warehouse = run.mapping, run.hook, run.warehouse
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    prefix = mapping.hubspot.id_prefix
    source = warehouse.read_source_snapshot(run.entity, run.run_id)
    names = [p.to for p in mapping.properties]
    # Properties a dry run only plans to create cannot be read yet.
    wanted_props = [n for n in [*names, id_property]
                    if not (definitions.get(n) or {}).get("planned")]

    def source_id_of(record: dict) -> str | None:
        value = (record.get("properties") or {}).get(id_property)
        if value and value.startswith(prefix):
            return value[len(prefix):]
        return None

    found: dict[str, tuple[str, str, dict]] = {}  # source_id -> (hubspot_id, matched_by, props)
    if run.full_refresh:
        for record in hook.list_objects(obj, wanted_props):
            sid = source_id_of(record)
            if sid is not None:
                found[sid] = (str(record["id"]), id_property, record["properties"])
    elif len(source) and not (definitions.get(id_property) or {}).get("planned"):
        ids = [mapping.source_id_value(s) for s in source["source_id"]]
        for record in hook.batch_read(obj, ids, wanted_props, id_property=id_property):
            sid = source_id_of(record)
            if sid is not None:
                found[sid] = (str(record["id"]), id_property, record["properties"])

    if run.parent is not None and not run.full_refresh and len(source):
        found.update(_existing_children(run, source, wanted_props, source_id_of))

    # Adopt records HubSpot already has under a natural key (email, domain): never duplicate.
    owner_of: dict[str, str] = {}
    candidates = source[~source["source_id"].isin(list(found))] if len(source) else source
    for key in mapping.hubspot.match_on:
        if not len(candidates):
            break
        key_of = {}
        for row in candidates.itertuples():
            value = (row.properties or {}).get(key)
            if isinstance(value, str) and value.strip():
                key_of.setdefault(value.strip().lower(), row.source_id)
        if not key_of:
            continue
        for record in hook.batch_read(obj, sorted(key_of), wanted_props, id_property=key):
            value = str((record.get("properties") or {}).get(key) or "").strip().lower()
            sid = key_of.get(value)
            if sid is None or sid in found:
                continue
            found[sid] = (str(record["id"]), key, record["properties"])
            owner = (record.get("properties") or {}).get(id_property)
            if owner:
                owner_of[str(record["id"])] = owner
        candidates = candidates[~candidates["source_id"].isin(list(found))]

    associations = _current_associations(run, {hid for hid, _, _ in found.values()})
    rows = []
    for sid, (hubspot_id, matched_by, props) in found.items():
        props = dict(props or {})
        props[ASSOCIATIONS_KEY] = associations.get(hubspot_id, {})
        rows.append({"source_id": sid, "hubspot_id": hubspot_id, "matched_by": matched_by,
                     "properties": props})
    frame = pd.DataFrame(rows, columns=["source_id", "hubspot_id", "matched_by", "properties"])
    warehouse.write_hubspot_snapshot(run.entity, run.run_id, frame)
    return {"found": len(frame),
            "adopted_by_match_key": int((frame["matched_by"] != id_property).sum())
            if len(frame) else 0,
            "owner_of": owner_of, "api_calls": run.api_calls()}


def _existing_children(run: EntityRun, source: pd.DataFrame, properties: list[str],
                       source_id_of: Any) -> dict[str, tuple[str, str, dict]]:
    """The children HubSpot has today under this run's parents (a deal's line items), so an
    entry removed from the parent's list shows up as an orphan to archive."""
    parent = run.parent
    assert parent is not None
    parent_ids = {(links or {}).get(PARENT_LINK) for links in source["links"]} - {None}
    parent_hubspot = run.warehouse.id_map(parent.entity, parent_ids)
    if not parent_hubspot:
        return {}
    linked = run.hook.read_associations(parent.mapping.hubspot.object, run.mapping.hubspot.object,
                                        sorted(set(parent_hubspot.values())))
    child_ids = sorted({str(c) for ids in linked.values() for c in ids})
    found = {}
    for record in run.hook.batch_read(run.mapping.hubspot.object, child_ids, properties) \
            if child_ids else []:
        sid = source_id_of(record)
        if sid is not None:  # only children this sync created; others are left alone
            found[sid] = (str(record["id"]), run.mapping.hubspot.id_property,
                          record["properties"])
    return found


def _current_associations(run: EntityRun, hubspot_ids: set[str]) -> dict[str, dict[str, list]]:
    """hubspot id -> {target object: [associated ids]} for each association the mapping makes."""
    out: dict[str, dict[str, list]] = defaultdict(dict)
    if not hubspot_ids:
        return out
    targets = {run.target_mapping(a.to).hubspot.object for a in run.mapping.associations}
    for target in sorted(targets):
        for hid, to_ids in run.hook.read_associations(run.mapping.hubspot.object, target,
                                                      sorted(hubspot_ids)).items():
            out[str(hid)][target] = sorted({str(t) for t in to_ids})
    return out


# --------------------------------------------------------------------------- delta

def compute_delta(run: EntityRun, definitions: Mapping[str, dict],
                  owner_of: Mapping[str, str] | None = None) -> dict[str, Any]:
    from hubspot_sync import delta as deltas

    warehouse = run.warehouse
    source = warehouse.read_source_snapshot(run.entity, run.run_id)
    hubspot = warehouse.read_hubspot_snapshot(run.entity, run.run_id)
    types = {name: d.get("type") for name, d in definitions.items()}
    frame = deltas.compute_delta(source, hubspot, run.mapping, types,
                                 full_refresh=run.full_refresh or run.parent is not None,
                                 owner_of=owner_of or {})
    warehouse.write_delta(run.entity, run.run_id, frame)
    return deltas.summarise(frame)


# --------------------------------------------------------------------------- validate

def validate(run: EntityRun, definitions: Mapping[str, dict],
             docs_dir: Path | None = None) -> dict[str, Any]:
    """Run the mapping's GX suite on the rows about to be written; quarantine failures."""
    import pandas as pd

    from hubspot_sync.validation import validate_rows

    mapping, warehouse = run.mapping, run.warehouse
    considered = warehouse.read_delta(run.entity, run.run_id,
                                      actions=["create", "update", "unchanged", "conflict"])
    delta = considered[considered["action"] != "unchanged"] if len(considered) else considered
    source = warehouse.read_source_snapshot(run.entity, run.run_id)
    problems = dict(zip(source["source_id"], source["problems"], strict=True)) if len(source) \
        else {}
    writes = delta[delta["action"].isin(["create", "update"])] if len(delta) else delta
    names = [p.to for p in mapping.properties]
    rows = pd.DataFrame({
        "source_id": writes["source_id"].tolist() if len(writes) else [],
        "action": writes["action"].tolist() if len(writes) else [],
        "id_value": [mapping.source_id_value(s) for s in writes["source_id"]] if len(writes)
        else [],
        "problems": [[tuple(p) for p in (problems.get(s) or [])] for s in writes["source_id"]]
        if len(writes) else [],
    })
    for name in names:
        rows[name] = [(a or {}).get(name) for a in writes["after"]] if len(writes) else []
    outcome = validate_rows(rows, mapping, dict(definitions), run_id=run.run_id,
                            docs_dir=docs_dir)
    rejects = outcome.rejects.assign(source="validation")
    conflicts = delta[delta["action"] == "conflict"] if len(delta) else delta
    if len(conflicts):
        key = mapping.hubspot.match_on[0] if mapping.hubspot.match_on else None
        rejects = pd.concat([rejects, pd.DataFrame({
            "source_id": conflicts["source_id"], "rule": "match_conflict", "property": key,
            "value": [str((a or {}).get(key)) for a in conflicts["after"]],
            "reason": conflicts["reason"], "source": "validation"})], ignore_index=True)
    if len(rejects):
        warehouse.record_rejects(run.entity, run.run_id, rejects)
    # Every record checked now is explained by this run's rejects only: the earlier ones of
    # a record that passed, or now fails another rule, no longer hold.
    checked = set(rows["source_id"]) | set(conflicts["source_id"])
    if checked:
        warehouse.resolve_rejects(
            run.entity, run.run_id, checked, keep_rules=LOAD_RULES,
            still_failing=zip(rejects["source_id"], rejects["rule"], rejects["property"],
                              strict=True))
    # Every record the run considered (not only those it would write): a run where the
    # valid records are unchanged must not look like one where everything is rejected.
    total = len(considered)
    rejected = int(rejects["source_id"].nunique()) if len(rejects) else 0
    ratio = rejected / total if total else 0.0
    summary = outcome.summary()
    log.info("validation of %s rows (%s records considered): %s rejected\n%s", len(rows), total,
             rejected, summary)
    result = {"checked": len(rows), "considered": total, "rejected": rejected, "rejected_ratio": round(ratio, 4),
              "rule_counts": {**outcome.rule_counts,
                              **({"match_conflict": len(conflicts)} if len(conflicts) else {})},
              "data_docs": outcome.data_docs_path}
    if ratio > mapping.max_rejected_ratio and total >= mapping.reject_threshold_min_records:
        counts = dict(result, **{k: 0 for k in ("created", "updated", "failed")})
        warehouse.finish_run(run.entity, run.run_id, "failed", counts)
        raise RejectThresholdExceeded(
            f"{run.entity}: {rejected} of {total} records ({ratio:.1%}) failed validation, over "
            f"the mapping's max_rejected_ratio {mapping.max_rejected_ratio:.1%}; nothing of this "
            f"run is written.\n{summary}")
    return result


# --------------------------------------------------------------------------- load

def load(run: EntityRun) -> dict[str, Any]:
    """Batched writes of the validated delta; per-row outcomes; the id map follows."""
    import pandas as pd

    from hubspot_sync.delta import write_payload

    mapping, hook, warehouse = run.mapping, run.hook, run.warehouse
    if run.dry_run:
        return {"dry_run": True, "created": 0, "updated": 0, "failed": 0,
                "api_calls": run.api_calls()}
    delta = warehouse.read_delta(run.entity, run.run_id, actions=["create", "update"])
    rejected = set(warehouse.rejects_for_run(run.entity, run.run_id)["source_id"])
    held: set[str] = set()
    if run.parent is not None and len(delta):
        held = _hold_back_orphaned_children(run, delta[~delta["source_id"].isin(list(rejected))])
        rejected |= held
    delta = delta[~delta["source_id"].isin(list(rejected))] if len(delta) else delta
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    adopted = delta["matched_by"].isin(mapping.hubspot.match_on) if len(delta) else []
    outcomes: list[dict[str, Any]] = []
    pairs: list[tuple[str, str]] = []

    by_id_property = delta[~adopted] if len(delta) else delta
    if len(by_id_property):
        inputs = [{"id": mapping.source_id_value(r["source_id"]), "idProperty": id_property,
                   "properties": write_payload(r, mapping), "objectWriteTraceId": r["source_id"]}
                  for r in by_id_property.to_dict("records")]
        result = hook.batch_upsert(obj, inputs, id_property=id_property)
        actions = dict(zip(by_id_property["source_id"], by_id_property["action"], strict=True))
        prefix = mapping.hubspot.id_prefix
        for record in result.results:
            value = str((record.get("properties") or {}).get(id_property) or "")
            sid = value[len(prefix):] if value.startswith(prefix) else None
            if sid is None:
                continue
            action = "create" if record.get("new", actions.get(sid) == "create") else "update"
            outcomes.append({"source_id": sid, "hubspot_id": str(record["id"]), "action": action,
                             "status": "written", "category": None, "message": None})
            pairs.append((sid, str(record["id"])))
        outcomes += _failures(result.errors, actions)

    adopted_rows = delta[adopted] if len(delta) else delta
    if len(adopted_rows):
        inputs = [{"id": str(r["hubspot_id"]), "properties": write_payload(r, mapping),
                   "objectWriteTraceId": r["source_id"]} for r in adopted_rows.to_dict("records")]
        result = hook.batch_update(obj, inputs)
        sid_of = dict(zip(adopted_rows["hubspot_id"].astype(str), adopted_rows["source_id"],
                          strict=True))
        for record in result.results:
            sid = sid_of.get(str(record["id"]))
            if sid is None:
                continue
            outcomes.append({"source_id": sid, "hubspot_id": str(record["id"]),
                             "action": "update", "status": "written", "category": None,
                             "message": None})
            pairs.append((sid, str(record["id"])))
        outcomes += _failures(result.errors, {s: "update" for s in adopted_rows["source_id"]})

    archived = 0
    if run.parent is not None:
        # A child whose entry left its parent's list (a plan removed from a contract).
        removed = warehouse.read_delta(run.entity, run.run_id, actions=["orphan"])
        if len(removed):
            archived = hook.batch_archive(obj, [str(h) for h in removed["hubspot_id"]])
            outcomes += [{"source_id": sid, "hubspot_id": str(hid), "action": "archive",
                          "status": "written", "category": None, "message": None}
                         for sid, hid in zip(removed["source_id"], removed["hubspot_id"],
                                             strict=True)]

    frame = pd.DataFrame(outcomes, columns=["source_id", "hubspot_id", "action", "status",
                                            "category", "message"])
    warehouse.write_load_outcomes(run.entity, run.run_id, frame)
    if pairs:
        warehouse.upsert_id_map(run.entity, obj, run.run_id, pairs)
        warehouse.resolve_rejects(run.entity, run.run_id, [sid for sid, _ in pairs])
    failed = frame[frame["status"] == "failed"]
    if len(failed):
        warehouse.record_rejects(run.entity, run.run_id, pd.DataFrame({
            "source_id": failed["source_id"], "rule": "hubspot_refused",
            "property": None, "value": None,
            "reason": [f"HubSpot refused the write ({c}): {m}"
                       for c, m in zip(failed["category"], failed["message"], strict=True)],
            "source": "hubspot", "category": failed["category"]}))
    written = frame[frame["status"] == "written"]
    return {"created": int((written["action"] == "create").sum()),
            "updated": int((written["action"] == "update").sum()),
            "archived": archived, "held_back": len(held), "failed": len(failed),
            "api_calls": run.api_calls()}


def _hold_back_orphaned_children(run: EntityRun, delta: pd.DataFrame) -> set[str]:
    """Children whose parent is not in HubSpot (it was rejected or refused) wait for it; they
    are recorded with the reason rather than written without a parent."""
    import pandas as pd

    assert run.parent is not None
    source = run.warehouse.read_source_snapshot(run.entity, run.run_id)
    parent_of = {sid: (links or {}).get(PARENT_LINK)
                 for sid, links in zip(source["source_id"], source["links"], strict=True)}
    synced = run.warehouse.id_map(run.parent.entity, set(parent_of.values()) - {None})
    held = {sid for sid in delta["source_id"] if parent_of.get(sid) not in synced}
    if held:
        run.warehouse.record_rejects(run.entity, run.run_id, pd.DataFrame({
            "source_id": sorted(held), "rule": "parent_not_synced", "property": None,
            "value": [parent_of.get(s) for s in sorted(held)],
            "reason": [f"its {run.parent.entity} record {parent_of.get(s)} is not in HubSpot "
                       "(see that record's rejects); it follows once the parent is synced"
                       for s in sorted(held)],
            "source": "validation"}))
    return held


def _failures(errors: list[Any], actions: Mapping[str, str]) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        sid = error.trace_id or error.input_id
        out.append({"source_id": sid, "hubspot_id": None, "action": actions.get(sid, "update"),
                    "status": "failed", "category": error.category, "message": error.message})
    return out


# --------------------------------------------------------------------------- associate

def associate(run: EntityRun) -> dict[str, Any]:
    """Make the mapping's associations for the records of this run (and those waiting from
    earlier runs); a target not synced yet waits in pending_associations for the next run."""
    mapping, hook, warehouse = run.mapping, run.hook, run.warehouse
    if run.dry_run or not mapping.associations:
        return {"associated": 0, "pending": 0, "api_calls": 0}
    source = warehouse.read_source_snapshot(run.entity, run.run_id)
    hubspot = warehouse.read_hubspot_snapshot(run.entity, run.run_id)
    rejected = set(warehouse.rejects_for_run(run.entity, run.run_id)["source_id"])
    current = {r["source_id"]: (r["properties"] or {}).get(ASSOCIATIONS_KEY, {})
               for r in hubspot.to_dict("records")} if len(hubspot) else {}
    wanted: list[dict[str, Any]] = []
    for row in source.to_dict("records") if len(source) else []:
        if row["skip_reason"] or row["source_id"] in rejected:
            continue
        for assoc in mapping.associations:
            target = (row.get("links") or {}).get(assoc.via)
            if target:
                wanted.append({"source_id": row["source_id"], "to_entity": assoc.to,
                               "to_source_id": target, "assoc": assoc})
    # One entry per pair: a pending pair this run also wants keeps its pending mark, so it
    # is cleared once made (and is not counted twice while it still waits).
    by_pair = {(w["source_id"], w["to_entity"], w["to_source_id"]): w for w in wanted}
    for pending in warehouse.pending_associations(run.entity):
        assoc = next((a for a in mapping.associations if a.to == pending["to_entity"]), None)
        if assoc is not None:
            key = (pending["source_id"], pending["to_entity"], pending["to_source_id"])
            by_pair[key] = {**pending, "assoc": assoc, "pending": True}
    wanted = list(by_pair.values())

    own_ids = warehouse.id_map(run.entity, {w["source_id"] for w in wanted})
    by_target: dict[str, dict[str, str]] = {}
    for entity in {w["to_entity"] for w in wanted}:
        by_target[entity] = warehouse.id_map(entity, {w["to_source_id"] for w in wanted
                                                      if w["to_entity"] == entity})
    batches: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    waiting, done_pending = [], []
    wanted_by_pair: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    for w in wanted:
        target_mapping = run.target_mapping(w["to_entity"])
        to_object = target_mapping.hubspot.object
        from_id = own_ids.get(w["source_id"])
        to_id = by_target[w["to_entity"]].get(w["to_source_id"])
        if not from_id or not to_id:
            missing = "this record" if not from_id else f"{w['to_entity']} {w['to_source_id']}"
            waiting.append({"source_id": w["source_id"], "to_entity": w["to_entity"],
                            "to_source_id": w["to_source_id"],
                            "type_id": _type_id(run, w["assoc"], to_object),
                            "reason": f"{missing} is not synced to HubSpot yet"})
            continue
        if w.get("pending"):
            done_pending.append(w)
        if to_id in (current.get(w["source_id"], {}).get(to_object) or []):
            continue  # already there: a re-run writes nothing
        type_id = _type_id(run, w["assoc"], to_object)
        batches[(to_object, type_id)].append((from_id, to_id))
        wanted_by_pair[(to_object, type_id, from_id, to_id)] = w
    associated, failed = 0, 0
    for (to_object, type_id), pairs in sorted(batches.items()):
        pairs = sorted(set(pairs))
        result = hook.associate(mapping.hubspot.object, to_object, pairs, type_id)
        associated += len(pairs) - len(result.errors)
        failed += len(result.errors)
        # A pair HubSpot refused waits with HubSpot's reason and is tried again next run.
        for error in result.errors:
            from_id, _, to_id = str(error.input_id or "").partition(":")
            w = wanted_by_pair.get((to_object, type_id, from_id, to_id))
            if w is not None:
                waiting.append({"source_id": w["source_id"], "to_entity": w["to_entity"],
                                "to_source_id": w["to_source_id"], "type_id": type_id,
                                "reason": f"HubSpot refused the association "
                                          f"({error.category}): {error.message}"})
                if w in done_pending:
                    done_pending.remove(w)
    if waiting:
        warehouse.add_pending_associations(run.entity, run.run_id, waiting)
    if done_pending:
        warehouse.clear_pending_associations(run.entity, [
            (w["source_id"], w["to_entity"], w["to_source_id"]) for w in done_pending])
    return {"associated": associated, "pending": len(waiting), "failed_associations": failed,
            "api_calls": run.api_calls()}


def _type_id(run: EntityRun, assoc: Any, to_object: str) -> int:
    return association_type_id(run.mapping.hubspot.object, to_object, assoc.type, assoc.type_id)


# --------------------------------------------------------------------------- report

def report(run: EntityRun, steps: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """Counts of one unit's run to sync_runs and the task log; returns them for XCom."""
    warehouse = run.warehouse
    extract = steps.get("extract_source") or {}
    delta = steps.get("compute_delta") or {}
    validation = steps.get("validate") or {}
    loaded = steps.get("load") or {}
    associated = steps.get("associate") or {}
    counts = {
        "extracted": int(extract.get("extracted", 0)),
        "created": int(loaded.get("created", 0)),
        "updated": int(loaded.get("updated", 0)),
        "unchanged": int(delta.get("unchanged", 0)),
        "skipped": int(delta.get("skipped", 0)),
        "rejected": int(validation.get("rejected", 0)) + int(loaded.get("held_back", 0)),
        "failed": int(loaded.get("failed", 0)),
        "api_calls": int(steps.get("api_calls") or 0),
    }
    if loaded.get("archived"):
        counts["archived"] = int(loaded["archived"])
    if run.dry_run:
        counts["planned_creates"] = int(delta.get("create", 0))
        counts["planned_updates"] = int(delta.get("update", 0))
    details = {"window": steps.get("window"), "dry_run": run.dry_run,
               "data_docs": validation.get("data_docs"),
               "rule_counts": validation.get("rule_counts"),
               "conflicts": int(delta.get("conflict", 0)), "orphans": int(delta.get("orphan", 0)),
               "pending_associations": associated.get("pending", 0),
               "associated": associated.get("associated", 0)}
    warehouse.finish_run(run.entity, run.run_id, "success", {**counts, "details": details})
    log.info("%s run %s\n%s", run.entity, run.run_id, format_counts(counts))
    return {**counts, **details}


def format_counts(counts: Mapping[str, Any]) -> str:
    """A small aligned table for the task log."""
    width = max(len(k) for k in counts)
    lines = [f"{'count'.ljust(width)}  value", f"{'-' * width}  -----"]
    lines += [f"{k.ljust(width)}  {v}" for k, v in counts.items()]
    return "\n".join(lines)


# --------------------------------------------------------------------------- task bodies
# One function per DAG task: each runs its step for the entity, then for each child
# (a contract's line items), and returns {"units": {entity: summary}, "api_calls": n}.

def _each(run: EntityRun, step: Any, *per_unit: Mapping[str, Any] | None,
          **kwargs: Any) -> dict[str, Any]:
    units = {}
    for unit in run.units():
        args = [(p or {}).get("units", {}).get(unit.entity) or {} for p in per_unit]
        units[unit.entity] = step(unit, *args, **kwargs)
    return {"units": units, "api_calls": run.api_calls()}


def task_ensure_properties(run: EntityRun) -> dict[str, Any]:
    return _each(run, ensure_properties)


def task_extract_hubspot(run: EntityRun, properties: Mapping[str, Any]) -> dict[str, Any]:
    return _each(run, lambda unit, defs: extract_hubspot(unit, defs.get("definitions", {})),
                 properties)


def task_compute_delta(run: EntityRun, properties: Mapping[str, Any],
                       hubspot_side: Mapping[str, Any]) -> dict[str, Any]:
    return _each(run, lambda unit, defs, side: compute_delta(
        unit, defs.get("definitions", {}), side.get("owner_of")), properties, hubspot_side)


def task_validate(run: EntityRun, properties: Mapping[str, Any],
                  docs_dir: Path | None) -> dict[str, Any]:
    return _each(run, lambda unit, defs: validate(unit, defs.get("definitions", {}),
                                                  docs_dir=docs_dir), properties)


def task_load(run: EntityRun) -> dict[str, Any]:
    return _each(run, load)


def task_associate(run: EntityRun) -> dict[str, Any]:
    return _each(run, associate)


def task_report(run: EntityRun, steps: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """One sync_runs row per unit; the entity's row carries the run's HubSpot calls."""
    extracted = steps.get("extract_source") or {}
    calls = sum(int((s or {}).get("api_calls") or 0) for s in steps.values())
    out: dict[str, Any] = {}
    for unit in run.units():
        unit_steps: dict[str, Any] = {
            name: ((s or {}).get("units") or {}).get(unit.entity) for name, s in steps.items()}
        unit_steps["extract_source"] = (extracted if unit.parent is None
                                        else extracted.get("children", {}).get(unit.entity))
        unit_steps["window"] = extracted.get("window")
        unit_steps["api_calls"] = calls if unit.parent is None else 0
        out[unit.entity] = report(unit, unit_steps)
    return {**out[run.entity], "children": {k: v for k, v in out.items() if k != run.entity}}

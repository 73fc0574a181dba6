"""Step ``extract_hubspot``: HubSpot's current side of exactly the extracted records (or of
the whole object in a full refresh): by the id property first, then by the mapping's match
keys (email, domain) for records never synced, so an existing record is adopted, never
duplicated. API calls grow with the change, not with the size of the portal.

A unique key (a contact's email) held by another source record's HubSpot record is a
conflict; a shared one (a company's domain) adopts one HubSpot record for one source record
and the others are created, with a warning (``match_warnings``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hubspot_sync.gc_pause import paused_gc
from hubspot_sync.mapping import EntityMapping
from hubspot_sync.progress import Progress
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.steps.ledger_rules import TYPES_KEY

log = logging.getLogger(__name__)

ASSOCIATIONS_KEY = "_associations"  # reserved key of a HubSpot snapshot row (not a property name)

# source_id -> (hubspot_id, matched_by, properties)
Found = dict[str, tuple[str, str, dict]]


def source_id_of(record: Mapping[str, Any], id_property: str, prefix: str) -> str | None:
    """The source id a HubSpot record carries in the id property (None: not ours)."""
    value = (record.get("properties") or {}).get(id_property)
    if value and value.startswith(prefix):
        return value[len(prefix):]
    return None


def by_id_property(records: Iterable[Mapping[str, Any]], id_property: str,
                   prefix: str) -> Found:
    found: Found = {}
    for record in records:
        sid = source_id_of(record, id_property, prefix)
        if sid is not None:
            found[sid] = (str(record["id"]), id_property, record["properties"])
    return found


def key_groups(candidates: Iterable[tuple[str, Mapping[str, Any] | None]],
               key: str) -> dict[str, list[str]]:
    """Normalised match-key value -> the candidates (source id, properties) having it, in
    order (the snapshot's: oldest change first)."""
    groups: dict[str, list[str]] = {}
    for source_id, properties in candidates:
        value = (properties or {}).get(key)
        if isinstance(value, str) and value.strip():
            groups.setdefault(value.strip().lower(), []).append(source_id)
    return groups


def match_key_values(candidates: Iterable[tuple[str, Mapping[str, Any] | None]],
                     key: str) -> dict[str, str]:
    """Normalised match-key value -> the first candidate (source id, properties) having it."""
    return {value: ids[0] for value, ids in key_groups(candidates, key).items()}


def unique_match_keys(mapping: EntityMapping, definitions: Mapping[str, dict]) -> set[str]:
    """The match keys HubSpot keeps unique (a contact's email, a hasUniqueValue property): a
    value claimed by another source record's HubSpot record is a conflict. Other keys (a
    company's domain: HubSpot does not deduplicate companies by it) may be shared."""
    from hubspot_sync.validation.plan import HUBSPOT_UNIQUE

    fixed = HUBSPOT_UNIQUE.get(mapping.hubspot.object, frozenset())
    return {key for key in mapping.hubspot.match_on
            if key in fixed or (definitions.get(key) or {}).get("hasUniqueValue")}


def adopt(records: Iterable[Mapping[str, Any]], key: str, key_of: Mapping[str, str],
          found: Found, id_property: str) -> dict[str, str]:
    """Adopt HubSpot records found by a match key into ``found`` (a source id found earlier
    keeps its record); returns hubspot id -> the id-property value it already carries."""
    owner_of: dict[str, str] = {}
    for record in records:
        value = str((record.get("properties") or {}).get(key) or "").strip().lower()
        sid = key_of.get(value)
        if sid is None or sid in found:
            continue
        found[sid] = (str(record["id"]), key, record["properties"])
        owner = (record.get("properties") or {}).get(id_property)
        if owner:
            owner_of[str(record["id"])] = owner
    return owner_of


def adopt_shared(records: Iterable[Mapping[str, Any]], key: str,
                 groups: Mapping[str, list[str]], found: Found, id_property: str,
                 id_value: Callable[[str], str], obj: str) -> dict[str, str]:
    """Adoption by a key HubSpot does not keep unique (a company's domain), one HubSpot
    record for one source record: per value, a HubSpot record carrying a source record's
    id value is that record's; one carrying none is adopted by the first source record with
    the value. The others are created, each with a warning naming who has the HubSpot
    record (never a conflict: HubSpot takes a second record with the value). A source id
    found earlier keeps its record. Returns source id -> warning."""
    by_value: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        value = str((record.get("properties") or {}).get(key) or "").strip().lower()
        by_value.setdefault(value, []).append(record)
    warnings: dict[str, str] = {}
    for value, ids in groups.items():
        waiting = [sid for sid in ids if sid not in found]
        holders: list[str] = []
        for record in by_value.get(value, []):
            hid, props = str(record["id"]), record.get("properties") or {}
            owner = props.get(id_property)
            mine = next((sid for sid in waiting if owner and owner == id_value(sid)), None)
            if mine is None and not owner and waiting:
                mine = waiting[0]
            if mine is None:
                holders.append(f"HubSpot {obj} {hid} is synced from {owner}")
                continue
            found[mine] = (hid, key, dict(props))
            waiting.remove(mine)
            holders.append(f"HubSpot {obj} {hid} was adopted by {mine}")
        if holders:
            for sid in waiting:
                warnings[sid] = (f"{key} {value!r} is shared: {'; '.join(holders)}; this record "
                                 f"is created as a separate record (HubSpot does not "
                                 f"deduplicate {obj} by {key})")
    return warnings


@paused_gc()  # millions of acyclic objects at scale: see hubspot_sync.gc_pause
def extract_hubspot(run: EntityRun, definitions: Mapping[str, dict]) -> dict[str, Any]:
    """Read HubSpot's side into the HubSpot snapshot; counts and ``owner_of`` for the delta."""
    import pandas as pd

    from hubspot_sync.hubspot_client.reads import BATCH_SIZE

    mapping, hook, warehouse = run.mapping, run.hook, run.warehouse
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    prefix = mapping.hubspot.id_prefix
    source = warehouse.read_source_snapshot(run.entity, run.run_id,
                                            columns=("source_id", "properties"))
    names = [p.to for p in mapping.properties]
    # Properties a dry run only plans to create cannot be read yet.
    wanted_props = [n for n in [*names, id_property]
                    if not (definitions.get(n) or {}).get("planned")]

    label = f"{run.entity} extract_hubspot"
    found: Found = {}
    if run.full_refresh:
        progress = Progress(label, unit="page")
        found = by_id_property(hook.list_objects(obj, wanted_props, progress=progress),
                               id_property, prefix)
        progress.done()
    elif len(source) and not (definitions.get(id_property) or {}).get("planned"):
        ids = [mapping.source_id_value(s) for s in source["source_id"]]
        progress = Progress.batched(label, [len(set(ids))], BATCH_SIZE)
        found = by_id_property(hook.batch_read(obj, ids, wanted_props, id_property=id_property,
                                               progress=progress), id_property, prefix)
        progress.done()

    if run.parent is not None and not run.full_refresh:
        found.update(_existing_children(run, wanted_props))
    dropped: dict[str, str] = {}
    if not (definitions.get(id_property) or {}).get("planned"):
        if run.full_refresh and run.parent is None:
            # Pairs the rebuild drops (HubSpot lists no record with their id any more):
            # check_hubspot_deletions tells a person's delete or merge from the rest.
            dropped = {s: h for s, h in run.warehouse.id_map(run.entity).items()
                       if s not in found}
        refresh_id_map(run, found)

    owner_of: dict[str, str] = {}
    warnings: dict[str, str] = {}
    unique = unique_match_keys(mapping, definitions)
    candidates = source[~source["source_id"].isin(list(found))] if len(source) else source
    for key in mapping.hubspot.match_on:
        if not len(candidates):
            break
        groups = key_groups(zip(candidates["source_id"], candidates["properties"],
                                strict=True), key)
        if not groups:
            continue
        progress = Progress.batched(f"{label} by {key}", [len(groups)], BATCH_SIZE)
        records = hook.batch_read(obj, sorted(groups), wanted_props, id_property=key,
                                  progress=progress)
        progress.done()
        if key in unique:
            owner_of.update(adopt(records, key, {v: ids[0] for v, ids in groups.items()},
                                  found, id_property))
        else:
            warnings.update(adopt_shared(records, key, groups, found, id_property,
                                         mapping.source_id_value, obj))
        candidates = candidates[~candidates["source_id"].isin(list(found))]
    warnings = {sid: text for sid, text in warnings.items() if sid not in found}

    associations, types = _current_associations(run, {hid for hid, _, _ in found.values()})
    # Column by column, each record's properties completed in place (its own dict, read for
    # this run only): no copy of a million property dicts, no row dict per record.
    columns: dict[str, list[Any]] = {"source_id": [], "hubspot_id": [], "matched_by": [],
                                     "properties": []}
    for sid, (hubspot_id, matched_by, props) in found.items():
        props = props if type(props) is dict else dict(props or {})
        props[ASSOCIATIONS_KEY] = associations.get(hubspot_id, {})
        props[TYPES_KEY] = types.get(hubspot_id, {})
        columns["source_id"].append(sid)
        columns["hubspot_id"].append(hubspot_id)
        columns["matched_by"].append(matched_by)
        columns["properties"].append(props)
    del found
    frame = pd.DataFrame(columns, columns=list(columns), dtype=object)
    warehouse.write_hubspot_snapshot(run.entity, run.run_id, frame)
    return {"found": len(frame),
            "adopted_by_match_key": int((frame["matched_by"] != id_property).sum())
            if len(frame) else 0,
            "owner_of": owner_of, "match_warnings": warnings, "api_calls": run.api_calls(),
            "dropped_from_id_map": dropped}


def refresh_id_map(run: EntityRun, found: Found) -> int:
    """HubSpot's own answer (records found by the id property) heals the id map, dry runs
    included (it records HubSpot's state, not a write): a write HubSpot applied but the
    warehouse never recorded (a worker killed mid-load) is mapped now, and a full refresh,
    which read the whole object, rebuilds the map to exactly that answer (a lost or migrated
    warehouse recovers). Returns the pairs written."""
    id_property, obj = run.mapping.hubspot.id_property, run.mapping.hubspot.object
    pairs = {sid: hid for sid, (hid, matched_by, _) in found.items()
             if matched_by == id_property}
    if run.full_refresh:
        return run.warehouse.replace_id_map(run.entity, obj, run.run_id, pairs.items())
    known = run.warehouse.id_map(run.entity, pairs) if pairs else {}
    healed = [(sid, hid) for sid, hid in pairs.items() if known.get(sid) != hid]
    if not healed:
        return 0
    log.info("%s: %d id map pairs taken from HubSpot's answer (missing or different in the "
             "warehouse)", run.entity, len(healed))
    return run.warehouse.upsert_id_map(run.entity, obj, run.run_id, healed)


def _existing_children(run: EntityRun, properties: list[str]) -> Found:
    """The children HubSpot has today under this run's parents (a deal's line items), so an
    entry removed from the parent's list shows up as an orphan to archive. The parents are
    those the run extracted, with or without items: a contract whose list became empty
    has no item rows, and its line items must still be found."""
    parent = run.parent
    assert parent is not None
    parents = run.warehouse.read_source_snapshot(parent.entity, run.run_id)
    parent_ids = {sid for sid, skip in zip(parents["source_id"], parents["skip_reason"],
                                           strict=True)
                  if not (isinstance(skip, str) and skip)} if len(parents) else set()
    parent_hubspot = run.warehouse.id_map(parent.entity, parent_ids)
    if not parent_hubspot:
        return {}
    linked = run.hook.read_associations(parent.mapping.hubspot.object, run.mapping.hubspot.object,
                                        sorted(set(parent_hubspot.values())))
    child_ids = sorted({str(c) for ids in linked.values() for c in ids})
    if not child_ids:
        return {}
    # Only children this sync created (they carry the id property); others are left alone.
    return by_id_property(run.hook.batch_read(run.mapping.hubspot.object, child_ids, properties),
                          run.mapping.hubspot.id_property, run.mapping.hubspot.id_prefix)


def _current_associations(run: EntityRun, hubspot_ids: set[str]
                          ) -> tuple[dict[str, dict[str, list]], dict[str, dict[str, dict]]]:
    """For each association the mapping makes: hubspot id -> {target object: [associated
    ids]}, and hubspot id -> {target object: {associated id: [type ids]}} (the ledger's
    rules tell the sync's types from people's by them)."""
    out: dict[str, dict[str, list]] = defaultdict(dict)
    types: dict[str, dict[str, dict]] = defaultdict(dict)
    if not hubspot_ids:
        return out, types
    targets = {run.target_mapping(a.to).hubspot.object for a in run.mapping.associations}
    for target in sorted(targets):
        for hid, to_types in run.hook.read_association_types(
                run.mapping.hubspot.object, target, sorted(hubspot_ids)).items():
            out[str(hid)][target] = sorted(str(t) for t in to_types)
            types[str(hid)][target] = {str(t): sorted(v) for t, v in to_types.items()}
    return out, types

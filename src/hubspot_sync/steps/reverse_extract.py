"""Step ``extract_hubspot_changes``: what people changed in HubSpot during the run's window.

HubSpot records of the entity's object modified in the same window as the forward
extraction (search on the last-modified property, keyset pages; a full refresh lists the
object), split three ways:

- records the sync links to a source record (they carry the id property). One whose
  reverse properties all equal the baseline changed nothing the sync maps (it is most
  often the sync's own write coming back: no echo) and is dropped here, before any
  OfficeRnD read. For the rest that are not in this run's source snapshot, OfficeRnD's
  current record is read (``source.get_many``) and mapped like the forward direction does,
  so reconcile compares both sides in one form;
- records without the id property that ``reverse_create`` accepts (a deal in a mapped
  stage): candidates the ``write_officernd`` step creates in OfficeRnD;
- records without the id property that it does not accept yet (a deal in an unmapped
  stage): counted as waiting, with the reason.

For conflict candidates under ``latest_wins`` (both sides differ from the baseline and
from each other) HubSpot's property history gives the time of each side's change (50
records a call). The output is small on purpose: only reverse properties travel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.progress import Progress
from hubspot_sync.steps.context import EntityRun, RunWindow, instant

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

WAITING_REASON = "waiting for a mapped stage"
# Reverse-creation waits are listed in the output up to this many (all are counted).
LISTED = 50

Normalise = Callable[[str, Any], str | None]


def hubspot_types(definitions: Mapping[str, dict]) -> dict[str, str]:
    return {name: str(d["type"]) for name, d in definitions.items() if d.get("type")}


def normaliser_for(definitions: Mapping[str, dict]) -> Normalise:
    """``norm(property, value)``: the forward delta's normal form of a value by the
    property's HubSpot type (both sides are compared in it)."""
    from hubspot_sync.steps.delta_frame import normaliser

    types = hubspot_types(definitions)
    return lambda name, value: normaliser(types.get(name))(value)


def reverse_names(mapping: EntityMapping) -> list[str]:
    return [p.to for p in mapping.reverse_properties()]


def source_heads(mapping: EntityMapping) -> list[str]:
    """The top-level OfficeRnD fields the reverse properties write (``address`` of
    ``address.street``, ``status`` of ``status_record.description``): the part of the
    current record a PUT body is built from."""
    heads: dict[str, None] = {}
    for prop in mapping.reverse_properties():
        head = (prop.from_ or "").split(".")[0]
        lookup = mapping.lookups.get(head)
        heads[lookup.key if lookup is not None else head] = None
    return [h for h in heads if h]


def window_of(extract_source: Mapping[str, Any]) -> RunWindow:
    """The run's window, as extract_source resolved it (one window for both directions)."""
    w = extract_source.get("window") or {}
    return RunWindow(instant(w.get("start")), instant(w.get("end")),
                     bool(w.get("full_refresh")), str(w.get("why") or ""))


def baselines(run: EntityRun, source_ids: Iterable[str]) -> dict[str, dict[str, str | None]]:
    """source id -> property -> the last value both sides agreed on (absent: none yet)."""
    ids = sorted(set(source_ids))
    if not ids:
        return {}
    frame = run.warehouse.read_baseline(run.entity, ids)
    out: dict[str, dict[str, str | None]] = {}
    for sid, prop, value in zip(frame["source_id"], frame["property"], frame["value"],
                                strict=True):
        out.setdefault(str(sid), {})[str(prop)] = None if value is None else str(value)
    return out


def pending_values(run: EntityRun, source_ids: Iterable[str]
                   ) -> tuple[dict[str, dict[str, str | None]], dict[str, dict[str, str | None]]]:
    """(baselines, pending): like :func:`baselines`, plus source id -> property -> the value
    a write sent whose outcome is unknown (absent: none pending)."""
    ids = sorted(set(source_ids))
    base: dict[str, dict[str, str | None]] = {}
    pending: dict[str, dict[str, str | None]] = {}
    if not ids:
        return base, pending
    frame = run.warehouse.read_baseline_pending(run.entity, ids)
    for sid, prop, value, has_value, waiting, has_pending in zip(
            frame["source_id"], frame["property"], frame["value"], frame["has_value"],
            frame["pending_value"], frame["has_pending"], strict=True):
        if has_value:
            base.setdefault(str(sid), {})[str(prop)] = None if value is None else str(value)
        if has_pending:
            pending.setdefault(str(sid), {})[str(prop)] = (None if waiting is None
                                                          else str(waiting))
    return base, pending


def officernd_sides(run: EntityRun, records: Mapping[str, dict], norm: Normalise
                    ) -> dict[str, dict[str, Any]]:
    """OfficeRnD records (source id -> record) in the forward form: the reverse properties'
    values, the record's change time and the top-level fields a PUT is built from."""
    from hubspot_sync.steps.extract import snapshot_rows, with_lookups

    mapping = run.mapping
    ids = list(records)
    contexts = with_lookups(run.source, [records[i] for i in ids], mapping.lookups)
    rows = snapshot_rows(run, [(sid, records[sid], ctx)
                               for sid, ctx in zip(ids, contexts, strict=True)])
    heads = source_heads(mapping)
    out = {}
    for sid, row in zip(ids, rows, strict=True):
        changed = row["changed_at"]
        out[sid] = {"properties": {n: norm(n, row["properties"].get(n))
                                   for n in reverse_names(mapping)},
                    "changed_at": changed.isoformat() if isinstance(changed, datetime)
                    else None,
                    "current": {h: records[sid].get(h) for h in heads},
                    "skip_reason": row["skip_reason"]}
    return out


def snapshot_sides(source: pd.DataFrame, names: list[str], norm: Normalise
                   ) -> dict[str, dict[str, Any]]:
    """The source snapshot's records in the same shape as :func:`officernd_sides`."""
    out: dict[str, dict[str, Any]] = {}
    if not len(source):
        return out
    for sid, props, changed, raw, skip in zip(source["source_id"], source["properties"],
                                              source["changed_at"], source["raw"],
                                              source["skip_reason"], strict=True):
        props = props if isinstance(props, Mapping) else {}
        out[str(sid)] = {"properties": {n: norm(n, props.get(n)) for n in names},
                         "changed_at": changed.isoformat() if isinstance(changed, datetime)
                         else None, "current": raw if isinstance(raw, Mapping) else {},
                         "skip_reason": skip if isinstance(skip, str) and skip else None}
    return out


def needs_history(rules: Mapping[str, str], officernd: Mapping[str, str | None],
                  hubspot: Mapping[str, str | None], baseline: Mapping[str, str | None] | None
                  ) -> list[str]:
    """The latest_wins properties of one record that are a conflict (both sides changed,
    differently): only they need HubSpot's change time."""
    out = []
    for name, rule in rules.items():
        o, h = officernd.get(name), hubspot.get(name)
        if rule != "latest_wins" or o == h:
            continue
        if baseline is None or name not in baseline:
            if o is not None and h is not None:
                out.append(name)
        elif o != baseline[name] and h != baseline[name]:
            out.append(name)
    return out


def extract_hubspot_changes(run: EntityRun, definitions: Mapping[str, dict],
                            extract_source: Mapping[str, Any]) -> dict[str, Any]:
    """Read HubSpot's changes of the run's window; see the module docstring."""
    from hubspot_sync.hubspot_client.changes import changed_at

    mapping, hook = run.mapping, run.hook
    obj, id_property = mapping.hubspot.object, mapping.hubspot.id_property
    prefix = mapping.hubspot.id_prefix
    norm = normaliser_for(definitions)
    names = reverse_names(mapping)
    window = window_of(extract_source)
    wanted = [n for n in dict.fromkeys([*(p.to for p in mapping.properties), id_property])
              if not (definitions.get(n) or {}).get("planned")]
    progress = Progress(f"{run.entity} extract_hubspot_changes", unit="record")
    start, end = (None, None) if window.full_refresh else (window.start, window.end)
    read = list(hook.modified_between(obj, start, end, wanted, progress=progress))
    progress.done()

    ours: dict[str, dict[str, Any]] = {}
    creates, waiting = [], []
    when = mapping.reverse_create.when if mapping.reverse_create else None
    known = _known_values(mapping, when.property) if when else []
    for record in read:
        props = record.get("properties") or {}
        value = props.get(id_property)
        if value and str(value).startswith(prefix):
            ours[str(value)[len(prefix):]] = {
                "hubspot_id": str(record["id"]),
                "properties": {n: norm(n, props.get(n)) for n in names}}
        elif not value and when is not None:
            candidate = {"hubspot_id": str(record["id"]),
                         "properties": {n: norm(n, props.get(n)) for n in wanted}}
            if when.matches(norm(when.property, props.get(when.property)), known):
                creates.append(candidate)
            else:
                waiting.append({"hubspot_id": candidate["hubspot_id"],
                                "value": props.get(when.property), "reason": WAITING_REASON})

    source = run.warehouse.read_source_snapshot(run.entity, run.run_id)
    in_snapshot = snapshot_sides(source, names, norm)
    base, pending = pending_values(run, [*ours, *in_snapshot])
    # A record whose mapped values all equal the baseline (or a pending value: a write whose
    # answer was lost) changed nothing the sync maps in HubSpot (most often it is the sync's
    # own write read back): nothing to read for it. A property without a baseline counts as
    # agreed on no value (the forward create did not send a blank one): HubSpot's blank
    # there is no edit either.
    echoes = {sid for sid, c in ours.items() if sid not in in_snapshot
              and all(c["properties"][name] == base.get(sid, {}).get(name)
                      or (name in pending.get(sid, {})
                          and c["properties"][name] == pending[sid][name])
                      for name in names)}
    to_read = sorted(sid for sid in ours if sid not in in_snapshot and sid not in echoes)
    resource = mapping.source.resource or mapping.source.table or ""
    found = run.source.get_many(resource, to_read) if to_read else {}
    officernd = officernd_sides(run, found, norm) if found else {}

    rules = {p.to: mapping.conflict_of(p) for p in mapping.reverse_properties()
             if mapping.direction_of(p) == "both"}
    hubspot_of = {sid: dict(row) for sid, row in _snapshot_hubspot(run, names, norm).items()}
    hubspot_of.update({sid: c["properties"] for sid, c in ours.items()})
    hubspot_ids = {**_snapshot_hubspot_ids(run), **{s: c["hubspot_id"] for s, c in ours.items()}}
    sides = {**in_snapshot, **officernd}
    candidates: dict[str, list[str]] = {}
    for sid, side in sides.items():
        if sid in hubspot_of and sid in hubspot_ids:
            props = needs_history(rules, side["properties"], hubspot_of[sid], base.get(sid))
            if props:
                candidates[hubspot_ids[sid]] = props
    history: dict[str, dict[str, str | None]] = {}
    if candidates:
        by_id = {hid: sid for sid, hid in hubspot_ids.items()}
        wanted_history = sorted({p for props in candidates.values() for p in props})
        for hid, props in hook.read_with_history(obj, sorted(candidates),
                                                 wanted_history).items():
            when_changed = {p: changed_at(entries) for p, entries in props.items()}
            history[by_id[hid]] = {p: t.isoformat() if t else None
                                   for p, t in when_changed.items()}
    unit = {"window": window.as_dict(), "read": len(read), "changed": ours,
            "echoes": len(echoes), "officernd": officernd,
            "gone": sorted(set(to_read) - set(found)), "history": history,
            "creates": creates, "waiting": len(waiting), "waiting_list": waiting[:LISTED]}
    return {"units": {run.entity: unit}, "api_calls": run.api_calls()}


def _known_values(mapping: EntityMapping, name: str) -> list[str]:
    """The HubSpot values a property's value map gives (a stage map's stages)."""
    prop = next((p for p in mapping.properties if p.to == name), None)
    if prop is None or not prop.value_map:
        return []
    return [str(v).strip() for v in prop.value_map.values() if v not in (None, "")]


def _snapshot_hubspot(run: EntityRun, names: list[str], norm: Normalise
                      ) -> dict[str, dict[str, str | None]]:
    frame = run.warehouse.read_hubspot_snapshot(run.entity, run.run_id)
    if not len(frame):
        return {}
    return {str(sid): {n: norm(n, (props or {}).get(n)) for n in names}
            for sid, props in zip(frame["source_id"], frame["properties"], strict=True)}


def _snapshot_hubspot_ids(run: EntityRun) -> dict[str, str]:
    frame = run.warehouse.read_hubspot_snapshot(run.entity, run.run_id)
    if not len(frame):
        return {}
    return {str(s): str(h) for s, h in zip(frame["source_id"], frame["hubspot_id"],
                                           strict=True)}

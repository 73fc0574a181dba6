"""Step ``extract_source``: the records changed in the run's window, mapped to HubSpot
values, into the source snapshot; for each child mapping (a contract's line items), the
items of those records into the child's snapshot.

Before anything is stored, :mod:`hubspot_sync.steps.screen` rejects malformed records
(no usable id, an unreadable change time, invalid text) with a reason, and fails the run on
a mapped source field no record has.

A reference to another entity's record (``id_of``) that is not in HubSpot yet skips the
record; the snapshot row names what it waits for under ``links[WAITING_KEY]`` and the
``associate`` step (owner of ``pending_associations``) queues it for the next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubspot_sync.gc_pause import paused_gc
from hubspot_sync.mapping import PARENT_LINK, EntityMapping, PropertySpec
from hubspot_sync.records import Reject
from hubspot_sync.steps import lookup_refresh, screen
from hubspot_sync.steps import rejects as reject_book
from hubspot_sync.steps.context import EntityRun, instant
from hubspot_sync.transforms import get_path, map_record, render_template
from hubspot_sync.values import is_missing

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from hubspot_sync.sources.base import Source

# links key of a snapshot row: the references (id_of) it waits for, as dicts with
# to_entity, to_source_id and reason.
WAITING_KEY = "_waiting_for"
SNAPSHOT_COLUMNS = ["source_id", "changed_at", "properties", "skip_reason", "problems", "raw",
                    "links"]


@paused_gc()  # millions of acyclic objects at scale: see hubspot_sync.gc_pause
def extract_source(run: EntityRun) -> dict[str, Any]:
    """Extract, screen, map and store the run's records (and their children); counts per
    unit. Nothing is stored before every unit is screened (:mod:`.screen`): a malformed
    record is rejected with its reason, a mapped field no record has fails the run."""
    mapping, source, warehouse = run.mapping, run.source, run.warehouse
    window = run.resolve_window()
    spec = mapping.source
    resource = spec.resource or spec.table or ""
    for unit in run.units():
        warehouse.start_run(unit.entity, run.run_id, window.start, window.end,
                            full_refresh=window.full_refresh, dry_run=run.dry_run)
    records = list(source.extract(resource, window.start, window.end, spec.changed_at))
    # Parents whose children referenced records not yet in HubSpot are read again, so the
    # children follow as soon as their references exist (not only when the parent changes).
    retry = set().union(*(retry_ids(warehouse.pending_associations(unit.entity),
                                    unit.mapping.properties) for unit in run.units()))
    # Records whose last write has an unknown outcome, or that wait for a key value another
    # record has released, are read again: no change waits for the record's next edit.
    retry |= reject_book.to_reread(run)
    retry |= set().union(*(reject_book.parents_to_reread(unit) for unit in run.units()[1:]))
    # Records whose looked-up record changed (a renamed plan) follow it at once.
    retry |= lookup_refresh.changed_records(run, window)
    retry -= {str(r.get(spec.id)) for r in records}
    if retry:
        records += list(source.get_many(resource, sorted(retry)).values())
    screened = screen.screen_records(records, mapping)
    contexts = with_lookups(source, [r for _, r in screened.passed], mapping.lookups)
    screen.check_fields(mapping, contexts)
    parents = _unit_rows(run, [(sid, r, c) for (sid, r), c in
                               zip(screened.passed, contexts, strict=True)])
    parents.rejects[:0] = screened.rejects
    batches = [parents]
    skipped = {row["source_id"]: row["skip_reason"] for row in parents.rows}
    kept = [(sid, c) for (sid, _), c in zip(screened.passed, contexts, strict=True)
            if sid in skipped]  # a parent rejected now takes its children with it
    for unit, child in zip(run.units()[1:], mapping.children, strict=True):
        items, rejects = [], []
        for parent_id, context in kept:
            for item in get_path(context, child.explode) or []:
                item_context = {**context, "item": item}
                sid = render_template(child.id, item_context)
                problem = screen.child_id_problem(child.id, item_context, sid, unit.entity)
                if problem:
                    rejects.append(screen.reject(screen.digest_key(item_context),
                                                 screen.RULE_SOURCE_ID, "id", sid, problem))
                else:
                    items.append((str(sid), item_context, parent_id))
        item_contexts = with_lookups(source, [c for _, c, _ in items], child.lookups)
        screen.check_fields(unit.mapping, item_contexts)
        batch = _unit_rows(unit, [(sid, ctx, ctx) for (sid, _, _), ctx in
                                  zip(items, item_contexts, strict=True)],
                           parents=[p for _, _, p in items], parent_skips=skipped)
        batch.rejects[:0] = rejects
        batches.append(batch)
    units = {}
    for unit, batch in zip(run.units(), batches, strict=True):
        frame = ordered_snapshot(batch.rows)
        warehouse.write_source_snapshot(unit.entity, run.run_id, frame)
        reject_book.record_extracted(unit, batch.rejects, frame["source_id"],
                                     full_refresh=window.full_refresh)
        rejected = len({r["source_id"] for r in batch.rejects})
        units[unit.entity] = {"extracted": len(frame) + rejected, "rejected": rejected}
    return {"units": units, "window": window.as_dict()}


@dataclass
class UnitRows:
    """One unit's snapshot rows and the rejects of the records left out."""

    rows: list[dict[str, Any]]
    rejects: list[Reject] = field(default_factory=list)


def retry_ids(pending: Iterable[Mapping[str, Any]], properties: Iterable[PropertySpec]) -> set[str]:
    """Source ids whose records wait for a reference (``id_of``) to be synced."""
    referenced = {p.id_of for p in properties if p.id_of}
    return {p["source_id"] for p in pending if p["to_entity"] in referenced}


def snapshot_rows(run: EntityRun, rows_in: list[tuple[str, dict, dict]], *,
                  parents: list[str] | None = None,
                  parent_skips: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """(source id, record, context) triples mapped into snapshot rows (no I/O)."""
    mapping = run.mapping
    changed_at = mapping.source.changed_at
    rows = []
    refs = lookup_refresh.references(mapping, [context for _, _, context in rows_in])
    for i, (source_id, record, context) in enumerate(rows_in):
        mapped = map_record(source_id, context, mapping.properties)
        skip = filter_reason(mapping, record) or mapped.skip_reason
        links: dict[str, Any] = {a.via: link(get_path(record, a.via))
                                 for a in mapping.associations if a.via != PARENT_LINK}
        if refs[i]:  # which looked-up records (and their fields) this row used
            links[lookup_refresh.REFS_KEY] = refs[i]
        if parents is not None:
            links[PARENT_LINK] = parents[i]
            if parent_skips and parent_skips.get(parents[i]):
                skip = skip or f"its {run.parent.entity if run.parent else 'parent'} " \
                               f"{parents[i]} is skipped"
        rows.append({
            "source_id": source_id,
            "changed_at": instant(record.get(changed_at)) if changed_at else None,
            "properties": mapped.properties, "skip_reason": skip,
            "problems": [list(p) for p in mapped.problems],
            "raw": record if parents is None else record.get("item"), "links": links,
        })
    return rows


def _unit_rows(run: EntityRun, rows_in: list[tuple[str, dict, dict]], *,
               parents: list[str] | None = None,
               parent_skips: Mapping[str, Any] | None = None) -> UnitRows:
    """Map the triples, resolve their references; a row with a value that cannot be stored
    becomes a reject."""
    rows = snapshot_rows(run, rows_in, parents=parents, parent_skips=parent_skips)
    referencing = [p for p in run.mapping.properties if p.id_of]
    if referencing:
        known = {p.to: run.warehouse.id_map(p.id_of, ids)
                 for p in referencing if p.id_of and (ids := referenced_ids(rows, p))}
        resolve_references(rows, referencing, known)
    kept, rejects = screen.unstorable_values(rows)
    return UnitRows(kept, rejects)


def ordered_snapshot(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per source id, oldest change first: when two records claim one unique value,
    the first keeps it; a source id extracted twice keeps its latest row."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)
    if len(frame):
        frame = (frame.assign(_order=frame["changed_at"].map(
                     lambda v: 0.0 if is_missing(v) else v.timestamp()))
                 .sort_values(["_order", "source_id"], kind="stable").drop(columns="_order")
                 .drop_duplicates("source_id", keep="last").reset_index(drop=True))
    return frame


def referenced_ids(rows: Iterable[Mapping[str, Any]], prop: PropertySpec) -> set[str]:
    return {str(r["properties"].get(prop.to)) for r in rows
            if r["properties"].get(prop.to) is not None}


def resolve_references(rows: list[dict[str, Any]], referencing: Iterable[PropertySpec],
                       known: Mapping[str, Mapping[str, str]]) -> None:
    """Replace ``id_of`` values (source ids of another entity) by that entity's HubSpot ids
    (``known``: property -> source id -> HubSpot id); a reference not synced yet skips the
    record and is noted under ``links[WAITING_KEY]``."""
    for prop in referencing:
        ids = known.get(prop.to, {})
        for row in rows:
            ref = row["properties"].get(prop.to)
            if ref is None:
                continue
            if str(ref) in ids:
                row["properties"][prop.to] = ids[str(ref)]
                continue
            row["properties"][prop.to] = None
            reason = f"{prop.to}: {prop.id_of} {ref} is not synced to HubSpot yet"
            row["skip_reason"] = row["skip_reason"] or reason
            row["links"].setdefault(WAITING_KEY, []).append(
                {"to_entity": prop.id_of, "to_source_id": str(ref), "reason": reason})


def link(value: Any) -> str | None:
    """The source id a link field holds (a bare id, or a nested record's ``_id``)."""
    if isinstance(value, Mapping):
        value = value.get("_id")
    return None if value in (None, "") else str(value)


def filter_reason(mapping: EntityMapping, record: Mapping[str, Any]) -> str | None:
    for key, allowed in mapping.filter.items():
        value = get_path(record, key)
        if value not in allowed:
            return f"{key} {value!r} is not one of {', '.join(map(str, allowed))} (mapping filter)"
    return None


def with_lookups(source: Source, records: list[dict], lookups: Mapping[str, Any]) -> list[dict]:
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
        keys = dict(record.get(lookup_refresh.JOIN_KEYS) or {})
        for name, spec in lookups.items():
            key = get_path(record, spec.key)
            context[name] = joined[name].get(str(key)) if key else None
            keys[name] = None if key in (None, "") else str(key)
        context[lookup_refresh.JOIN_KEYS] = keys
        out.append(context)
    return out

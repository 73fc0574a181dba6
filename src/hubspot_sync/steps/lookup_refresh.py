"""Records that show a looked-up record's fields follow it at once: a line item's name is
its plan's name, a deal's name its company's. A record is extracted when *it* changes; this
module also brings in the records whose looked-up record changed since they were written.

For each lookup of a mapping (``lookups:`` of the entity and of its children) with
``refresh: true`` (the default), ``lookup_refs`` remembers which looked-up record each
synced record used and a digest of the fields the mapping reads from it (``{plan.name}``).
At extract, the looked-up records changed in the run's window (or all of them, for a
resource without a change filter, like plans) are compared with those digests; the records
whose digest differs are read again, so their delta writes only what changed. The
references are remembered at the end of ``load`` (never by a dry run, nor for a record that
was rejected or failed), so a run that fails before writing does not lose the change.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from hubspot_sync.mapping import PARENT_LINK, EntityMapping, load_mappings
from hubspot_sync.steps.context import EntityRun, RunWindow
from hubspot_sync.transforms import get_path, template_fields

log = logging.getLogger(__name__)

REFS_KEY = "_lookups"  # snapshot links: {lookup name: [looked-up id, digest]}
# A record's context keeps the ids it joined its lookups on: a lookup named as its key field
# (``company: {key: company}``) replaces the id with the looked-up record itself.
JOIN_KEYS = "_lookup_keys"


def lookup_fields(mapping: EntityMapping, name: str) -> list[str]:
    """The fields of lookup ``name`` the mapping's properties read (``{plan.name}`` ->
    ``name``), sorted; empty when no property reads it."""
    prefix = f"{name}."
    paths: set[str] = set()
    for prop in mapping.properties:
        used = [prop.from_] if prop.from_ else template_fields(prop.template or "")
        used += list(prop.when or {})
        paths |= {p[len(prefix):] for p in used if p and p.startswith(prefix)}
    return sorted(paths)


def digest(record: Mapping[str, Any] | None, fields: list[str]) -> str:
    """A short stable digest of the fields a mapping reads from a looked-up record."""
    values = [get_path(record or {}, f) for f in fields]
    text = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def refreshed(mapping: EntityMapping) -> dict[str, list[str]]:
    """Lookup name -> the fields read, for the lookups whose changes records follow."""
    out = {}
    for name, spec in mapping.lookups.items():
        fields = lookup_fields(mapping, name)
        if spec.refresh and fields:
            out[name] = fields
    return out


def references(mapping: EntityMapping, contexts: Iterable[Mapping[str, Any]]) -> list[dict]:
    """{lookup name: [looked-up id, digest]} of each context (a record with its lookups
    joined), to be stored in the snapshot's links."""
    follow = refreshed(mapping)
    out = []
    for context in contexts:
        refs = {}
        for name, fields in follow.items():
            key = joined_key(context, name, mapping.lookups[name].key)
            if key is not None:
                refs[name] = [str(key), digest(context.get(name), fields)]
        out.append(refs)
    return out


def joined_key(context: Mapping[str, Any], name: str, key_path: str) -> str | None:
    """The id lookup ``name`` was joined on: kept by the join, else read from the context
    (a joined record in its place gives its ``_id``)."""
    joined = context.get(JOIN_KEYS)
    key = joined.get(name) if isinstance(joined, Mapping) and name in joined else get_path(
        context, key_path)
    if isinstance(key, Mapping):
        key = key.get("_id")
    return None if key in (None, "") else str(key)


def changed_records(run: EntityRun, window: RunWindow) -> set[str]:
    """Source ids of the run's entity whose records (or children) used a looked-up record
    that changed since: they are read again this run."""
    if window.full_refresh or window.start is None:
        return set()  # every record is read anyway
    out: set[str] = set()
    fetched: dict[str, dict[str, dict]] = {}
    for unit in run.units():
        for name, fields in refreshed(unit.mapping).items():
            resource = unit.mapping.lookups[name].resource
            if resource not in fetched:
                fetched[resource] = _changed_lookups(run, resource, window)
            candidates = fetched[resource]
            if not candidates:
                continue
            for ref in run.warehouse.lookup_refs(unit.entity, name, candidates):
                if digest(candidates.get(str(ref["lookup_id"])), fields) != ref["digest"]:
                    out.add(str(ref["parent_source_id"]))
    if out:
        log.info("%s: %d records read again: a record they look up changed", run.entity,
                 len(out))
    return out


def _changed_lookups(run: EntityRun, resource: str, window: RunWindow) -> dict[str, dict]:
    """The records of ``resource`` changed in the window (all of them when the resource has
    no change filter: its entity's mapping says ``changed_at: null``, or it has none)."""
    if not run.mappings:
        run.mappings = load_mappings().mappings
    spec = next((m.source for m in run.mappings.values() if m.source.resource == resource),
                None)
    changed_at = spec.changed_at if spec is not None else None
    records = (run.source.extract(resource, window.start, window.end, changed_at)
               if changed_at else run.source.extract(resource, None, None, None))
    return {str(r.get("_id")): r for r in records if r.get("_id") is not None}


def remember(run: EntityRun, skip: set[str]) -> int:
    """After load: the references of the records this run extracted become the ones later
    runs compare with (``skip``: records rejected or failed: they keep the old ones)."""
    if not refreshed(run.mapping):
        return 0
    source = run.warehouse.read_source_snapshot(run.entity, run.run_id)
    if not len(source):
        return 0
    rows, parents, held = [], set(), set()
    for sid, links in zip(source["source_id"], source["links"], strict=True):
        links = links or {}
        parent = str(links.get(PARENT_LINK) or sid)
        parents.add(parent)
        if sid in skip:
            held.add(parent)  # its (and its siblings') old references stay: read again
        for name, (lookup_id, dig) in (links.get(REFS_KEY) or {}).items():
            rows.append({"source_id": sid, "parent_source_id": parent, "lookup": name,
                         "lookup_id": lookup_id, "digest": dig})
    if run.parent is not None:
        # A parent whose list emptied has no rows now: its old references go too.
        parent_rows = run.warehouse.read_source_snapshot(run.parent.entity, run.run_id)
        parents |= {str(p) for p in parent_rows["source_id"]} if len(parent_rows) else set()
    return run.warehouse.write_lookup_refs(
        run.entity, run.run_id, parents - held,
        [r for r in rows if r["parent_source_id"] not in held])

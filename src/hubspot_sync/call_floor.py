"""The call floor of an entity run: the fewest HubSpot calls the work it had to do allows.

Floor = sum over each kind of batch call of ceil(records of that kind / records a call
takes): reads (by the id property, then by each match key for records not found, the
current associations of the records found, and the state of delete candidates the run did
not extract), writes (upserts by the id property, updates by HubSpot id, delete flags,
archives, timeline notes) and association batches (made and removed). Kinds are counted
apart because each is its own endpoint; that is never more than the issue's pooled formula
``ceil(reads / 100) + ceil(writes / 100) + association batches`` plus one per kind.

The counts come from what the run recorded (its snapshots, delta, load outcomes and step
outputs), never from the calls it made, so ``calls / floor`` measures the calls spent
above the work. Schema checks, pipeline reads and retries are not work: they are above it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.steps.context import EntityRun

BATCH_SIZE = 100  # inputs per CRM v3 batch call and per associations v4 batch/create
ASSOCIATION_READ_SIZE = 1000  # inputs per associations v4 batch/read
SEARCH_PAGE = 200  # records per search page
HISTORY_BATCH = 50  # batch/read inputs per call with propertiesWithHistory


def batches(records: int, size: int = BATCH_SIZE) -> int:
    """Calls needed for ``records`` inputs at ``size`` a call (0 for none)."""
    return math.ceil(records / size) if records > 0 else 0


@dataclass
class RunWork:
    """What one entity run had to do against HubSpot, in records per kind of batch call."""

    id_lookups: int = 0  # records looked up by the id property
    key_lookups: dict[str, int] = field(default_factory=dict)  # match key -> distinct values
    listed: int = 0  # a full refresh: records paged from the object's list
    association_reads: dict[str, int] = field(default_factory=dict)  # target -> records
    delete_reads: int = 0  # delete candidates the run did not extract, read by HubSpot id
    # Two-way: records people changed in HubSpot in the window (a search, at least one page
    # even when nothing changed: that answer needs one call), then their property history.
    change_searches: int | None = None  # None: the entity is one-way
    history_reads: int = 0
    upserts: int = 0  # batch/upsert by the id property
    updates: int = 0  # batch/update by HubSpot id (records adopted by a match key)
    flags: int = 0  # delete / filter-exit flags (batch/update)
    archives: int = 0  # batch/archive
    notes: int = 0  # timeline notes (batch/create)
    association_writes: int = 0  # associations v4 batch/create inputs
    association_removals: int = 0  # associations v4 batch/archive inputs

    def calls(self) -> dict[str, int]:
        """The floor per kind of call (kinds with no work left out)."""
        out = {"id_lookups": batches(self.id_lookups), "listed": batches(self.listed)}
        if self.change_searches is not None:
            out["change_search"] = max(1, batches(self.change_searches, SEARCH_PAGE))
        out["history_reads"] = batches(self.history_reads, HISTORY_BATCH)
        out.update({f"lookup_by_{k}": batches(n) for k, n in self.key_lookups.items()})
        out.update({f"associations_read_{t}": batches(n, ASSOCIATION_READ_SIZE)
                    for t, n in self.association_reads.items()})
        for name in ("delete_reads", "upserts", "updates", "flags", "archives", "notes",
                     "association_writes", "association_removals"):
            out[name] = batches(getattr(self, name))
        return {k: v for k, v in out.items() if v}

    def floor(self) -> int:
        return sum(self.calls().values())


def match_key_lookups(source_rows: list[tuple[str, Mapping[str, Any] | None]],
                      matched_by: Mapping[str, str], id_property: str,
                      match_on: list[str]) -> dict[str, int]:
    """Distinct values looked up per match key, in the order extract_hubspot asks: a key
    is asked for the records found neither by the id property nor by an earlier key, and
    only for those with a non-empty value (compared trimmed and lower-cased)."""
    out: dict[str, int] = {}
    done = {id_property}
    for key in match_on:
        values = {str(props[key]).strip().lower() for sid, props in source_rows
                  if matched_by.get(sid) not in done and props
                  and isinstance(props.get(key), str) and props[key].strip()}
        if values:
            out[key] = len(values)
        done.add(key)
    return out


def run_work(run: EntityRun, outputs: Mapping[str, Mapping[str, Any] | None]) -> RunWork:
    """The work of ``run`` from its warehouse rows and its steps' outputs (``run_steps``)."""
    from hubspot_sync.steps.hubspot_deletes import MATCHED_BY_HUBSPOT_ID

    mapping, wh = run.mapping, run.warehouse
    out = {name: own_output(run.entity, value) for name, value in outputs.items()}
    work = RunWork()
    source = wh.read_source_snapshot(run.entity, run.run_id)
    hubspot = wh.read_hubspot_snapshot(run.entity, run.run_id)
    id_property = mapping.hubspot.id_property
    planned = (out.get("ensure_properties", {}).get("definitions", {})
               .get(id_property, {}).get("planned"))
    matched = dict(zip(hubspot["source_id"], hubspot["matched_by"], strict=True)) \
        if len(hubspot) else {}
    if run.full_refresh:
        work.listed = len(hubspot)
    elif len(source) and not planned:
        work.id_lookups = int(source["source_id"].nunique())
    rows = list(zip(source["source_id"], source["properties"], strict=True)) if len(source) \
        else []
    work.key_lookups = match_key_lookups(rows, matched, id_property,
                                         list(mapping.hubspot.match_on))
    if len(hubspot) and mapping.associations:
        targets = {run.target_mapping(a.to).hubspot.object for a in mapping.associations}
        work.association_reads = {t: int(hubspot["hubspot_id"].nunique()) for t in targets}

    outcomes = wh.read_load_outcomes(run.entity, run.run_id)
    if len(outcomes):
        delta = wh.read_delta(run.entity, run.run_id, actions=["create", "update"])
        by = dict(zip(delta["source_id"], delta["matched_by"], strict=True)) if len(delta) \
            else {}
        adopted = {*mapping.hubspot.match_on, MATCHED_BY_HUBSPOT_ID}
        for sid, action in zip(outcomes["source_id"], outcomes["action"], strict=True):
            if action == "archive":
                work.archives += 1
            elif by.get(sid) in adopted:
                work.updates += 1
            else:
                work.upserts += 1

    deletes = out.get("deletes", {})
    work.flags = int(deletes.get("flagged") or 0) + int(deletes.get("failed") or 0)
    work.archives += int(deletes.get("archived") or 0)
    candidates = int(deletes.get("planned") or 0) + sum(
        int(v) for v in (deletes.get("skipped") or {}).values())
    exits = _filter_exits(run, source) if candidates else 0
    work.delete_reads = max(0, candidates - exits)

    if "extract_hubspot_changes" in out:
        changes = out["extract_hubspot_changes"]
        work.change_searches = int(changes.get("read") or 0)
        work.history_reads = len(changes.get("history") or {})

    counts = out.get("timeline", {}).get("counts") or {}
    work.notes = sum(int(counts.get(k) or 0) for k in ("written", "refused", "unknown"))
    associate = out.get("associate", {})
    work.association_writes = int(associate.get("associated") or 0) + int(
        associate.get("failed_associations") or 0)
    work.association_removals = int(associate.get("removed_associations") or 0)
    return work


def own_output(entity: str, output: Mapping[str, Any] | None) -> dict[str, Any]:
    """A step's output for ``entity`` (steps of a run with children key theirs by entity
    under ``units``)."""
    output = dict(output or {})
    units = output.get("units")
    if isinstance(units, Mapping) and isinstance(units.get(entity), Mapping):
        return {**output, **units[entity]}
    return output


def _filter_exits(run: EntityRun, source: Any) -> int:
    """Delete candidates the run extracted (records that left the filter): their HubSpot
    side was read by extract_hubspot already."""
    from hubspot_sync.steps.deletes import filter_exits

    rows = source.to_dict("records")
    synced = run.warehouse.id_map(run.entity, {r["source_id"] for r in rows})
    return len(filter_exits(run.mapping, rows, synced))

"""Step ``reconcile``: both sides seen before either is written.

For every record of the union of this run's source snapshot and the HubSpot records
people changed in the window (``extract_hubspot_changes``), and every property that may
flow to OfficeRnD (``both``, ``to_officernd``), :func:`hubspot_sync.two_way.resolve.decide`
compares OfficeRnD's value, HubSpot's value and the baseline (the last value both sides
agreed on) and says which way the value goes, if any. The decisions go to the warehouse
(``two_way_decisions``): ``compute_delta`` holds back the forward writes they forbid,
``write_officernd`` sends the reverse ones, ``load`` and ``write_officernd`` move the
baseline. A conflict (both sides changed, differently) is recorded with both values, both
change times, the rule and the winner; nothing is overwritten silently.

Records that exist on one side only (not in HubSpot yet, or deleted in OfficeRnD) and
records the mapping filters out are not decided: the forward direction owns them.
A dry run records the decisions (the run's plan) but no conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubspot_sync.steps.context import EntityRun, instant
from hubspot_sync.steps.reverse_extract import (
    _snapshot_hubspot,
    _snapshot_hubspot_ids,
    normaliser_for,
    pending_values,
    reverse_names,
    snapshot_sides,
)

DECISION_COLUMNS = ["source_id", "hubspot_id", "property", "to_hubspot", "to_officernd",
                    "value", "agreed"]
# The dry-run plan lists this many reverse writes (all are counted).
PLAN_LISTED = 50


def reconcile(run: EntityRun, definitions: Mapping[str, dict],
              changes: Mapping[str, Any]) -> dict[str, Any]:
    """Decide every reverse property of every record both sides have; see the module."""
    import pandas as pd

    from hubspot_sync.two_way.resolve import Side, decide

    mapping = run.mapping
    norm = normaliser_for(definitions)
    names = reverse_names(mapping)
    source = run.warehouse.read_source_snapshot(run.entity, run.run_id)
    officernd = {**(changes.get("officernd") or {}), **snapshot_sides(source, names, norm)}
    # Only HubSpot records that carry this record's id property are its own: a record found
    # by a match key (an email another member's contact holds, a match conflict) is never
    # reconciled, or another person's values would flow back onto this record.
    owned = _owned_by_id_property(run)
    hubspot = {sid: side for sid, side in _snapshot_hubspot(run, names, norm).items()
               if sid in owned}
    hubspot_ids = {sid: hid for sid, hid in _snapshot_hubspot_ids(run).items() if sid in owned}
    for sid, change in (changes.get("changed") or {}).items():
        hubspot[sid] = dict(change["properties"])
        hubspot_ids[sid] = change["hubspot_id"]
    history = changes.get("history") or {}
    union = sorted(sid for sid, side in officernd.items()
                   if sid in hubspot and sid in hubspot_ids and not side.get("skip_reason"))
    base, pending = pending_values(run, union)
    props = mapping.reverse_properties()
    rows: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    counts = {"decided": len(union), "to_hubspot": 0, "to_officernd": 0, "agreed": 0}
    reverse_records: set[str] = set()
    for sid in union:
        o_side, h_side = officernd[sid], hubspot[sid]
        o_time = instant(o_side.get("changed_at"))
        record_base, record_pending = base.get(sid, {}), pending.get(sid, {})
        for prop in props:
            name = prop.to
            decision = decide(
                name, mapping.direction_of(prop), mapping.conflict_of(prop),
                Side(o_side["properties"].get(name), o_time),
                Side(h_side.get(name), instant((history.get(sid) or {}).get(name))),
                record_base.get(name), name in record_base,
                record_pending.get(name), name in record_pending)
            counts["to_hubspot"] += decision.to_hubspot
            counts["to_officernd"] += decision.to_officernd
            counts["agreed"] += decision.agreed
            if decision.to_officernd:
                reverse_records.add(sid)
            if decision.conflict is not None:
                conflicts.append({"source_id": sid, "hubspot_id": hubspot_ids[sid],
                                  **decision.conflict.as_row()})
            settled = decision.agreed and name in record_base \
                and record_base[name] == decision.value and name not in record_pending
            if not settled:  # an agreed value already the baseline needs no row
                rows.append({"source_id": sid, "hubspot_id": hubspot_ids[sid],
                             "property": name, "to_hubspot": decision.to_hubspot,
                             "to_officernd": decision.to_officernd,
                             "value": decision.value, "agreed": decision.agreed})
    run.warehouse.write_decisions(run.entity, run.run_id,
                                  pd.DataFrame(rows, columns=DECISION_COLUMNS))
    if conflicts and not run.dry_run:
        run.warehouse.record_conflicts(run.entity, run.run_id, conflicts)
    unit: dict[str, Any] = {**counts, "conflicts": len(conflicts),
                            "officernd_records": len(reverse_records),
                            "conflict_list": [_conflict_line(c) for c in conflicts[:PLAN_LISTED]]}
    if run.dry_run:
        unit["reverse_plan"] = [{"source_id": r["source_id"], "property": r["property"],
                                 "value": r["value"]} for r in rows
                                if r["to_officernd"]][:PLAN_LISTED]
    return {"units": {run.entity: unit}, "api_calls": run.api_calls()}


def _owned_by_id_property(run: EntityRun) -> set[str]:
    """Source ids whose HubSpot record in this run's snapshot was found by the id property
    (it is theirs), not adopted by a match key."""
    frame = run.warehouse.read_hubspot_snapshot(run.entity, run.run_id,
                                                columns=["source_id", "matched_by"])
    if not len(frame):
        return set()
    id_property = run.mapping.hubspot.id_property
    return {str(sid) for sid, how in zip(frame["source_id"], frame["matched_by"], strict=True)
            if how == id_property}


def _conflict_line(c: Mapping[str, Any]) -> str:
    """One conflict for the report: who won, by which rule, and the value that lost."""
    loser = "hubspot" if c["winner"] == "officernd" else "officernd"
    return (f"{c['source_id']} {c['property']}: {c['winner']} wins by {c['rule']} "
            f"(OfficeRnD {c['officernd_value']!r}, HubSpot {c['hubspot_value']!r}; "
            f"{loser}'s value recorded)")

"""Step ``compute_delta``: the source snapshot against HubSpot's side, classified by the
pandas rules of :mod:`hubspot_sync.steps.delta_frame`, into the warehouse's delta table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubspot_sync.gc_pause import paused_gc
from hubspot_sync.steps.context import EntityRun

# At most this many warnings go into a run's report (the delta rows keep them all).
WARNINGS_LISTED = 50


@paused_gc()  # millions of acyclic objects at scale: see hubspot_sync.gc_pause
def compute_delta(run: EntityRun, definitions: Mapping[str, dict],
                  owner_of: Mapping[str, str] | None = None,
                  warnings: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Classify every record of the run; counts per action, and the warnings (a match key
    shared by several records) of the records it creates: ``warnings`` and
    ``warning_list`` ("source id: reason", the first WARNINGS_LISTED)."""
    from hubspot_sync.steps import delta_frame

    warehouse = run.warehouse
    types = {name: str(d["type"]) for name, d in definitions.items() if d.get("type")}
    # A child's snapshot holds every item of its parents, so a missing item is an orphan.
    # Both snapshots are passed without a name here: compute_delta lets go of them once
    # normalised (decoded, they are most of the step's memory at a million records).
    frame = delta_frame.compute_delta(
        warehouse.read_source_snapshot(
            run.entity, run.run_id,
            columns=("source_id", "changed_at", "properties", "skip_reason")),
        warehouse.read_hubspot_snapshot(run.entity, run.run_id), run.mapping, types,
        full_refresh=run.full_refresh or run.parent is not None, owner_of=owner_of or {},
        warnings=warnings)
    if run.mapping.has_reverse:  # what flows to OfficeRnD instead is held back
        frame = _hold_back_reverse(run, frame)
    warehouse.write_delta(run.entity, run.run_id, frame)
    warned = [f"{sid}: {reason}" for sid, action, reason in
              zip(frame["source_id"], frame["action"], frame["reason"], strict=True)
              if action == "create" and isinstance(reason, str) and reason] if len(frame) \
        else []
    return {**delta_frame.summarise(frame), "warnings": len(warned),
            "warning_list": warned[:WARNINGS_LISTED]}


def _hold_back_reverse(run: EntityRun, frame: Any) -> Any:
    """The two-way post-processing (:mod:`hubspot_sync.two_way.delta`) with the run's
    decisions and, for fields they do not cover, the baseline."""
    from hubspot_sync.two_way import delta as two_way_delta

    decisions = two_way_delta.decision_map(run.warehouse.read_decisions(run.entity, run.run_id))
    ids = two_way_delta.needs_baseline(frame, run.mapping, decisions)
    rows = run.warehouse.read_baseline_pending(run.entity, ids) if ids else None
    baseline = two_way_delta.baseline_map(rows[rows["has_value"]] if rows is not None
                                          else None)
    return two_way_delta.hold_back_reverse(frame, run.mapping, decisions, baseline,
                                           two_way_delta.pending_map(rows))

"""Step ``compute_delta``: the source snapshot against HubSpot's side, classified by the
pandas rules of :mod:`hubspot_sync.steps.delta_frame`, into the warehouse's delta table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubspot_sync.steps.context import EntityRun


def compute_delta(run: EntityRun, definitions: Mapping[str, dict],
                  owner_of: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Classify every record of the run; counts per action."""
    from hubspot_sync.steps import delta_frame

    warehouse = run.warehouse
    source = warehouse.read_source_snapshot(run.entity, run.run_id)
    hubspot = warehouse.read_hubspot_snapshot(run.entity, run.run_id)
    types = {name: d.get("type") for name, d in definitions.items()}
    # A child's snapshot holds every item of its parents, so a missing item is an orphan.
    frame = delta_frame.compute_delta(source, hubspot, run.mapping, types,
                                      full_refresh=run.full_refresh or run.parent is not None,
                                      owner_of=owner_of or {})
    warehouse.write_delta(run.entity, run.run_id, frame)
    return delta_frame.summarise(frame)

"""The task bodies ``STEPS`` names: each runs its step for the entity, then for each child
(a contract's line items), and returns ``{"units": {entity: summary}, "api_calls": n}``;
they receive the earlier outputs they use, by step name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hubspot_sync.steps import associate as associate_step
from hubspot_sync.steps import delta, extract, hubspot_side, properties
from hubspot_sync.steps import load as load_step
from hubspot_sync.steps import report as report_step
from hubspot_sync.steps import validate as validate_step
from hubspot_sync.steps.context import EntityRun

Output = Mapping[str, Any]


def _each(run: EntityRun, step: Callable[..., dict[str, Any]],
          *per_unit: Output | None) -> dict[str, Any]:
    """``step(unit, *its share of each earlier output)`` for every unit of the run."""
    units = {}
    for unit in run.units():
        args = [(p or {}).get("units", {}).get(unit.entity) or {} for p in per_unit]
        units[unit.entity] = step(unit, *args)
    return {"units": units, "api_calls": run.api_calls()}


def _definitions(unit_properties: Output) -> dict[str, dict]:
    return dict(unit_properties.get("definitions") or {})


def ensure_properties(run: EntityRun) -> dict[str, Any]:
    return _each(run, properties.ensure_properties)


def extract_source(run: EntityRun) -> dict[str, Any]:
    return extract.extract_source(run)


def extract_hubspot(run: EntityRun, ensure_properties: Output) -> dict[str, Any]:
    return _each(run, lambda unit, props: hubspot_side.extract_hubspot(
        unit, _definitions(props)), ensure_properties)


def compute_delta(run: EntityRun, ensure_properties: Output,
                  extract_hubspot: Output) -> dict[str, Any]:
    return _each(run, lambda unit, props, side: delta.compute_delta(
        unit, _definitions(props), side.get("owner_of"), side.get("match_warnings")),
        ensure_properties, extract_hubspot)


def validate(run: EntityRun, ensure_properties: Output) -> dict[str, Any]:
    return _each(run, lambda unit, props: validate_step.validate(
        unit, _definitions(props), docs_dir=run.docs_dir), ensure_properties)


def load(run: EntityRun) -> dict[str, Any]:
    return _each(run, load_step.load)


def associate(run: EntityRun) -> dict[str, Any]:
    return _each(run, associate_step.associate)


def timeline(run: EntityRun) -> dict[str, Any]:
    # The entity's own events only (a child has no timeline of its own).
    from hubspot_sync.steps import timeline as timeline_step

    return {"units": {run.entity: timeline_step.timeline(run)}, "api_calls": run.api_calls()}


def check_hubspot_deletions(run: EntityRun, ensure_properties: Output,
                            extract_hubspot: Output) -> dict[str, Any]:
    from hubspot_sync.steps import hubspot_deletes

    return _each(run, lambda unit, props, side: hubspot_deletes.check_hubspot_deletions(
        unit, _definitions(props), side.get("dropped_from_id_map")),
        ensure_properties, extract_hubspot)


def deletes(run: EntityRun) -> dict[str, Any]:
    from hubspot_sync.steps import deletes as deletes_step

    return _each(run, deletes_step.deletes)


def report(run: EntityRun, **steps: Output) -> dict[str, Any]:
    return report_step.report(run, steps)


def extract_hubspot_changes(run: EntityRun, ensure_properties: Output,
                            extract_source: Output) -> dict[str, Any]:
    from hubspot_sync.steps import reverse_extract

    props = (ensure_properties.get("units") or {}).get(run.entity) or {}
    return reverse_extract.extract_hubspot_changes(run, _definitions(props), extract_source)


def reconcile(run: EntityRun, ensure_properties: Output,
              extract_hubspot_changes: Output) -> dict[str, Any]:
    from hubspot_sync.steps import reconcile as reconcile_step

    props = (ensure_properties.get("units") or {}).get(run.entity) or {}
    changes = (extract_hubspot_changes.get("units") or {}).get(run.entity) or {}
    return reconcile_step.reconcile(run, _definitions(props), changes)


def write_officernd(run: EntityRun, ensure_properties: Output,
                    extract_hubspot_changes: Output) -> dict[str, Any]:
    from hubspot_sync.steps import write_officernd as write_step

    props = (ensure_properties.get("units") or {}).get(run.entity) or {}
    changes = (extract_hubspot_changes.get("units") or {}).get(run.entity) or {}
    return write_step.write_officernd(run, _definitions(props), changes)

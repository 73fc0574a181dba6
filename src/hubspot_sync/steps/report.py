"""Step ``report`` and the run's status, in one place: the report step closes each unit's
``sync_runs`` row as a success with its counts; a failed task of any step closes it as
failed (:func:`mark_run_failed`, called from every task's failure callback)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hubspot_sync.steps.context import EntityRun

log = logging.getLogger(__name__)

# The counts an Asset event carries (a downstream DAG's cheapest view of a run).
ASSET_COUNTS = ("created", "updated", "rejected", "failed")


def report_counts(steps: Mapping[str, Any],
                  dry_run: bool) -> tuple[dict[str, int], dict[str, Any]]:
    """One unit's counts (sync_runs columns) and details, from its steps' summaries."""
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
    # Deletes and churn (steps/deletes.py): tombstoned records are held back like rejects.
    from hubspot_sync.steps.deletes import lifecycle_report

    life, life_details = lifecycle_report(steps.get("check_hubspot_deletions") or {},
                                          steps.get("deletes") or {}, dry_run)
    counts["rejected"] += life.get("tombstoned", 0)
    if archived := life.pop("archived", 0):
        counts["archived"] = counts.get("archived", 0) + archived
    counts.update(life)
    if dry_run:
        counts["planned_creates"] = int(delta.get("create", 0))
        counts["planned_updates"] = int(delta.get("update", 0))
    details = {"window": steps.get("window"), "dry_run": dry_run,
               "data_docs": validation.get("data_docs"),
               "rule_counts": validation.get("rule_counts"),
               "conflicts": int(delta.get("conflict", 0)), "orphans": int(delta.get("orphan", 0)),
               "warnings": int(delta.get("warnings", 0)),
               "warning_list": list(delta.get("warning_list") or []),
               "pending_associations": associated.get("pending", 0),
               "associated": associated.get("associated", 0), **life_details}
    _reverse_report(steps, counts, details)
    # Associations that followed a changed source link (steps/association_ledger.py).
    details.update({k: associated[k] for k in ("removed_associations", "kept_associations")
                    if associated.get(k)})
    return counts, details


def _reverse_report(steps: Mapping[str, Any], counts: dict[str, int],
                    details: dict[str, Any]) -> None:
    """Two-way sync's counts (only for a mapping that writes to OfficeRnD): records updated,
    created and rejected in OfficeRnD, and conflicts decided by a rule (``two_way_conflicts``:
    ``conflicts`` is the forward direction's match-key count)."""
    decided, written = steps.get("reconcile"), steps.get("write_officernd")
    if not decided and not written:
        return
    decided, written = decided or {}, written or {}
    counts.update({"officernd_updated": int(written.get("officernd_updated", 0)),
                   "officernd_created": int(written.get("officernd_created", 0)),
                   "officernd_rejected": int(written.get("officernd_rejected", 0)),
                   "two_way_conflicts": int(decided.get("conflicts", 0))})
    details["two_way"] = {
        "to_hubspot": int(decided.get("to_hubspot", 0)),
        "to_officernd": int(decided.get("to_officernd", 0)),
        "waiting_for_mapped_stage": int(written.get("waiting", 0)),
        "conflict_list": list(decided.get("conflict_list") or []),
        "reject_list": list(written.get("reject_list") or []),
        "officernd_calls": dict(written.get("officernd_calls") or {})}
    if "reverse_plan" in written:  # dry run: what would be written to OfficeRnD
        details["two_way"].update(
            reverse_plan=written["reverse_plan"],
            planned_officernd_updates=int(written.get("planned_officernd_updates", 0)),
            planned_officernd_creates=int(written.get("planned_officernd_creates", 0)))


def unit_steps(steps: Mapping[str, Mapping[str, Any] | None], entity: str,
               is_parent: bool) -> dict[str, Any]:
    """One unit's share of the task outputs: its own summaries, the run's window, and (for
    the entity, not its children, which share its hook) the run's HubSpot calls."""
    out: dict[str, Any] = {name: ((s or {}).get("units") or {}).get(entity)
                           for name, s in steps.items()}
    out["window"] = (steps.get("extract_source") or {}).get("window")
    out["api_calls"] = sum(int((s or {}).get("api_calls") or 0) for s in steps.values()) \
        if is_parent else 0
    return out


def report(run: EntityRun, steps: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """One sync_runs row per unit, closed as a success; the entity's counts (with its
    children's under ``children``) for XCom and the Asset event."""
    out: dict[str, Any] = {}
    for unit in run.units():
        counts, details = report_counts(unit_steps(steps, unit.entity, unit.parent is None),
                                        run.dry_run)
        run.warehouse.finish_run(unit.entity, run.run_id, "success",
                                 {**counts, "details": details})
        _emit_run_metrics(run, unit.entity, counts, "success")
        log.info("%s run %s\n%s", unit.entity, run.run_id, format_counts(counts))
        out[unit.entity] = {**counts, **details}
    return {**out[run.entity], "children": {k: v for k, v in out.items() if k != run.entity}}


def mark_run_failed(run: EntityRun, error: BaseException | None, step: str | None) -> None:
    """Close every unit's row of the run as failed, with the error; counts a failing step
    left on its exception (validate's over the threshold) go to its unit's row."""
    counts_of = {getattr(error, "entity", None): getattr(error, "counts", None)}
    message = f"{type(error).__name__}: {error}" if error is not None else "task failed"
    for unit in run.units():
        counts = dict(counts_of.get(unit.entity) or {})
        counts["details"] = {"error": message.splitlines()[0][:500], "failed_step": step}
        run.warehouse.finish_run(unit.entity, run.run_id, "failed", counts)
        _emit_run_metrics(run, unit.entity, counts, "failed")


def _emit_run_metrics(run: EntityRun, entity: str, counts: Mapping[str, Any],
                      status: str) -> None:
    """The finished run's counts, duration and status as Airflow metrics."""
    from hubspot_sync import metrics

    try:
        started_at = (run.warehouse.get_run(entity, run.run_id) or {}).get("started_at")
    except Exception:  # a metric never fails the run: emit without the duration
        log.warning("%s run %s: no start time for the run metric", entity, run.run_id)
        started_at = None
    metrics.emit_run(entity, counts, status, started_at)


def asset_extra(mapping_entity: str, counts: Mapping[str, Any]) -> dict[str, Any]:
    return {"entity": mapping_entity, **{k: counts[k] for k in ASSET_COUNTS}}


def format_counts(counts: Mapping[str, Any]) -> str:
    """A small aligned table for the task log."""
    width = max(len(k) for k in counts)
    lines = [f"{'count'.ljust(width)}  value", f"{'-' * width}  -----"]
    lines += [f"{k.ljust(width)}  {v}" for k, v in counts.items()]
    return "\n".join(lines)

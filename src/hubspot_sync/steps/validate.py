"""Step ``validate``: the mapping's Great Expectations suite on the rows about to be
written. Failing rows are rejected with rule, value and reason (through
:mod:`hubspot_sync.steps.rejects`) and are not sent; over the mapping's threshold the run
fails before any write. The records extraction rejected (malformed) count as rejected too.

Then the mass-clear guard: a run that would clear a property (send an empty value where
HubSpot has one) on more than ``max_cleared_ratio`` of the records it updates, and on at
least ``clear_guard_min_records`` records, stops before any write, naming the property."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hubspot_sync.gc_pause import paused_gc
from hubspot_sync.mapping import EntityMapping
from hubspot_sync.steps import rejects as reject_book
from hubspot_sync.steps.context import EntityRun, RejectThresholdExceeded, StopRun

log = logging.getLogger(__name__)


class MassClearRefused(StopRun):
    """The run would clear a property on too many of the records it updates."""

    def __init__(self, message: str, entity: str, counts: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.entity = entity
        self.counts = dict(counts)


def reject_ratio(rejected: int, considered: int) -> float:
    return rejected / considered if considered else 0.0


def over_threshold(mapping: EntityMapping, rejected: int, considered: int) -> bool:
    """Too many rejects to write any of the run: over the mapping's ratio, once the run
    considered at least ``reject_threshold_min_records`` records."""
    return (reject_ratio(rejected, considered) > mapping.max_rejected_ratio
            and considered >= mapping.reject_threshold_min_records)


def cleared_counts(updates: Iterable[Mapping[str, Any]],
                   id_property: str) -> dict[str, tuple[int, list[str]]]:
    """Per property, the update rows that would clear it (a changed field with no value to
    send where HubSpot has one): their number and the first few source ids."""
    cleared: dict[str, tuple[int, list[str]]] = {}
    for row in updates:
        after, before = row.get("after") or {}, row.get("before") or {}
        for name in row.get("changed_fields") or []:
            if name != id_property and after.get(name) is None \
                    and before.get(name) is not None:
                count, examples = cleared.get(name, (0, []))
                cleared[name] = (count + 1, examples if len(examples) >= 3
                                 else [*examples, str(row["source_id"])])
    return cleared


def mass_clears(mapping: EntityMapping, cleared: Mapping[str, tuple[int, list[str]]],
                updated: int) -> list[str]:
    """The properties the run would clear on more than ``max_cleared_ratio`` of the
    ``updated`` records and on at least ``clear_guard_min_records`` of them."""
    return [name for name, (count, _) in sorted(cleared.items())
            if count >= mapping.clear_guard_min_records
            and count > mapping.max_cleared_ratio * updated]


def mass_clear_message(mapping: EntityMapping, names: list[str],
                       cleared: Mapping[str, tuple[int, list[str]]], updated: int) -> str:
    origin = {p.to: p.describe_origin() for p in mapping.properties}
    lines = [f"{mapping.entity}: this run would clear "
             f"{', '.join(names)} in HubSpot on more of the {updated} records it updates than "
             f"the mapping's max_cleared_ratio {mapping.max_cleared_ratio:.1%} allows; nothing "
             "of this run is written:"]
    for name in names:
        count, examples = cleared[name]
        lines.append(f"  - {name} (from {origin.get(name, '?')}): {count} of {updated} records "
                     f"({count / updated:.1%}), e.g. {', '.join(examples)}")
    lines.append(f"If the mapping reads the wrong field (a typo, a field the source dropped), "
                 f"fix {mapping.entity}'s mapping. If the source really emptied these values, "
                 "raise max_cleared_ratio (or clear_guard_min_records) in the mapping for the "
                 "run that applies them.")
    return "\n".join(lines)


@paused_gc()  # millions of acyclic objects at scale: see hubspot_sync.gc_pause
def validate(run: EntityRun, definitions: Mapping[str, dict],
             docs_dir: Path | None = None) -> dict[str, Any]:
    """Run the suite, record the rejects, enforce the threshold; counts for the report."""
    import pandas as pd

    from hubspot_sync.steps.delta_frame import frame_records
    from hubspot_sync.validation import validate_rows

    mapping, warehouse = run.mapping, run.warehouse
    considered = warehouse.read_delta(run.entity, run.run_id,
                                      actions=["create", "update", "unchanged", "conflict"],
                                      columns=("source_id", "action"))
    # Whole rows only for the records to write or held back (not the unchanged majority).
    delta = warehouse.read_delta(run.entity, run.run_id, actions=["create", "update", "conflict"])
    source = warehouse.read_source_snapshot(run.entity, run.run_id,
                                            columns=("source_id", "problems"))
    problems = dict(zip(source["source_id"], source["problems"], strict=True)) if len(source) \
        else {}
    writes = delta[delta["action"].isin(["create", "update"])] if len(delta) else delta
    names = [p.to for p in mapping.properties]
    rows = pd.DataFrame({
        "source_id": writes["source_id"].tolist() if len(writes) else [],
        "action": writes["action"].tolist() if len(writes) else [],
        "id_value": [mapping.source_id_value(s) for s in writes["source_id"]] if len(writes)
        else [],
        "problems": [[tuple(p) for p in (problems.get(s) or [])] for s in writes["source_id"]]
        if len(writes) else [],
    })
    for name in names:
        rows[name] = [(a or {}).get(name) for a in writes["after"]] if len(writes) else []
    outcome = validate_rows(rows, mapping, dict(definitions), run_id=run.run_id,
                            docs_dir=docs_dir)
    conflicts = delta[delta["action"] == "conflict"] if len(delta) else delta
    key = mapping.hubspot.match_on[0] if mapping.hubspot.match_on else None
    rejects = pd.concat([outcome.rejects.assign(source="validation"), pd.DataFrame(
        reject_book.match_conflict_rejects(key, conflicts.to_dict("records")))],
        ignore_index=True) if len(conflicts) else outcome.rejects.assign(source="validation")
    # Records extraction rejected (malformed): not in the delta, but rejected all the same.
    malformed = reject_book.rejected_ids(run) - set(considered["source_id"])
    # Every record checked now is explained by this run's rejects only.
    reject_book.record_checked(run, rejects, set(rows["source_id"]) | set(conflicts["source_id"]))
    # Every record the run considered (not only those it would write): a run where the
    # valid records are unchanged must not look like one where everything is rejected.
    total = len(considered) + len(malformed)
    rejected = len(set(rejects["source_id"]) | malformed)
    ratio = reject_ratio(rejected, total)
    summary = outcome.summary()
    log.info("validation of %s rows (%s records considered): %s rejected\n%s", len(rows), total,
             rejected, summary)
    result = {"checked": len(rows), "considered": total, "rejected": rejected,
              "rejected_ratio": round(ratio, 4),
              "rule_counts": {**outcome.rule_counts,
                              **({"match_conflict": len(conflicts)} if len(conflicts) else {})},
              "data_docs": outcome.data_docs_path}
    rejected_ids = set(rejects["source_id"])
    updates = [r for r in frame_records(writes) if r["action"] == "update"
               and r["source_id"] not in rejected_ids] if len(writes) else []
    cleared = cleared_counts(updates, mapping.hubspot.id_property)
    if cleared:
        result["cleared"] = {name: count for name, (count, _) in cleared.items()}
    if over_threshold(mapping, rejected, total):
        raise RejectThresholdExceeded(
            f"{run.entity}: {rejected} of {total} records ({ratio:.1%}) failed validation, over "
            f"the mapping's max_rejected_ratio {mapping.max_rejected_ratio:.1%}; nothing of this "
            f"run is written.\n{summary}", run.entity,
            dict(result, **{k: 0 for k in ("created", "updated", "failed")}))
    names = mass_clears(mapping, cleared, len(updates))
    if names:
        raise MassClearRefused(mass_clear_message(mapping, names, cleared, len(updates)),
                               run.entity,
                               dict(result, **{k: 0 for k in ("created", "updated", "failed")}))
    return result

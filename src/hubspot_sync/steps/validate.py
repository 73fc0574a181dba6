"""Step ``validate``: the mapping's Great Expectations suite on the rows about to be
written. Failing rows are rejected with rule, value and reason (through
:mod:`hubspot_sync.steps.rejects`) and are not sent; over the mapping's threshold the run
fails before any write."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.steps import rejects as reject_book
from hubspot_sync.steps.context import EntityRun, RejectThresholdExceeded

log = logging.getLogger(__name__)


def reject_ratio(rejected: int, considered: int) -> float:
    return rejected / considered if considered else 0.0


def over_threshold(mapping: EntityMapping, rejected: int, considered: int) -> bool:
    """Too many rejects to write any of the run: over the mapping's ratio, once the run
    considered at least ``reject_threshold_min_records`` records."""
    return (reject_ratio(rejected, considered) > mapping.max_rejected_ratio
            and considered >= mapping.reject_threshold_min_records)


def validate(run: EntityRun, definitions: Mapping[str, dict],
             docs_dir: Path | None = None) -> dict[str, Any]:
    """Run the suite, record the rejects, enforce the threshold; counts for the report."""
    import pandas as pd

    from hubspot_sync.validation import validate_rows

    mapping, warehouse = run.mapping, run.warehouse
    considered = warehouse.read_delta(run.entity, run.run_id,
                                      actions=["create", "update", "unchanged", "conflict"])
    delta = considered[considered["action"] != "unchanged"] if len(considered) else considered
    source = warehouse.read_source_snapshot(run.entity, run.run_id)
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
    # Every record checked now is explained by this run's rejects only.
    reject_book.record_checked(run, rejects, set(rows["source_id"]) | set(conflicts["source_id"]))
    # Every record the run considered (not only those it would write): a run where the
    # valid records are unchanged must not look like one where everything is rejected.
    total = len(considered)
    rejected = int(rejects["source_id"].nunique()) if len(rejects) else 0
    ratio = reject_ratio(rejected, total)
    summary = outcome.summary()
    log.info("validation of %s rows (%s records considered): %s rejected\n%s", len(rows), total,
             rejected, summary)
    result = {"checked": len(rows), "considered": total, "rejected": rejected,
              "rejected_ratio": round(ratio, 4),
              "rule_counts": {**outcome.rule_counts,
                              **({"match_conflict": len(conflicts)} if len(conflicts) else {})},
              "data_docs": outcome.data_docs_path}
    if over_threshold(mapping, rejected, total):
        raise RejectThresholdExceeded(
            f"{run.entity}: {rejected} of {total} records ({ratio:.1%}) failed validation, over "
            f"the mapping's max_rejected_ratio {mapping.max_rejected_ratio:.1%}; nothing of this "
            f"run is written.\n{summary}", run.entity,
            dict(result, **{k: 0 for k in ("created", "updated", "failed")}))
    return result

"""The forward delta of a two-way mapping, and the baseline its writes leave.

:func:`hold_back_reverse` runs after ``delta_frame.compute_delta``: a ``to_officernd``
property never goes to HubSpot, and a ``both`` property goes only when the run's decision
(written by the ``reconcile`` step) says ``to_hubspot``. A record with no decision for a
property (reconcile did not see it) is decided here with :func:`~.resolve.decide` from the
delta's before / after and the baseline, so the forward direction alone stays right. An
update left with no field becomes ``unchanged``.

:func:`record_pending` runs in ``load`` before the first request: every reverse-tracked
value about to be sent is recorded as pending (write-ahead). :func:`record_written_baseline`
runs once outcomes are known: every reverse-tracked field a write sent becomes the baseline
(its pending value cleared), and so does every value the run's decisions found agreed; a
refused write's pending value is cleared, an unknown outcome's kept (see
:mod:`~.resolve`). A dry run writes none (``load`` returns before).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hubspot_sync.two_way.resolve import Side, decide
from hubspot_sync.two_way.spec import REVERSE_DIRECTIONS
from hubspot_sync.values import is_missing

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from hubspot_sync.mapping import EntityMapping
    from hubspot_sync.steps.context import EntityRun

# Decision key: (source id, HubSpot property) -> to_hubspot
DecisionMap = Mapping[tuple[str, str], bool]
# Baseline: (source id, HubSpot property) -> agreed value (a key absent: no baseline)
BaselineMap = Mapping[tuple[str, str], str | None]


def decision_map(decisions: pd.DataFrame | None) -> dict[tuple[str, str], bool]:
    """The run's decisions (``read_decisions``) as (source id, property) -> to_hubspot."""
    if decisions is None or not len(decisions):
        return {}
    return {(str(s), str(p)): bool(h) for s, p, h in
            zip(decisions["source_id"], decisions["property"], decisions["to_hubspot"],
                strict=True)}


def baseline_map(baseline: pd.DataFrame | None) -> dict[tuple[str, str], str | None]:
    """``read_baseline`` as (source id, property) -> value."""
    if baseline is None or not len(baseline):
        return {}
    return {(str(s), str(p)): (None if is_missing(v) else str(v)) for s, p, v in
            zip(baseline["source_id"], baseline["property"], baseline["value"], strict=True)}


def pending_map(baseline: pd.DataFrame | None) -> dict[tuple[str, str], str | None]:
    """``read_baseline_pending`` as (source id, property) -> the pending value (only the
    pairs that have one)."""
    if baseline is None or not len(baseline):
        return {}
    return {(str(s), str(p)): (None if is_missing(v) else str(v)) for s, p, v, has in
            zip(baseline["source_id"], baseline["property"], baseline["pending_value"],
                baseline["has_pending"], strict=True) if has}


def forward_fields(row: Mapping[str, Any], mapping: EntityMapping, decisions: DecisionMap,
                   baseline: BaselineMap, directions: Mapping[str, str] | None = None,
                   pending: BaselineMap | None = None) -> list[str]:
    """The changed fields of one delta row that may go to HubSpot (``directions``: each
    property's direction, computed once by the caller of many rows)."""
    sid = str(row["source_id"])
    before = row.get("before") or {}
    after = row.get("after") or {}
    if directions is None:
        directions = {p.to: mapping.direction_of(p) for p in mapping.properties}
    kept = []
    for name in row.get("changed_fields") or []:
        direction = directions.get(name, "to_hubspot")  # the id property: always sent
        if direction == "to_officernd":
            continue
        if direction == "both":
            key = (sid, name)
            if key in decisions:
                if not decisions[key]:
                    continue
            else:
                changed_at = row.get("changed_at")
                decision = decide(
                    name, "both", mapping.conflict_of(name),
                    Side(after.get(name), None if is_missing(changed_at) else changed_at),
                    Side(before.get(name), None), baseline.get(key), key in baseline,
                    (pending or {}).get(key), key in (pending or {}))
                if not decision.to_hubspot:
                    continue
        kept.append(name)
    return kept


def hold_back_reverse(delta: pd.DataFrame, mapping: EntityMapping, decisions: DecisionMap,
                      baseline: BaselineMap, pending: BaselineMap | None = None
                      ) -> pd.DataFrame:
    """The delta without what does not flow to HubSpot (module doc); other rows as they are."""
    if not mapping.has_reverse or not len(delta):
        return delta
    out = delta.copy()
    directions = {p.to: mapping.direction_of(p) for p in mapping.properties}
    fields, actions = [], []
    for row in out.to_dict("records"):
        action = row["action"]
        changed = row.get("changed_fields") or []
        if action in ("create", "update"):
            changed = forward_fields(row, mapping, decisions, baseline, directions, pending)
            if action == "update" and not changed:
                action = "unchanged"
        fields.append(list(changed))
        actions.append(action)
    out["changed_fields"] = fields
    out["action"] = actions
    return out


def needs_baseline(delta: pd.DataFrame, mapping: EntityMapping,
                   decisions: DecisionMap) -> list[str]:
    """Source ids of rows with a changed ``both`` field the decisions do not cover: only
    their baseline is read."""
    both = {p.to for p in mapping.properties if mapping.direction_of(p) == "both"}
    if not both or not len(delta):
        return []
    return sorted({str(sid) for sid, changed in zip(delta["source_id"],
                                                    delta["changed_fields"], strict=True)
                   if any(f in both and (str(sid), f) not in decisions
                          for f in (changed or []))})


def sent_values(delta_rows: Iterable[Mapping[str, Any]], mapping: EntityMapping,
                only: set[str] | None = None) -> list[tuple[str, str, str | None]]:
    """(source id, property, value) of every reverse-tracked field the rows send (of the
    source ids in ``only`` when given)."""
    tracked = {p.to for p in mapping.properties if mapping.direction_of(p) in REVERSE_DIRECTIONS}
    rows = []
    for row in delta_rows:
        sid = str(row["source_id"])
        if only is not None and sid not in only:
            continue
        after = row.get("after") or {}
        rows += [(sid, f, after.get(f)) for f in row.get("changed_fields") or [] if f in tracked]
    return rows


def written_baseline(delta_rows: Iterable[Mapping[str, Any]], outcomes: Iterable[Mapping[str, Any]],
                     mapping: EntityMapping) -> list[tuple[str, str, str | None]]:
    """(source id, property, value) of every reverse-tracked field a written outcome sent."""
    done = {str(o["source_id"]) for o in outcomes
            if o.get("status") == "written" and o.get("action") in ("create", "update")}
    return sent_values(delta_rows, mapping, done)


def record_pending(run: EntityRun, delta: pd.DataFrame) -> int:
    """Write-ahead, before ``load`` sends ``delta``: every reverse-tracked value it sends is
    pending until its outcome is known (one bulk write; none in a dry run)."""
    if run.dry_run or not run.mapping.has_reverse or not len(delta):
        return 0
    rows = sent_values(delta.to_dict("records"), run.mapping)
    return run.warehouse.write_pending(run.entity, run.run_id, rows) if rows else 0


def record_written_baseline(run: EntityRun, delta: pd.DataFrame,
                            outcomes: Iterable[Mapping[str, Any]]) -> int:
    """After ``load``'s writes: baseline := what was written (its pending value cleared),
    and the run's agreed values; a write HubSpot refused (definitely not applied) drops its
    pending value, one whose outcome is unknown keeps it. Nothing for a mapping without a
    reverse direction."""
    from hubspot_sync.steps.rejects import UNKNOWN_OUTCOME

    mapping = run.mapping
    if not mapping.has_reverse:
        return 0
    outcomes = list(outcomes)
    delta_rows = delta.to_dict("records") if len(delta) else []
    rows = written_baseline(delta_rows, outcomes, mapping)
    refused = {str(o["source_id"]) for o in outcomes if o.get("status") == "failed"
               and o.get("category") not in UNKNOWN_OUTCOME}
    if refused:
        run.warehouse.clear_pending(run.entity, [(sid, prop) for sid, prop, _ in
                                                 sent_values(delta_rows, mapping, refused)])
    decisions = run.warehouse.read_decisions(run.entity, run.run_id)
    if len(decisions):
        agreed = decisions[decisions["agreed"]]
        rows += [(str(s), str(p), None if is_missing(v) else str(v)) for s, p, v in
                 zip(agreed["source_id"], agreed["property"], agreed["value"], strict=True)]
    return run.warehouse.write_baseline(run.entity, run.run_id, rows)

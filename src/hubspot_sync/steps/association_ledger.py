"""The ``associate`` step's ledger work: remove the associations the sync made whose source
link changed (a member moved company), record what it makes, and confirm pairs HubSpot
already has that look exactly like the sync's (made before the ledger existed). Rules in
:mod:`hubspot_sync.steps.ledger_rules`; the table in :mod:`hubspot_sync.warehouse.ledger`.

Removals are batched: ``batch/archive`` (whole pairs) and ``batch/labels/archive`` (one
label of a pair a person also labeled), 100 inputs a call, per HubSpot to-object.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubspot_sync.mapping import ASSOCIATION_TYPES, association_type_id
from hubspot_sync.steps import ledger_rules
from hubspot_sync.steps import rejects as reject_book
from hubspot_sync.steps.context import EntityRun, StopRun

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)

CONFIRM_PARAM = "confirm_deletes"  # the trigger parameter every removal guard honours


class AssociationGuardTripped(StopRun):
    """A run would remove more sync-made associations than the mapping's guard allows."""


@dataclass
class Follow:
    """What following the source did this run (for the report) and the pairs to confirm."""

    removed: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)
    confirm: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0

    def counts(self) -> dict[str, Any]:
        out: dict[str, Any] = {"removed_associations": self.removed,
                               "removal_calls": self.calls}
        if self.kept:
            out["kept_associations"] = [
                f"{k['source_id']} -> {k['to_entity']} {k['to_source_id']}: {k['reason']}"
                for k in self.kept[:20]]
        return out


def follow_source(run: EntityRun, hubspot: pd.DataFrame, source_rows: list[dict[str, Any]],
                  wanted: Iterable[Mapping[str, Any]], own_ids: Mapping[str, str],
                  target_ids: Mapping[str, Mapping[str, str]]) -> Follow:
    """Remove the stale associations of this run's records (see ledger_rules); return what
    was done and the wanted pairs HubSpot already has (candidates to confirm)."""
    mapping, warehouse = run.mapping, run.warehouse
    obj = mapping.hubspot.object
    types = {r["source_id"]: (r["properties"] or {}).get(ledger_rules.TYPES_KEY) or {}
             for r in hubspot.to_dict("records")} if len(hubspot) else {}
    hubspot_of = dict(zip(hubspot["source_id"], hubspot["hubspot_id"], strict=True)) \
        if len(hubspot) else {}
    current = {str(hubspot_of[sid]): t for sid, t in types.items() if sid in hubspot_of}

    def object_of(entity: str) -> str:
        return run.target_mapping(entity).hubspot.object

    def base_type(to_object: str) -> int | None:
        return (ASSOCIATION_TYPES.get((obj, to_object)) or {}).get("unlabeled")

    links_of: dict[tuple[str, int], list[str]] = {}
    for assoc in mapping.associations:
        if not assoc.follow_source:
            continue
        type_id = association_type_id(obj, object_of(assoc.to), assoc.type, assoc.type_id)
        links_of.setdefault((assoc.to, type_id), []).append(assoc.via)

    resolved = []  # wanted pairs with both HubSpot ids
    for w in wanted:
        from_id = own_ids.get(w["source_id"])
        to_id = target_ids.get(w["to_entity"], {}).get(w["to_source_id"])
        if from_id and to_id:
            to_object = object_of(w["to_entity"])
            resolved.append({"source_id": w["source_id"], "hubspot_id": from_id,
                             "to_entity": w["to_entity"], "to_source_id": w["to_source_id"],
                             "to_hubspot_id": to_id, "to_object": to_object,
                             "type_id": association_type_id(obj, to_object, w["assoc"].type,
                                                            w["assoc"].type_id)})
    ledger = warehouse.ledger(run.entity, {r["source_id"] for r in source_rows})
    skip = {r["source_id"] for r in source_rows if r.get("skip_reason")}
    skip |= reject_book.rejected_ids(run)
    stale = ledger_rules.stale_rows(ledger, source_rows, links_of, skip)
    follow = Follow(confirm=ledger_rules.confirmed(
        resolved, current, base_type, {ledger_rules.key_of(e) for e in ledger}))
    if not stale:
        return follow
    plan = ledger_rules.plan_removals(
        stale, ledger, current, object_of, base_type,
        {(r["hubspot_id"], r["to_object"], r["to_hubspot_id"]) for r in resolved})
    stop = ledger_rules.guard_message(run.entity, plan.removed, warehouse.ledger_size(run.entity),
                                      mapping.max_removed_associations_ratio,
                                      mapping.association_guard_min_records)
    if stop and not run.trigger.params.get(CONFIRM_PARAM):
        raise AssociationGuardTripped(stop)
    for to_object, pairs in sorted(plan.whole.items()):
        follow.calls += run.hook.archive_associations(obj, to_object, sorted(pairs))
    for to_object, triples in sorted(plan.labels.items()):
        follow.calls += run.hook.archive_association_labels(obj, to_object, sorted(triples))
    warehouse.forget_associations(run.entity, plan.forget)
    follow.removed, follow.kept = plan.removed, plan.kept
    if plan.removed or plan.kept:
        log.info("%s: %d associations the sync made were removed (their source link changed)"
                 "; %d kept because people labeled the same pair", run.entity, plan.removed,
                 len(plan.kept))
    return follow


def made_pairs(by_pair: Mapping[tuple[str, int, str, str], Mapping[str, Any]], to_object: str,
               type_id: int, pairs: Iterable[tuple[str, str]],
               errors: Iterable[Any]) -> list[dict[str, Any]]:
    """Ledger rows of the pairs one ``batch/create`` made (those HubSpot did not refuse)."""
    refused = {str(e.input_id or "") for e in errors}
    out = []
    for from_id, to_id in pairs:
        w = by_pair.get((to_object, type_id, from_id, to_id))
        if w is None or f"{from_id}:{to_id}" in refused:
            continue
        out.append({"source_id": w["source_id"], "hubspot_id": from_id,
                    "to_entity": w["to_entity"], "to_source_id": w["to_source_id"],
                    "to_hubspot_id": to_id, "type_id": type_id, "origin": "created"})
    return out


def record(run: EntityRun, made: list[dict[str, Any]], follow: Follow) -> None:
    """Into the ledger: what this run made, and the pairs it confirmed."""
    rows = made + follow.confirm
    if rows:
        run.warehouse.record_associations(run.entity, run.run_id, rows)

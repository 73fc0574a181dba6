"""Step ``associate``: the mapping's associations (associations v4 batch calls, through the
id map) for the records of this run and those waiting from earlier runs. This step owns
``pending_associations``: a target not synced yet, a pair HubSpot refused, and a record
whose ``id_of`` reference is not synced (noted by extract in the snapshot's links) wait
there for the next run."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubspot_sync.mapping import PARENT_LINK, association_type_id
from hubspot_sync.steps import association_ledger as ledger_step
from hubspot_sync.steps import rejects as reject_book
from hubspot_sync.steps.context import EntityRun
from hubspot_sync.steps.extract import WAITING_KEY
from hubspot_sync.steps.hubspot_side import ASSOCIATIONS_KEY

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)

Pair = tuple[str, str, str]  # (source_id, to_entity, to_source_id)

REFUSED = "HubSpot refused the association"
GAVE_UP = "gave up after"  # a pending pair's reason once it is no longer sent


def max_association_attempts() -> int:
    """Runs in a row HubSpot may refuse a pair before it stops being sent
    (``SYNC_MAX_ASSOCIATION_ATTEMPTS``, default 5)."""
    return max(1, int(os.environ.get("SYNC_MAX_ASSOCIATION_ATTEMPTS", "5")))


def pair_of(entry: Mapping[str, Any]) -> Pair:
    return (str(entry["source_id"]), str(entry["to_entity"]), str(entry["to_source_id"]))


@dataclass
class AssociationPlan:
    """What one run does with the associations it wants."""

    batches: dict[tuple[str, int], list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list))  # (to object, type id) -> (from, to) ids
    waiting: list[dict[str, Any]] = field(default_factory=list)  # to pending_associations
    done_pending: list[dict[str, Any]] = field(default_factory=list)  # to clear once made
    by_pair: dict[tuple[str, int, str, str], dict[str, Any]] = field(default_factory=dict)


def wanted_associations(source_rows: Iterable[Mapping[str, Any]], associations: list[Any],
                        rejected: set[str],
                        pending: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (record, target) pair: this run's records' links (not skipped, not
    rejected), then the pending pairs (a pending pair this run also wants keeps its mark, so
    it is cleared once made and not counted twice while it still waits)."""
    wanted: dict[Pair, dict[str, Any]] = {}
    for row in source_rows:
        if row["skip_reason"] or row["source_id"] in rejected:
            continue
        for assoc in associations:
            target = (row.get("links") or {}).get(assoc.via)
            if target:
                wanted[(row["source_id"], assoc.to, target)] = {
                    "source_id": row["source_id"], "to_entity": assoc.to,
                    "to_source_id": target, "assoc": assoc}
    for p in pending:
        assoc = next((a for a in associations if a.to == p["to_entity"]), None)
        if assoc is not None:
            wanted[(p["source_id"], p["to_entity"], p["to_source_id"])] = {
                **p, "assoc": assoc, "pending": True}
    return list(wanted.values())


def plan_associations(wanted: Iterable[dict[str, Any]], own_ids: Mapping[str, str],
                      target_ids: Mapping[str, Mapping[str, str]],
                      current: Mapping[str, Mapping[str, list]],
                      object_of: Callable[[str], str],
                      type_id_of: Callable[[Any, str], int]) -> AssociationPlan:
    """Batches of pairs to make (those HubSpot has already are left out), and pairs that
    wait because one side is not synced yet."""
    plan = AssociationPlan()
    for w in wanted:
        to_object = object_of(w["to_entity"])
        from_id = own_ids.get(w["source_id"])
        to_id = target_ids.get(w["to_entity"], {}).get(w["to_source_id"])
        type_id = type_id_of(w["assoc"], to_object)
        if not from_id or not to_id:
            missing = "this record" if not from_id else f"{w['to_entity']} {w['to_source_id']}"
            plan.waiting.append({"source_id": w["source_id"], "to_entity": w["to_entity"],
                                 "to_source_id": w["to_source_id"], "type_id": type_id,
                                 "reason": f"{missing} is not synced to HubSpot yet"})
            continue
        if w.get("pending"):
            plan.done_pending.append(w)
        if to_id in (current.get(w["source_id"], {}).get(to_object) or []):
            continue  # already there: a re-run writes nothing
        plan.batches[(to_object, type_id)].append((from_id, to_id))
        plan.by_pair[(to_object, type_id, from_id, to_id)] = w
    return plan


def refused(plan: AssociationPlan, to_object: str, type_id: int, errors: Iterable[Any]) -> None:
    """A pair HubSpot refused waits with HubSpot's reason and is tried again next run."""
    for error in errors:
        from_id, _, to_id = str(error.input_id or "").partition(":")
        w = plan.by_pair.get((to_object, type_id, from_id, to_id))
        if w is None:
            continue
        plan.waiting.append({"source_id": w["source_id"], "to_entity": w["to_entity"],
                             "to_source_id": w["to_source_id"], "type_id": type_id,
                             "reason": f"{REFUSED} ({error.category}): {error.message}"})
        if w in plan.done_pending:
            plan.done_pending.remove(w)


def count_refusals(waiting: Iterable[dict[str, Any]], pending: Iterable[Mapping[str, Any]],
                   run_id: str, max_attempts: int) -> list[dict[str, Any]]:
    """``waiting`` with the refused pairs' ``attempts``: the runs in a row HubSpot refused
    the pair (a retry of the same run does not count again; a pair that waited for its
    target starts at 1). At ``max_attempts`` the reason becomes "gave up after N runs: ..."
    and the pair is no longer sent, but stays visible in pending_associations."""
    before = {pair_of(p): p for p in pending}
    out = []
    for w in waiting:
        if not str(w.get("reason") or "").startswith(REFUSED):
            out.append(w)
            continue
        prev = before.get(pair_of(w))
        attempts = 1
        if prev is not None and str(prev.get("reason") or "").startswith(REFUSED):
            attempts = int(prev.get("attempts") or 0) + (prev.get("last_tried_run") != run_id)
        reason = w["reason"]
        if attempts >= max_attempts:
            reason = f"{GAVE_UP} {attempts} runs: {reason}"
        out.append({**w, "attempts": attempts, "reason": reason})
    return out


def given_up(pending: Iterable[Mapping[str, Any]]) -> set[Pair]:
    """Pending pairs no longer sent (HubSpot refused them too many runs in a row)."""
    return {pair_of(p) for p in pending if str(p.get("reason") or "").startswith(GAVE_UP)}


def superseded(pending: Iterable[Mapping[str, Any]], source_rows: Iterable[Mapping[str, Any]],
               associations: list[Any]) -> list[Mapping[str, Any]]:
    """Pending pairs whose record, read again this run, now links elsewhere: the source
    changed, so the old pair is dropped (and a given-up pair makes way for the new link)."""
    links = {row["source_id"]: row.get("links") or {} for row in source_rows}
    out = []
    for p in pending:
        vias = [a.via for a in associations if a.to == p["to_entity"]]
        # type 0: an id_of reference (queued by _queue_references), not an association
        if p["source_id"] not in links or not vias or p.get("type_id") == 0:
            continue
        if p["to_source_id"] not in {links[p["source_id"]].get(via) for via in vias}:
            out.append(p)
    return out


def waiting_references(source_rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``id_of`` references extract could not resolve, as pending entries (keyed by the
    parent record for a child, since the parent is what extract reads again)."""
    return [{"source_id": (row.get("links") or {}).get(PARENT_LINK, row["source_id"]),
             "type_id": 0, **ref}
            for row in source_rows for ref in (row.get("links") or {}).get(WAITING_KEY, [])]


def associate(run: EntityRun) -> dict[str, Any]:
    """Make the associations; queue what must wait; counts for the report."""
    mapping, hook, warehouse = run.mapping, run.hook, run.warehouse
    source = warehouse.read_source_snapshot(run.entity, run.run_id)
    _queue_references(run, source)
    if run.dry_run or not mapping.associations:
        return {"associated": 0, "pending": 0, "api_calls": 0}
    hubspot = warehouse.read_hubspot_snapshot(run.entity, run.run_id)
    current = {r["source_id"]: (r["properties"] or {}).get(ASSOCIATIONS_KEY, {})
               for r in hubspot.to_dict("records")} if len(hubspot) else {}
    source_rows = source.to_dict("records") if len(source) else []
    pending = warehouse.pending_associations(run.entity)
    stale = superseded(pending, source_rows, mapping.associations)
    if stale:
        warehouse.clear_pending_associations(run.entity, [pair_of(p) for p in stale])
        pending = [p for p in pending if p not in stale]
    held = given_up(pending)
    wanted = [w for w in wanted_associations(source_rows, mapping.associations,
                                             reject_book.rejected_ids(run),
                                             [p for p in pending if pair_of(p) not in held])
              if pair_of(w) not in held]
    own_ids = warehouse.id_map(run.entity, {w["source_id"] for w in wanted})
    target_ids = {entity: warehouse.id_map(entity, {w["to_source_id"] for w in wanted
                                                    if w["to_entity"] == entity})
                  for entity in {w["to_entity"] for w in wanted}}
    obj = mapping.hubspot.object
    plan = plan_associations(
        wanted, own_ids, target_ids, current,
        object_of=lambda entity: run.target_mapping(entity).hubspot.object,
        type_id_of=lambda assoc, to_object: association_type_id(obj, to_object, assoc.type,
                                                                assoc.type_id))
    # The source link changed: the associations the sync made to the old target go first
    # (only those in the ledger; what people made is never touched).
    follow = ledger_step.follow_source(run, hubspot, source_rows, wanted, own_ids, target_ids)
    associated, failed = 0, 0
    made: list[dict[str, Any]] = []
    for (to_object, type_id), pairs in sorted(plan.batches.items()):
        pairs = sorted(set(pairs))
        result = hook.associate(obj, to_object, pairs, type_id)
        associated += len(pairs) - len(result.errors)
        failed += len(result.errors)
        refused(plan, to_object, type_id, result.errors)
        made += ledger_step.made_pairs(plan.by_pair, to_object, type_id, pairs, result.errors)
    ledger_step.record(run, made, follow)
    waiting = count_refusals(plan.waiting, pending, run.run_id, max_association_attempts())
    if waiting:
        warehouse.add_pending_associations(run.entity, run.run_id, waiting)
    if plan.done_pending:
        warehouse.clear_pending_associations(run.entity, [
            (w["source_id"], w["to_entity"], w["to_source_id"]) for w in plan.done_pending])
    gave_up = held | given_up(waiting)
    if gave_up:
        log.warning("%s: %d associations HubSpot kept refusing are no longer sent (see "
                    "pending_associations)", run.entity, len(gave_up))
    return {"associated": associated, "pending": len(plan.waiting),
            "failed_associations": failed, "given_up": len(gave_up),
            **follow.counts(), "api_calls": run.api_calls()}


def _queue_references(run: EntityRun, source: pd.DataFrame) -> None:
    """This run's verdict on the ``id_of`` references replaces the earlier ones: the entries
    of referenced entities are cleared, those still unresolved queued again."""
    referenced = {p.id_of for p in run.mapping.properties if p.id_of}
    if not referenced:
        return
    stale = [p for p in run.warehouse.pending_associations(run.entity)
             if p["to_entity"] in referenced]
    if stale:
        run.warehouse.clear_pending_associations(run.entity, [
            (p["source_id"], p["to_entity"], p["to_source_id"]) for p in stale])
    waiting = waiting_references(source.to_dict("records") if len(source) else [])
    if waiting:
        run.warehouse.add_pending_associations(run.entity, run.run_id, waiting)

"""The rules of the association ledger (no I/O): which associations the sync made are stale
because the source link changed, how each is removed without touching what people made in
HubSpot, and which pairs HubSpot already has count as the sync's.

A HubSpot pair (from record, to record) carries one or more association types: the
unlabeled base type and labels (``primary``; labels people add). HubSpot removes *every*
label of a pair when its unlabeled type is removed (v4 ``batch/labels/archive``), and
``batch/archive`` removes the whole pair. So:

- a stale pair that carries only types the sync made (its ledger types and the base they
  imply) is removed whole (``batch/archive``);
- a stale pair that also carries a type the sync did not make (a person's label) loses only
  the sync's labeled type (``batch/labels/archive``); if the sync's type is the base itself,
  the pair is kept and reported (removing it would take the person's label with it);
- a stale pair HubSpot no longer has is dropped from the ledger without a call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TYPES_KEY = "_association_types"  # HubSpot snapshot: {to object: {to id: [type ids]}}

Key = tuple[str, str, str, int]  # ledger key: (source_id, to_entity, to_hubspot_id, type_id)


def key_of(row: Mapping[str, Any]) -> Key:
    return (str(row["source_id"]), str(row["to_entity"]), str(row["to_hubspot_id"]),
            int(row["type_id"]))


def stale_rows(ledger: Iterable[Mapping[str, Any]], source_rows: Iterable[Mapping[str, Any]],
               links_of: Mapping[tuple[str, int], list[str]],
               skip: set[str]) -> list[Mapping[str, Any]]:
    """Ledger rows of this run's records whose source link no longer names their target.

    ``links_of``: (to_entity, type_id) -> the link fields (``via``) of the mapping's
    associations of that kind; ``skip``: source ids not judged this run (skipped, rejected).
    A record that now links nowhere (its company cleared) makes its old pair stale too."""
    rows = {str(r["source_id"]): (r.get("links") or {}) for r in source_rows
            if str(r["source_id"]) not in skip}
    out = []
    for entry in ledger:
        sid = str(entry["source_id"])
        vias = links_of.get((str(entry["to_entity"]), int(entry["type_id"])))
        if sid not in rows or not vias:
            continue  # not read this run, or an association the mapping no longer makes
        targets = {str(rows[sid][via]) for via in vias if rows[sid].get(via) not in (None, "")}
        if str(entry["to_source_id"]) not in targets:
            out.append(entry)
    return out


@dataclass
class Removals:
    """What one run removes, per HubSpot to-object."""

    whole: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list))  # to object -> (from id, to id)
    labels: dict[str, list[tuple[str, str, int]]] = field(
        default_factory=lambda: defaultdict(list))  # to object -> (from id, to id, type)
    forget: list[Key] = field(default_factory=list)  # ledger rows removed or already gone
    kept: list[dict[str, Any]] = field(default_factory=list)  # left, with the reason

    @property
    def removed(self) -> int:
        return sum(len(v) for v in self.whole.values()) + sum(
            len(v) for v in self.labels.values())


def plan_removals(stale: Iterable[Mapping[str, Any]], ledger: Iterable[Mapping[str, Any]],
                  current: Mapping[str, Mapping[str, Mapping[str, list]]],
                  object_of: Callable[[str], str], base_type: Callable[[str], int | None],
                  wanted: set[tuple[str, str, str]]) -> Removals:
    """How to remove each stale ledger row.

    ``current``: from hubspot id -> to object -> to hubspot id -> the pair's type ids now
    (the HubSpot snapshot); ``base_type(to_object)``: the unlabeled type id from this
    object to it; ``wanted``: (from id, to object, to id) pairs this run still wants (a pair
    both stale and wanted loses only the stale label)."""
    ours: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for entry in ledger:
        to_object = object_of(str(entry["to_entity"]))
        ours[(str(entry["hubspot_id"]), to_object, str(entry["to_hubspot_id"]))].add(
            int(entry["type_id"]))
    plan = Removals()
    whole_done: set[tuple[str, str, str]] = set()
    for entry in stale:
        from_id, to_id = str(entry["hubspot_id"]), str(entry["to_hubspot_id"])
        to_object, type_id = object_of(str(entry["to_entity"])), int(entry["type_id"])
        pair = (from_id, to_object, to_id)
        now = {int(t) for t in (current.get(from_id, {}).get(to_object, {}).get(to_id) or [])}
        if not now or type_id not in now:
            plan.forget.append(key_of(entry))  # HubSpot no longer has it: nothing to remove
            continue
        base = base_type(to_object)
        mine = ours[pair] | ({base} if base is not None else set())
        foreign = now - mine
        if not foreign and pair not in wanted:
            if pair not in whole_done:
                plan.whole[to_object].append((from_id, to_id))
                whole_done.add(pair)
        elif type_id != base:
            plan.labels[to_object].append((from_id, to_id, type_id))
        else:
            why = ("the pair also carries association types the sync did not make "
                   f"({', '.join(map(str, sorted(foreign)))}); removing its unlabeled type "
                   "would remove them too" if foreign else "the source still wants the pair")
            plan.kept.append({**dict(entry), "reason": why})
            continue
        plan.forget.append(key_of(entry))
    return plan


def confirmed(pairs: Iterable[Mapping[str, Any]],
              current: Mapping[str, Mapping[str, Mapping[str, list]]],
              base_type: Callable[[str], int | None], known: set[Key]) -> list[dict[str, Any]]:
    """Wanted pairs HubSpot already has that the ledger does not hold, taken as the sync's
    when they carry exactly what the sync makes (its type, and the base a label implies):
    associations an earlier version made before the ledger existed. A pair with any other
    type, or without the sync's type, was made or changed by a person: not taken.

    ``pairs``: dicts with source_id, hubspot_id, to_entity, to_source_id, to_hubspot_id,
    to_object and type_id."""
    out = []
    for p in pairs:
        key = key_of(p)
        if key in known:
            continue
        now = {int(t) for t in (current.get(str(p["hubspot_id"]), {}).get(
            str(p["to_object"]), {}).get(str(p["to_hubspot_id"])) or [])}
        base = base_type(str(p["to_object"]))
        expected = {int(p["type_id"])} | ({base} if base is not None else set())
        if int(p["type_id"]) in now and now <= expected:
            out.append({**{k: v for k, v in p.items() if k != "to_object"},
                        "origin": "confirmed"})
    return out


def guard_message(entity: str, removals: int, made: int, ratio: float,
                  minimum: int) -> str | None:
    """Why a run must stop before removing associations (None: it may go on): more than
    ``ratio`` of the ``made`` associations the ledger holds for the entity, and at least
    ``minimum``. A source that suddenly links nothing (a broken export) trips it."""
    share = removals / made if made else 1.0
    if removals < max(minimum, 1) or share <= ratio:
        return None
    return (f"{entity}: this run would remove {removals} of the {made} associations the sync "
            f"made ({share:.1%}, more than max_removed_associations_ratio {ratio:.1%}) because "
            "their source links changed; nothing was removed. Check the source; if the "
            "changes are real, trigger a run with confirm_deletes.")

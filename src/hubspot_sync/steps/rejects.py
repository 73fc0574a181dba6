"""Reject bookkeeping, in one place: which records a run holds back, with which rule and
reason, and when an earlier reject no longer holds. Validation, load and the children's
hold-back all go through here; the warehouse only stores what this module decides.

Resolution rules:
- a record validation checked is explained by this run's validation rejects only: its
  earlier validation rejects that did not recur are resolved;
- load's rejects (``LOAD_RULES``: HubSpot refused the write, the parent is not synced) are
  not resolved by passing validation, only by a successful write of the record;
- extraction's rejects (``steps.screen.EXTRACT_RULES``: no usable id, an unreadable change
  time, invalid text) are resolved when the record is read well again; those of records
  without a usable id (keyed by a digest of their content) when a full refresh no longer
  meets them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hubspot_sync.records import LoadOutcome, Reject
from hubspot_sync.steps.context import EntityRun

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# (hubspot_deleted: a record a person deleted in HubSpot, held back by its tombstone)
LOAD_RULES = ("hubspot_refused", "unexpected_result", "parent_not_synced", "hubspot_deleted")
# Two-way sync's rejects (steps/write_officernd.py): only a write to OfficeRnD resolves them,
# never the forward direction's validation or write of the same record.
REVERSE_RULES = ("reverse_required", "reverse_conversion", "officernd_refused",
                 "reverse_link_failed")
# load's category for an input whose result is not a write of ours (wrong id property value)
UNEXPECTED_RESULT = "UNEXPECTED_RESULT"
# A reject whose record the next run reads again although it did not change, so no change
# waits for the record's next edit: the write's outcome is unknown (HubSpot's answer was
# lost, cut short or not ours)...
UNKNOWN_OUTCOME = ("INVALID_RESPONSE", "MISSING_RESULT", "NETWORK_ERROR", UNEXPECTED_RESULT)
# ...or the key value it was held back for (an email another record held) has been released.
KEY_RELEASED = "KEY_RELEASED"
KEY_RULES = ("unique", "match_conflict")


def match_conflict_rejects(key: str | None, conflicts: Iterable[Mapping[str, Any]]) -> list[Reject]:
    """A match key (email, domain) that belongs to a HubSpot record of another source record."""
    return [{"source_id": c["source_id"], "rule": "match_conflict", "property": key,
             "value": str((c.get("after") or {}).get(key)), "reason": c["reason"],
             "source": "validation"} for c in conflicts]


def refused_rejects(failed: Iterable[LoadOutcome]) -> list[Reject]:
    """Writes HubSpot refused, answered with a result that is not ours, or whose answer was
    lost (the write may have been applied), with the category and message."""
    out: list[Reject] = []
    for f in failed:
        rule, reason = _refusal(f)
        out.append({"source_id": f["source_id"], "rule": rule, "property": None, "value": None,
                    "reason": reason, "source": "hubspot", "category": f["category"]})
    return out


def _refusal(failed: LoadOutcome) -> tuple[str, str]:
    """(rule, reason) of a failed write."""
    category, message = failed["category"], failed["message"]
    if category == UNEXPECTED_RESULT:
        return ("unexpected_result",
                f"HubSpot's answer to the write is not ours ({category}): {message}; "
                "the next run reads the record again")
    if category in UNKNOWN_OUTCOME:
        return ("hubspot_refused",
                f"HubSpot's answer to the write was lost or unreadable ({category}): "
                f"{message}; the write may have been applied, and the next run reads the "
                "record again to find out")
    return "hubspot_refused", f"HubSpot refused the write ({category}): {message}"


def parent_not_synced_rejects(parent_entity: str, held: Iterable[str],
                              parent_of: Mapping[str, str | None]) -> list[Reject]:
    """Children held back because their parent record is not in HubSpot."""
    return [{"source_id": sid, "rule": "parent_not_synced", "property": None,
             "value": parent_of.get(sid),
             "reason": f"its {parent_entity} record {parent_of.get(sid)} is not in HubSpot "
                       "(see that record's rejects); it follows once the parent is synced",
             "source": "validation"} for sid in sorted(held)]


def rejected_ids(run: EntityRun) -> set[str]:
    """Source ids this run has rejected so far (they are not written nor associated)."""
    return set(run.warehouse.rejects_for_run(run.entity, run.run_id)["source_id"])


def record_checked(run: EntityRun, rejects: pd.DataFrame | Sequence[Reject],
                   checked: Iterable[str]) -> None:
    """Validation's verdict on the ``checked`` records: ``rejects`` recorded, every other
    open validation reject of those records resolved."""
    rows = _records(rejects)
    if rows:
        run.warehouse.record_rejects(run.entity, run.run_id, rows)
    checked = set(checked)
    if checked:
        run.warehouse.resolve_rejects(
            run.entity, run.run_id, checked, keep_rules=(*LOAD_RULES, *REVERSE_RULES),
            still_failing=[(r["source_id"], r["rule"], r.get("property")) for r in rows])


def record_extracted(run: EntityRun, rejects: Sequence[Reject], clean: Iterable[str], *,
                     full_refresh: bool = False) -> None:
    """Extraction's verdict (``steps.screen``): ``rejects`` recorded; the open extraction
    rejects of the ``clean`` records (read well this time) resolved, and on a full refresh,
    which reads every record, those keyed by a content digest (no usable id) that it did
    not meet again. Other rules' rejects stay as they are."""
    from hubspot_sync.steps.screen import BAD_ID_PREFIX, EXTRACT_RULES

    if rejects:
        run.warehouse.record_rejects(run.entity, run.run_id, list(rejects))
    extraction = run.warehouse.open_rejects(run.entity, rules=EXTRACT_RULES)
    if not len(extraction):
        return
    gone = set(clean)
    if full_refresh:
        seen = {r["source_id"] for r in rejects}
        gone |= {s for s in extraction["source_id"]
                 if str(s).startswith(BAD_ID_PREFIX) and s not in seen}
    targets = set(extraction.loc[extraction["source_id"].isin(gone), "source_id"])
    if targets:
        of_targets = run.warehouse.open_rejects(run.entity, source_ids=targets)
        others = of_targets[~of_targets["rule"].isin(EXTRACT_RULES)]
        run.warehouse.resolve_rejects(
            run.entity, run.run_id, targets, keep_rules=LOAD_RULES,
            still_failing=list(zip(others["source_id"], others["rule"], others["property"],
                                   strict=True)))


def record_held(run: EntityRun, rejects: Sequence[Reject]) -> None:
    """Load's rejects (refused writes, held-back children)."""
    if rejects:
        run.warehouse.record_rejects(run.entity, run.run_id, list(rejects))


def resolve_written(run: EntityRun, source_ids: Iterable[str]) -> None:
    """A record written to HubSpot has no open reject left."""
    ids = list(source_ids)
    if ids:
        run.warehouse.resolve_rejects(run.entity, run.run_id, ids, keep_rules=REVERSE_RULES)


def to_reread(run: EntityRun) -> set[str]:
    """Records the run reads again although they did not change in its window: those whose
    last write has an unknown outcome, and those held back for a key value since released.
    Reading them again either writes them or records the same reject (which clears the
    mark), so each costs one read per run at most while it is open."""
    return run.warehouse.open_reject_ids(run.entity, (*UNKNOWN_OUTCOME, KEY_RELEASED))


def parents_to_reread(unit: EntityRun) -> set[str]:
    """For a child unit (a contract's line items): the parents whose children have a write
    of unknown outcome; children are read through their parent, so it is read again."""
    from hubspot_sync.mapping import PARENT_LINK

    ids = to_reread(unit)
    if not ids:
        return set()
    links = unit.warehouse.latest_links(unit.entity, ids)
    return {str(p) for p in (li.get(PARENT_LINK) for li in links.values()) if p}


def released_keys(match_on: Iterable[str],
                  updates: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]
                  ) -> dict[str, set[str]]:
    """Per match key (email, domain), the values written updates moved away from."""
    released: dict[str, set[str]] = {key: set() for key in match_on}
    for before, after in updates:
        for key, values in released.items():
            old = before.get(key)
            if isinstance(old, str) and old.strip() and old != after.get(key):
                values.add(old)
    return released


def release_keys(run: EntityRun, released: Mapping[str, set[str]]) -> int:
    """Mark the open unique / match-conflict rejects of the released values: the records
    that could not have a value another record held are read again by the next run."""
    return sum(run.warehouse.flag_open_rejects(run.entity, KEY_RULES, key, values,
                                               KEY_RELEASED)
               for key, values in released.items() if values)


def _records(rejects: pd.DataFrame | Sequence[Reject]) -> list[dict[str, Any]]:
    if isinstance(rejects, Sequence):
        return [dict(r) for r in rejects]
    return list(rejects.to_dict("records"))

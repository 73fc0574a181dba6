"""Step ``deletes``: synced records deleted in OfficeRnD or gone out of the mapping's filter
are flagged or archived in HubSpot, as the mapping says, behind a guard.

- Source deletes: OfficeRnD has no deleted-records feed, so the ids that still exist are
  scanned (``$select=_id``, 50 a page) on the mapping's ``delete_check`` schedule and
  compared with the id map.
- Filter exits: a synced record of this run's extract that the filter now leaves out (a
  member turning ``former`` when the filter keeps only active ones).
- Each candidate's HubSpot record is read by id: one that no longer carries the record's id
  property is never touched, one already flagged is left as it is, one already gone needs
  nothing.
- The guard: flagging or archiving more than ``max_delete_ratio`` of the entity's synced
  records (and at least ``delete_guard_min_records``) stops the run before any write, with
  the counts, until a run is triggered with ``confirm_deletes``. A dry run shows the plan.

Runs after validation and before load: a run stopped by any guard has written nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.steps.context import EntityRun, StopRun
from hubspot_sync.values import is_blank

log = logging.getLogger(__name__)

DAILY = timedelta(hours=23)  # "daily": the hourly run at the same time next day checks
LISTED = 50  # planned or written deletes named in a run's report (the table keeps all)
CONFIRM_PARAM = "confirm_deletes"


class DeleteGuardTripped(StopRun):
    """A run would flag or archive more records than the mapping's delete guard allows."""

    def __init__(self, message: str, entity: str, counts: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.entity = entity
        self.counts = dict(counts)


@dataclass(frozen=True)
class Planned:
    source_id: str
    hubspot_id: str
    why: str  # source_delete | filter_exit
    action: str  # flag | archive


def check_due(mapping: EntityMapping, full_refresh: bool, last_check: datetime | None,
              now: datetime, confirmed: bool = False) -> bool:
    """Is the source scanned for deletions in this run (the mapping's ``delete_check``)? A
    run confirming deletes always is (it confirms what a stopped run found)."""
    if mapping.on_source_delete == "ignore":
        return False
    if full_refresh or confirmed or mapping.delete_check == "every_run":
        return True
    if mapping.delete_check == "full_refresh":
        return False
    return last_check is None or now - last_check >= DAILY


def filter_exits(mapping: EntityMapping, snapshot: Iterable[Mapping[str, Any]],
                 synced: Mapping[str, str]) -> set[str]:
    """Synced records of the run's extract that the mapping's filter now leaves out."""
    from hubspot_sync.steps.extract import filter_reason

    if mapping.on_filter_exit == "ignore" or not mapping.filter:
        return set()
    return {row["source_id"] for row in snapshot
            if row["source_id"] in synced and isinstance(row.get("raw"), Mapping)
            and filter_reason(mapping, row["raw"])}


def plan(mapping: EntityMapping, candidates: Mapping[str, str], synced: Mapping[str, str],
         current: Mapping[str, Mapping[str, Any]]) -> tuple[list[Planned], dict[str, int]]:
    """What to write per candidate (source id -> why) from HubSpot's current records
    (``current``: HubSpot id -> record, read by id). Records no longer ours, already
    flagged with the same value, or already gone are left out and counted."""
    out: list[Planned] = []
    skipped = {"not_ours": 0, "already_flagged": 0, "already_gone": 0}
    for sid, why in sorted(candidates.items()):
        hid, action = synced[sid], mapping.delete_action(why)
        record = current.get(hid)
        if record is None:
            skipped["already_gone"] += 1
            continue
        props = record.get("properties") or {}
        if props.get(mapping.hubspot.id_property) != mapping.source_id_value(sid):
            skipped["not_ours"] += 1
            continue
        if action == "flag" and props.get(mapping.flag.property) == mapping.flag.value(why):
            skipped["already_flagged"] += 1
            continue
        out.append(Planned(sid, str(record.get("id") or hid), why, action))
    return out, skipped


def guard(mapping: EntityMapping, planned: list[Planned], synced: int,
          scan_empty: bool = False) -> str | None:
    """Why the run must stop before writing (None: it may go on)."""
    n = len(planned)
    if scan_empty and n:
        return (f"{mapping.entity}: OfficeRnD listed no {mapping.source.resource} at all, so "
                f"every one of the {synced} synced records looks deleted ({n} to flag or "
                "archive); nothing was written. Check the connection and the organisation; if "
                f"the source really is empty, trigger a run with {CONFIRM_PARAM}: true.")
    share = n / synced if synced else 1.0
    if n >= mapping.delete_guard_min_records and share > mapping.max_delete_ratio:
        flags = sum(p.action == "flag" for p in planned)
        whys = {w: sum(p.why == w for p in planned) for w in ("source_delete", "filter_exit")}
        return (f"{mapping.entity}: this run would flag {flags} and archive {n - flags} HubSpot "
                f"{mapping.hubspot.object} ({n} of {synced} synced records, {share:.1%}; "
                f"{whys['source_delete']} deleted in OfficeRnD, {whys['filter_exit']} out of "
                f"the filter), more than max_delete_ratio {mapping.max_delete_ratio:.1%} "
                f"allows (from {mapping.delete_guard_min_records} records on). Nothing was "
                f"written. If this is right, trigger a run with {CONFIRM_PARAM}: true; if "
                "not, check the source and the mapping's filter.")
    return None


def deletes(run: EntityRun) -> dict[str, Any]:
    """Detect, guard, then flag or archive (nothing is written in a dry run)."""
    mapping, wh = run.mapping, run.warehouse
    out: dict[str, Any] = {"flagged": 0, "archived": 0, "failed": 0, "planned": 0,
                           "checked_source": False, "delete_list": []}
    if run.parent is not None or not mapping.handles_deletes:
        return out
    snapshot = wh.read_source_snapshot(run.entity, run.run_id).to_dict("records")
    extracted = {row["source_id"] for row in snapshot}
    # The whole id map only when the source is scanned; else this run's records' pairs.
    synced = wh.id_map(run.entity, extracted) if extracted else {}
    candidates = dict.fromkeys(filter_exits(mapping, snapshot, synced), "filter_exit")
    now = datetime.now(UTC)
    scan_empty, scanned, everything = False, None, None
    confirmed = bool(run.trigger.params.get(CONFIRM_PARAM))
    if check_due(mapping, run.full_refresh, wh.last_delete_check(run.entity), now, confirmed):
        everything = synced = wh.id_map(run.entity)
    # Nothing synced yet (a first run): nothing can have been deleted, no scan.
    if everything:
        existing = run.source.list_ids(mapping.source.resource or mapping.source.table or "",
                                       mapping.source.id)
        gone = set(synced) - existing - extracted - set(candidates)
        candidates.update(dict.fromkeys(gone, "source_delete"))
        scan_empty = not existing
        out.update(checked_source=True, source_ids=len(existing))
        scanned = len(existing)
    candidates = {s: w for s, w in candidates.items() if mapping.delete_action(w) != "ignore"}
    current = _current(run, {s: synced[s] for s in candidates}) if candidates else {}
    planned, skipped = plan(mapping, candidates, synced, current)
    out.update(planned=len(planned), skipped=skipped, delete_list=[
        f"{p.source_id}: {p.action} ({p.why.replace('_', ' ')})" for p in planned][:LISTED])
    total = len(everything) if everything is not None else (
        len(wh.id_map(run.entity)) if planned else 0)
    stop = guard(mapping, planned, total, scan_empty)
    if stop and run.dry_run:
        out["delete_guard"] = stop
    elif stop and not confirmed:
        _record(run, planned, "guarded", stop)
        log.error("%s", stop)
        flags = sum(p.action == "flag" for p in planned)
        raise DeleteGuardTripped(stop, run.entity, {
            "delete_guard": stop, "would_flag": flags, "would_archive": len(planned) - flags,
            "synced_records": total})
    elif stop:
        log.warning("%s: delete guard confirmed by %s; going on: %s", run.entity,
                    CONFIRM_PARAM, stop)
    # Noted only past the guard: after a stop, every run checks again until a person
    # confirms or the source is right again.
    if scanned is not None and not run.dry_run:
        wh.note_delete_check(run.entity, run.run_id, scanned, now)
    if run.dry_run or not planned:
        _record(run, planned, "dry_run" if run.dry_run else "planned", None)
        return {**out, "api_calls": run.api_calls()}
    results = _write(run, planned)
    _record_outcomes(run, planned, results)
    out.update(flagged=sum(1 for p in planned if p.action == "flag"
                           and results.get(p.source_id) is None),
               archived=sum(1 for p in planned if p.action == "archive"
                            and results.get(p.source_id) is None),
               failed=sum(1 for r in results.values() if r is not None))
    return {**out, "api_calls": run.api_calls()}


def _current(run: EntityRun, hubspot_ids: Mapping[str, str]) -> dict[str, Mapping[str, Any]]:
    """HubSpot id -> the live record, with the id and flag property (source id -> HubSpot
    id in). Read by id, 100 a call, except the records this run's extract_hubspot found by
    the id property moments ago with the flag property among those it read (filter exits,
    when the mapping maps the flag property): reading them again would cost a call a run."""
    from hubspot_sync.steps.hubspot_deletes import MERGED_IDS, answers

    mapping = run.mapping
    known = _extracted(run, hubspot_ids)
    rest = sorted({hid for hid in hubspot_ids.values() if hid not in known})
    if not rest:
        return known
    props = [mapping.hubspot.id_property, mapping.flag.property, MERGED_IDS]
    records = run.hook.batch_read(mapping.hubspot.object, rest, props)
    # A record merged into another answers for the old id: the survivor is not ours to
    # touch unless it carries this record's id (plan checks the id property).
    return {**known, **dict(answers(rest, records))}


def _extracted(run: EntityRun, hubspot_ids: Mapping[str, str]) -> dict[str, Mapping[str, Any]]:
    """HubSpot id -> record, from this run's HubSpot snapshot: rows found by the id property
    with the id map's HubSpot id, when the flag property was read with them."""
    mapping = run.mapping
    id_property, flag = mapping.hubspot.id_property, mapping.flag.property
    if flag not in {p.to for p in mapping.properties}:
        return {}
    snapshot = run.warehouse.read_hubspot_snapshot(run.entity, run.run_id)
    out: dict[str, Mapping[str, Any]] = {}
    for row in snapshot.to_dict("records") if len(snapshot) else []:
        hid = hubspot_ids.get(row["source_id"])
        props = row["properties"] or {}
        if hid is None or row["matched_by"] != id_property or str(row["hubspot_id"]) != hid:
            continue
        out[hid] = {"id": hid, "properties": {id_property: props.get(id_property),
                                              flag: props.get(flag)}}
    return out


def _write(run: EntityRun, planned: list[Planned]) -> dict[str, str | None]:
    """Flag (batch update by HubSpot id) and archive (batch archive, 100 a call); source id
    -> None when written, else the error."""
    mapping, hook, wh = run.mapping, run.hook, run.warehouse
    obj = mapping.hubspot.object
    results: dict[str, str | None] = {}
    flags = [p for p in planned if p.action == "flag"]
    if flags:
        outcome = hook.batch_update(obj, [
            {"id": p.hubspot_id, "objectWriteTraceId": p.source_id,
             "properties": {mapping.flag.property: mapping.flag.value(p.why)}} for p in flags])
        for error in outcome.errors:
            sid = str(error.trace_id or error.input_id)
            results[sid] = f"HubSpot refused the flag ({error.category}): {error.message}"
        by_hid = {str(r.get("id")): r for r in outcome.results}
        for p in flags:
            if p.source_id not in results:
                results[p.source_id] = None if p.hubspot_id in by_hid else \
                    "HubSpot's answer has no result for this record"
    archives = [p for p in planned if p.action == "archive"]
    if archives:
        hook.batch_archive(obj, [p.hubspot_id for p in archives])
        results.update(dict.fromkeys((p.source_id for p in archives), None))
        # The sync archived them: they leave the id map, so they are never taken for a
        # person's delete, and one that comes back is created afresh.
        wh.drop_id_map(run.entity, [p.source_id for p in archives])
    log.info("%s: flagged %d, archived %d (%d failed)", run.entity,
             sum(results.get(p.source_id) is None for p in flags), len(archives),
             sum(r is not None for r in results.values()))
    return results


def _record(run: EntityRun, planned: list[Planned], status: str, message: str | None) -> None:
    run.warehouse.write_source_deletions(run.entity, run.run_id, [
        {"source_id": p.source_id, "hubspot_id": p.hubspot_id, "why": p.why,
         "action": p.action, "status": status, "message": message} for p in planned])


def _record_outcomes(run: EntityRun, planned: list[Planned],
                     results: Mapping[str, str | None]) -> None:
    run.warehouse.write_source_deletions(run.entity, run.run_id, [
        {"source_id": p.source_id, "hubspot_id": p.hubspot_id, "why": p.why,
         "action": p.action, "message": results.get(p.source_id),
         "status": "written" if is_blank(results.get(p.source_id)) else "failed"}
        for p in planned])


def lifecycle_report(tombs: Mapping[str, Any], removed: Mapping[str, Any],
                     dry_run: bool) -> tuple[dict[str, int], dict[str, Any]]:
    """The report's counts and details of both deletion steps (``check_hubspot_deletions``
    and ``deletes``); a count appears only when it is not zero."""
    counts = {"tombstoned": int(tombs.get("tombstoned", 0)),
              "merges_adopted": int(tombs.get("merges_adopted", 0)),
              "recreated": int(tombs.get("recreated", 0)),
              "flagged": int(removed.get("flagged", 0)),
              "archived": int(removed.get("archived", 0)),
              "delete_failed": int(removed.get("failed", 0))}
    if dry_run:
        counts["planned_deletes"] = int(removed.get("planned", 0))
    details: dict[str, Any] = {"tombstone_list": list(tombs.get("tombstone_list") or []),
                               "delete_list": list(removed.get("delete_list") or [])}
    if removed.get("delete_guard"):
        details["delete_guard"] = removed["delete_guard"]
    if removed.get("checked_source"):
        details["delete_check_source_ids"] = removed.get("source_ids")
    return {k: v for k, v in counts.items() if v}, {k: v for k, v in details.items() if v}

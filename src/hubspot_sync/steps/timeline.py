"""Step ``timeline``: the mapping's ``timeline:`` events as HubSpot notes on the right
records, each written once (rules in ``timeline_rules``; client in ``hubspot_client.notes``).

Per run: the events of the records changed in the run's window (the entity's own records
from this run's source snapshot; another resource, e.g. OfficeRnD's billing documents, read
for the same window), plus the records of events still open in the warehouse (refused,
or sent with an unknown outcome), read again by id so nothing waits for the
record's next edit. Then, per event key:

* already ``written`` (or ``skipped`` as too old): nothing;
* sent before with an unknown outcome: looked up on its record (the note's body carries the
  key) and adopted when found, created when not;
* otherwise validated (required fields, a date, a record to put it on) and created,
  100 notes a call with their associations inline; a bad event is rejected with the reason
  (rejects of ``<entity>_timeline``) and comes back when its record is edited.

The warehouse holds ``sending`` before each call, so a worker killed mid-call leaves an
event the next run looks up, never one it blindly creates twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hubspot_sync.hubspot_client.notes import create_notes, find_keyed_notes, note_body
from hubspot_sync.mapping import MappingError, association_type_id
from hubspot_sync.steps import timeline_rules as rules
from hubspot_sync.steps.context import ConfigurationError, EntityRun
from hubspot_sync.timeline_spec import TimelineSpec

log = logging.getLogger(__name__)

# Events read again by id every run until they resolve: sent with an unknown outcome, or
# refused (HubSpot said no, or the record to put the note on is not synced yet). A rejected
# event (bad data) comes back with its record's next edit, which puts it in the window.
OPEN = ("refused", "unknown", "sending")


def reject_entity(entity: str) -> str:
    """Where an entity's event rejects are kept in ``rejects`` (beside its own)."""
    return f"{entity}_timeline"


def _window(run: EntityRun) -> tuple[datetime | None, datetime | None]:
    row = run.warehouse.get_run(run.entity, run.run_id) or {}
    if row.get("window_end") is not None or row.get("window_start") is not None:
        return row.get("window_start"), row.get("window_end")
    window = run.resolve_window()
    return window.start, window.end


def _changed_records(run: EntityRun, spec: TimelineSpec,
                     window: tuple[datetime | None, datetime | None]) -> list[dict[str, Any]]:
    if spec.resource is None:
        frame = run.warehouse.read_source_snapshot(run.entity, run.run_id)
        return [r for r in frame["raw"].tolist() if isinstance(r, dict)] if len(frame) else []
    since, until = window
    return list(run.source.extract(spec.resource, since, until))


def _reread(run: EntityRun, spec: TimelineSpec, open_rows: Iterable[Mapping[str, Any]],
            have: set[str]) -> list[dict[str, Any]]:
    ids = sorted({str(r["source_id"]) for r in open_rows
                  if r.get("event") == spec.event and r.get("source_id")} - have)
    if not ids:
        return []
    resource = spec.resource or run.mapping.source.resource
    if resource is None:
        return []
    return list(run.source.get_many(resource, ids).values())


def _targets(run: EntityRun, events: list[rules.Event]) -> dict[tuple[str, str], tuple[str, str]]:
    """(entity, source id) -> (HubSpot object, HubSpot id) of the synced target records."""
    wanted: dict[str, set[str]] = {}
    for event in events:
        for entity, source_id in event.targets:
            wanted.setdefault(entity, set()).add(source_id)
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for entity, ids in wanted.items():
        obj = run.target_mapping(entity).hubspot.object
        for source_id, hubspot_id in run.warehouse.id_map(entity, ids).items():
            out[(entity, source_id)] = (obj, hubspot_id)
    return out


def _associations(event: rules.Event, targets: Mapping[tuple[str, str], tuple[str, str]]
                  ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The note's inline associations, and the (object, id) pairs it is put on."""
    assoc, on = [], []
    for ref in event.targets:
        if ref not in targets:
            continue
        obj, hubspot_id = targets[ref]
        try:
            type_id = association_type_id("notes", obj)
        except MappingError as exc:
            raise ConfigurationError(f"{event.event}: {exc}") from None
        assoc.append({"to": {"id": hubspot_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]})
        on.append((obj, hubspot_id))
    return assoc, on


@dataclass
class _Plan:
    """What a run does with its events: rows to record now, notes to create (``send``, by
    key), those of them to look up first, rejects, and counts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    send: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookup: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (object, id)
    counts: Counter[str] = field(default_factory=Counter)


def _collect(run: EntityRun) -> tuple[list[rules.Event], dict[str, TimelineSpec]]:
    """The events of the window's records and of the records of open events, one per key."""
    window = _window(run)
    open_rows = list(run.warehouse.timeline_events(run.entity, statuses=OPEN).values())
    found: list[tuple[TimelineSpec, rules.Event]] = []
    for spec in run.mapping.timeline:
        records = _changed_records(run, spec, window)
        id_field = "_id" if spec.resource else run.mapping.source.id
        have = {str(r.get(id_field)) for r in records}
        records += _reread(run, spec, open_rows, have)
        found += [(spec, e) for e in rules.detect(records, spec, id_field)]
    return rules.dedupe(e for _, e in found), {e.key: s for s, e in found}


def _plan(run: EntityRun, events: list[rules.Event],
          spec_of: Mapping[str, TimelineSpec]) -> _Plan:
    plan = _Plan()
    known = run.warehouse.timeline_events(run.entity, [e.key for e in events])
    targets = _targets(run, events)
    now = datetime.now(UTC)
    for event in events:
        status = (known.get(event.key) or {}).get("status")
        act = rules.action(status)
        if act == rules.DONE:
            plan.counts["already_written"] += 1
            continue
        base = {"event_key": event.key, "event": event.event, "source_id": event.source_id,
                "occurred_at": event.occurred_at}
        history = spec_of[event.key].history_days
        assoc, on = _associations(event, targets)
        if event.problems:
            plan.rows.append({**base, "status": "rejected",
                              "reason": "; ".join(p[2] for p in event.problems)})
            plan.rejects += [{"source_id": event.key, "rule": rule, "property": name,
                              "value": event.source_id, "reason": reason,
                              "source": "validation"} for rule, name, reason in event.problems]
            plan.counts["rejected"] += 1
        elif status is None and rules.too_old(event, now, history):
            plan.rows.append({**base, "status": "skipped", "reason": (
                f"older than history_days={history}: recorded, not written")})
            plan.counts["skipped_old"] += 1
        elif not assoc:
            names = ", ".join(f"{e} {s}" for e, s in event.targets)
            plan.rows.append({**base, "status": "refused", "reason": (
                f"{names} not synced to HubSpot yet; tried again next run")})
            plan.counts["waiting"] += 1
        else:
            assert event.occurred_at is not None  # checked by rules.check
            plan.send[event.key] = {
                "base": {**base, "target_object": on[0][0], "target_id": on[0][1]},
                "properties": {"hs_timestamp": rules.hs_timestamp(event.occurred_at),
                               "hs_note_body": note_body(event.lines, event.key)},
                "associations": assoc}
            if act == rules.LOOKUP:
                plan.lookup[event.key] = on[0]
    return plan


def _adopt_found(run: EntityRun, plan: _Plan) -> None:
    """Events sent before with an unknown outcome whose note HubSpot has: written, not sent."""
    by_object: dict[str, set[str]] = {}
    for obj, hubspot_id in plan.lookup.values():
        by_object.setdefault(obj, set()).add(hubspot_id)
    for obj, ids in by_object.items():
        keys = [k for k, (o, _) in plan.lookup.items() if o == obj]
        for key, note_id in find_keyed_notes(run.hook, obj, sorted(ids), keys).items():
            plan.rows.append({**plan.send.pop(key)["base"], "status": "written",
                              "note_id": note_id,
                              "reason": "found on its record after an unknown outcome"})
            plan.counts["found_after_unknown"] += 1


def _create(run: EntityRun, send: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``sending`` first (a worker dying mid-call leaves a trace), then each outcome."""
    run.warehouse.record_timeline_events(run.entity, run.run_id, [
        {**n["base"], "status": "sending"} for n in send.values()])
    outcome = create_notes(run.hook, send)
    rows = []
    for key, note in send.items():
        if key in outcome.written:
            rows.append({**note["base"], "status": "written", "note_id": outcome.written[key]})
        elif key in outcome.refused:
            rows.append({**note["base"], "status": "refused", "reason": outcome.refused[key]})
        else:
            rows.append({**note["base"], "status": "unknown",
                         "reason": outcome.unknown.get(key, "no answer")})
    run.warehouse.record_timeline_events(run.entity, run.run_id, rows)
    return rows


def timeline(run: EntityRun) -> dict[str, Any]:
    """Write the run's timeline events; counts by outcome."""
    if not run.mapping.timeline or run.dry_run:
        return {"counts": {}, "dry_run": run.dry_run}
    events, spec_of = _collect(run)
    plan = _plan(run, events, spec_of)
    _adopt_found(run, plan)
    run.warehouse.record_timeline_events(run.entity, run.run_id, plan.rows)
    created = _create(run, plan.send) if plan.send else []
    plan.counts.update(r["status"] for r in created)
    _book_rejects(run, plan.rejects, [r["event_key"] for r in created
                                      if r["status"] == "written"])
    if plan.counts:
        log.info("%s timeline: %s", run.entity,
                 ", ".join(f"{k} {v}" for k, v in sorted(plan.counts.items())))
    return {"counts": dict(plan.counts), "api_calls": run.api_calls()}


def _book_rejects(run: EntityRun, rejects: list[dict[str, Any]], written: list[str]) -> None:
    entity = reject_entity(run.entity)
    if rejects:
        run.warehouse.record_rejects(entity, run.run_id, rejects)
    if written:
        run.warehouse.resolve_rejects(entity, run.run_id, written)

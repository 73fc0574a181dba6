"""The rules of timeline events, without I/O: which records carry an event, what its key,
date and note say, whether it may be written, and what a run does with each event given
what the warehouse already knows of it.

An event is a **state** the record is in (``when``: a contract whose ``status`` is
``signed``), written once under its key (``contract-<id>:signed``): the warehouse's
``timeline_events`` table is what "the warehouse last saw". Comparing with the state alone
(not with the previous snapshot) makes re-runs, backfills over the same hours and a first
run after an outage all converge: the event exists once its record has reached the state,
and its key is written once. A state the record passes through between two runs without
being read in it (signed and terminated within one hour) still yields both events, as long
as each has its own ``when`` that the later state also satisfies (``terminated`` implies it
was signed: ``signed`` is declared with ``when: {status: [signed, terminated]}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hubspot_sync.timeline_spec import TimelineSpec
from hubspot_sync.transforms import get_path, parse_datetime, render_template, template_fields
from hubspot_sync.values import is_blank

KEY_LENGTH = 255
# What a run does with an event, by the status the warehouse holds for its key.
SEND, LOOKUP, DONE = "send", "lookup", "done"


@dataclass
class Event:
    """One event found in a source record."""

    key: str
    event: str
    source_id: str
    targets: list[tuple[str, str]]  # (entity, source id) of the records the note is on
    occurred_at: datetime | None
    lines: list[str]
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (rule, field, reason)


def matches(record: Mapping[str, Any], when: Mapping[str, Sequence[Any]]) -> bool:
    """The record is in the state ``when`` describes (every field has one of its values)."""
    for name, allowed in when.items():
        value = get_path(record, name)
        if value not in allowed and str(value) not in {str(a) for a in allowed}:
            return False
    return True


def _text(template: str, record: Mapping[str, Any]) -> str | None:
    try:
        return render_template(template, record)
    except (KeyError, IndexError, ValueError, AttributeError):
        return None


def detect(records: Iterable[Mapping[str, Any]], spec: TimelineSpec,
           id_field: str = "_id") -> list[Event]:
    """The events of ``spec`` the records carry (those in its ``when`` state), each with
    the problems that keep it from being written (checked by :func:`check`)."""
    events = []
    for record in records:
        if not isinstance(record, Mapping) or not matches(record, spec.when):
            continue
        source_id = get_path(record, id_field)
        key = _text(spec.key, record) or ""
        targets = []
        for target in spec.attach_to:
            ref = get_path(record, target.via)
            if not is_blank(ref):
                targets.append((target.entity, str(ref)))
        lines = [line for line in (_text(t, record) for t in [spec.title, *spec.lines])
                 if line]
        event = Event(key=key, event=spec.event, source_id=str(source_id or ""),
                      targets=targets, occurred_at=parse_datetime(
                          get_path(record, spec.timestamp)), lines=lines)
        event.problems = check(event, record, spec)
        events.append(event)
    return events


def check(event: Event, record: Mapping[str, Any],
          spec: TimelineSpec) -> list[tuple[str, str, str]]:
    """Why the event cannot be written, as (rule, field, reason); empty when it can."""
    problems = []
    blank = [f.split(":")[0] for f in template_fields(spec.key)
             if is_blank(get_path(record, f.split(":")[0]))]
    if blank or not event.key or len(event.key) > KEY_LENGTH:
        what = f"{', '.join(blank)} missing" if blank else "empty or too long"
        problems.append(("timeline_key", "key", f"the key template {spec.key!r} gives "
                         f"{event.key!r} ({what}): two events could share it, so none is "
                         "written"))
    for name in spec.required:
        if is_blank(get_path(record, name)):
            problems.append(("required", name, f"a {spec.event} event needs {name!r}; the "
                             "record has none, so no note is written until it has"))
    if event.occurred_at is None:
        problems.append(("timeline_date", spec.timestamp,
                         f"{spec.timestamp!r} is missing or not a date: the note's date "
                         "(hs_timestamp) is required by HubSpot"))
    if not event.targets:
        vias = ", ".join(t.via for t in spec.attach_to)
        problems.append(("timeline_target", vias,
                         f"the record names no {'/'.join(t.entity for t in spec.attach_to)} to put "
                         f"the note on ({vias} empty)"))
    return problems


def too_old(event: Event, now: datetime, history_days: int) -> bool:
    """Older than the mapping's history window: recorded, never written (a first sync of
    years of contracts does not flood the timelines)."""
    return event.occurred_at is not None and event.occurred_at < now - timedelta(
        days=history_days)


def action(status: str | None) -> str:
    """What a run does with an event whose key the warehouse holds with ``status``:
    never seen, refused or rejected before -> send; sent with an unknown outcome (a lost
    answer, a worker that died mid-call) -> look it up first; written or skipped -> done."""
    if status in ("written", "skipped"):
        return DONE
    if status in ("unknown", "sending"):
        return LOOKUP
    return SEND


def dedupe(events: Iterable[Event]) -> list[Event]:
    """One event per key (a record read twice in a window, two specs giving one key): the
    first wins, so the note is never sent twice in one call."""
    seen: dict[str, Event] = {}
    for event in events:
        seen.setdefault(event.key, event)
    return list(seen.values())


def hs_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as HubSpot's datetime properties take it."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"

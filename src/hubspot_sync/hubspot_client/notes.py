"""HubSpot notes (timeline activities): batch create with inline associations, never sent
twice blindly, and found again by the key written in their body.

A note create is not idempotent: HubSpot has no upsert key on notes unless the portal has a
unique custom note property, which this project does not assume. So a create whose answer
was lost (a 5xx after the write, a dropped connection, a cut body) is **not retried** here:
its inputs come back as ``unknown`` and the caller looks the note up on its record before it
creates it again (:func:`find_keyed_notes`). Only a 429 (refused before any work) is sent
again. Each note ends with a line ``sync key: <key>`` (:func:`key_line`) that the lookup finds.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubspot_sync.hubspot_client.errors import (
    INVALID_RESPONSE,
    MISSING_RESULT,
    BatchOutcome,
    HubSpotError,
)
from hubspot_sync.hubspot_client.reads import BATCH_SIZE
from hubspot_sync.values import chunks

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.hubspot_client.hook import HubSpotHook

log = logging.getLogger(__name__)

NOTES = "notes"
NOTE_PROPERTIES = ["hs_timestamp", "hs_note_body"]
KEY_PREFIX = "sync key: "
RATE_LIMIT_ATTEMPTS = 4
UNKNOWN_CATEGORIES = frozenset({INVALID_RESPONSE, MISSING_RESULT})


def key_line(key: str) -> str:
    """The body's last line, the note's key as a person and :func:`find_keyed_notes` read it."""
    return f"{KEY_PREFIX}{key}"


def note_body(lines: Sequence[str], key: str) -> str:
    """``hs_note_body``: HubSpot stores rich text, so each line is an escaped paragraph."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in [*lines, key_line(key)])


def body_key(body: str | None) -> str | None:
    """The sync key a note body carries, or None (a note a person wrote)."""
    text = html.unescape(body or "")
    start = text.rfind(KEY_PREFIX)
    if start < 0:
        return None
    return text[start + len(KEY_PREFIX):].split("<", 1)[0].strip() or None


@dataclass
class NoteOutcome:
    """Per key: the note id written, the reason HubSpot refused it (not applied), or the reason
    its outcome is unknown (it may exist)."""

    written: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    calls: int = 0


def create_notes(hook: HubSpotHook, notes: Mapping[str, Mapping[str, Any]]) -> NoteOutcome:
    """Create ``{key: {"properties": {...}, "associations": [...]}}``, 100 a call, several
    calls in flight (``objectWriteTraceId`` = the key, so every answer is matched to its
    event)."""
    items = [{"properties": dict(n["properties"]), "associations": list(n["associations"]),
              "objectWriteTraceId": key} for key, n in notes.items()]

    def send(chunk: list[dict]) -> NoteOutcome:
        part = NoteOutcome()
        _send(hook, chunk, part)
        return part

    outcome = NoteOutcome()
    for part in hook._dispatch(send, [list(c) for c in chunks(items, BATCH_SIZE)]).ordered():
        outcome.written.update(part.written)
        outcome.refused.update(part.refused)
        outcome.unknown.update(part.unknown)
        outcome.calls += part.calls
    return outcome


def _send(hook: HubSpotHook, chunk: list[dict], outcome: NoteOutcome) -> None:
    keys = [str(item["objectWriteTraceId"]) for item in chunk]
    for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
        outcome.calls += 1
        try:
            with hook.single_attempt():  # this thread's requests only
                batch: BatchOutcome = hook.batch_create(NOTES, chunk)
        except HubSpotError as exc:
            if exc.status == 429 and attempt < RATE_LIMIT_ATTEMPTS:
                # refused before any work: safe to send again after the window
                wait = hook.retrier.check_wait(max(1.0, hook._interval), "HubSpot 429")
                hook.retrier.sleep(wait)
                continue
            if exc.status == 429 or 400 <= exc.status < 500 and exc.status != 408:
                for key in keys:  # refused whole (not applied)
                    outcome.refused[key] = f"{exc.status} {exc.category}: {exc.message}"
                return
            reason = (f"{exc.status or 'network'} {exc.category}: {exc.message}; the note may "
                      "exist: the next run looks it up before creating it again")
            log.warning("notes batch of %d: outcome unknown (%s)", len(chunk), exc.category)
            for key in keys:
                outcome.unknown[key] = reason
            return
        for result in batch.results:
            trace = result.get("objectWriteTraceId")
            if trace in keys and result.get("id"):
                outcome.written[str(trace)] = str(result["id"])
        for error in batch.errors:
            trace = error.trace_id
            if trace is None or trace not in keys or trace in outcome.written:
                continue
            text = f"{error.category}: {error.message}"
            if error.category in UNKNOWN_CATEGORIES:
                outcome.unknown[trace] = text
            else:
                outcome.refused[trace] = text
        for key in keys:  # a result without a trace id: outcome unknown, never guessed
            if key not in outcome.written and key not in outcome.refused:
                outcome.unknown.setdefault(key, "HubSpot returned no result for this note")
        return


def find_keyed_notes(hook: HubSpotHook, object_type: str, record_ids: Iterable[str],
                     keys: Iterable[str]) -> dict[str, str]:
    """key -> note id of the notes on these records whose body carries one of ``keys``
    (v4 association batch read, then notes batch read: two calls per 100 records)."""
    wanted = set(keys)
    if not wanted:
        return {}
    linked = hook.read_associations(object_type, NOTES, record_ids)
    note_ids = sorted({n for ids in linked.values() for n in ids})
    found: dict[str, str] = {}
    for note in hook.batch_read(NOTES, note_ids, NOTE_PROPERTIES):
        key = body_key((note.get("properties") or {}).get("hs_note_body"))
        if key in wanted:
            found.setdefault(key, str(note["id"]))
    return found

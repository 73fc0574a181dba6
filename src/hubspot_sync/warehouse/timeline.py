"""Timeline events the sync has handled (``timeline_events``): one row per event key.

The row is what makes an event written once: the timeline step writes ``sending`` before it
asks HubSpot to create the note, then ``written`` with the note id, ``refused`` (HubSpot
said no: not applied, tried again next run), ``unknown`` (the answer was lost: the note may
exist, so the next run looks it up before creating it again), ``rejected`` (the event row
failed validation), or ``skipped`` (older than the mapping's history window). A ``sending``
row found by a later run means the worker died mid-call: treated as ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import as_int, as_key, as_text, batches, now

EVENT_STATUSES = ("sending", "written", "refused", "unknown", "rejected", "skipped")
EVENT_COLUMNS = ["entity", "event_key", "event", "source_id", "target_object", "target_id",
                 "occurred_at", "status", "note_id", "reason", "attempts", "first_run_id",
                 "last_run_id", "updated_at"]


class TimelineStore(WarehouseBase):
    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        # Events are keyed by their event, not by the run: a rerun of a run finds them and
        # must not write them again, so nothing is forgotten here.
        super()._forget_run(conn, entity, run_id)

    def timeline_events(self, entity: str, keys: Iterable[Any] | None = None,
                        statuses: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """event_key -> row (all of the entity's, or just these keys / statuses)."""
        t = self.tables["timeline_events"]
        base = select(*(t.c[c] for c in EVENT_COLUMNS)).where(t.c.entity == entity)
        if statuses is not None:
            base = base.where(t.c.status.in_(list(statuses)))
        out: dict[str, dict[str, Any]] = {}
        with self._connect() as conn:
            if keys is None:
                rows = [conn.execute(base).mappings().all()]
            else:
                wanted = sorted({k for k in (as_key(s) for s in keys) if k is not None})
                rows = [conn.execute(base.where(t.c.event_key.in_(list(chunk))))
                        .mappings().all() for chunk in batches(wanted)]
            for part in rows:
                for r in part:
                    out[r["event_key"]] = dict(r)
        return out

    def record_timeline_events(self, entity: str, run_id: str,
                               rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert or update events by key. A row gives event_key and status, and any of
        event, source_id, target_object, target_id, occurred_at, note_id, reason;
        ``attempts`` grows by one for each ``sending``."""
        incoming = {as_key(r["event_key"]): dict(r) for r in rows}
        incoming.pop(None, None)
        if not incoming:
            return 0
        for key, r in incoming.items():
            if r.get("status") not in EVENT_STATUSES:
                raise ValueError(f"timeline event {key}: unknown status {r.get('status')!r}")
        stamp = now()
        t = self.tables["timeline_events"]
        with self._begin() as conn:
            have: dict[str, dict[str, Any]] = {}
            for chunk in batches(sorted(incoming)):
                for r in conn.execute(select(t.c.event_key, t.c.attempts, t.c.note_id).where(
                        t.c.entity == entity, t.c.event_key.in_(list(chunk)))).mappings():
                    have[r["event_key"]] = dict(r)
            inserts, updates = [], []
            for key, r in incoming.items():
                sending = 1 if r["status"] == "sending" else 0
                values: dict[str, Any] = {
                    "status": r["status"], "reason": as_text(r.get("reason")),
                    "last_run_id": run_id, "updated_at": stamp}
                for name in ("event", "source_id", "target_object", "target_id", "note_id"):
                    if r.get(name) is not None:
                        values[name] = as_key(r[name])
                if r.get("occurred_at") is not None:
                    values["occurred_at"] = _instant(r["occurred_at"])
                if key in have:
                    values["attempts"] = (as_int(have[key]["attempts"]) or 0) + sending
                    updates.append((key, values))
                else:
                    inserts.append({"entity": entity, "event_key": key, "first_run_id": run_id,
                                    "attempts": sending, "note_id": None, "event": None,
                                    "source_id": None, "target_object": None,
                                    "target_id": None, "occurred_at": None, **values})
            for chunk in batches(inserts, 2_000):
                conn.execute(t.insert(), list(chunk))
            for key, values in updates:
                conn.execute(update(t).where(t.c.entity == entity, t.c.event_key == key)
                             .values(**values))
        return len(incoming)


def _instant(value: Any) -> datetime | None:
    from hubspot_sync.values import as_utc

    return as_utc(value)

"""Deletes and churn in the warehouse: ``tombstones`` (one row per record a person archived,
deleted or merged away in HubSpot, with when it was first and last seen), ``source_deletions``
(what a run flagged or archived, or would have, per record) and ``delete_checks`` (when an
entity's source ids were last scanned)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import Rows, as_key, batches, frame, now

TOMBSTONE_COLUMNS = ["entity", "source_id", "hubspot_id", "hubspot_object", "kind", "reason",
                     "times_seen", "first_seen_at", "last_seen_at", "first_run_id",
                     "last_run_id"]
SOURCE_DELETION_COLUMNS = ["source_id", "hubspot_id", "why", "action", "status", "message"]
_DELETION_SPEC = {"source_id": "key", "hubspot_id": "key", "why": "key", "action": "key",
                  "status": "key", "message": "text"}


class LifecycleStore(WarehouseBase):
    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        super()._forget_run(conn, entity, run_id)
        self._drop_run_rows(conn, "source_deletions", entity, run_id)

    # ------------------------------------------------------------------ tombstones

    def record_tombstones(self, entity: str, hubspot_object: str, run_id: str,
                          rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert or touch tombstones (source_id, hubspot_id, kind, reason): a record seen
        again keeps its first sighting; times_seen counts the runs that met it."""
        incoming = {k: dict(r) for r in rows if (k := as_key(r.get("source_id"))) is not None}
        if not incoming:
            return 0
        stamp = now()
        t = self.tables["tombstones"]
        with self._begin() as conn:
            have: dict[str, str] = {}
            for chunk in batches(sorted(incoming)):
                have.update(conn.execute(select(t.c.source_id, t.c.last_run_id).where(
                    t.c.entity == entity, t.c.source_id.in_(list(chunk)))).all())
            for sid, r in incoming.items():
                values = {"hubspot_id": as_key(r.get("hubspot_id")), "kind": r["kind"],
                          "reason": r.get("reason"), "last_seen_at": stamp,
                          "last_run_id": run_id, "hubspot_object": hubspot_object}
                if sid in have:
                    if values["hubspot_id"] is None:
                        del values["hubspot_id"]
                    seen = t.c.times_seen + (0 if have[sid] == run_id else 1)
                    conn.execute(update(t).where(t.c.entity == entity, t.c.source_id == sid)
                                 .values(**values, times_seen=seen))
                else:
                    conn.execute(insert(t).values(entity=entity, source_id=sid, times_seen=1,
                                                  first_seen_at=stamp, first_run_id=run_id,
                                                  **values))
        return len(incoming)

    def tombstones(self, entity: str, source_ids: Iterable[Any] | None = None) -> pd.DataFrame:
        """The entity's tombstones (all, or of these source ids)."""
        t = self.tables["tombstones"]
        base = select(*[t.c[c] for c in TOMBSTONE_COLUMNS]).where(t.c.entity == entity)
        rows: list[Any] = []
        with self._connect() as conn:
            if source_ids is None:
                rows = list(conn.execute(base.order_by(t.c.source_id)).all())
            else:
                ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
                for chunk in batches(ids):
                    rows += conn.execute(base.where(t.c.source_id.in_(list(chunk)))).all()
        return frame(rows, TOMBSTONE_COLUMNS, dt=("first_seen_at", "last_seen_at"))

    def clear_tombstones(self, entity: str, source_ids: Iterable[Any]) -> int:
        """Forget tombstones (the mapping now re-creates deleted records)."""
        return self._delete_records("tombstones", entity, source_ids)

    # ------------------------------------------------------------------ source deletions

    def write_source_deletions(self, entity: str, run_id: str, rows: Rows,
                               replace: bool = True) -> int:
        """A run's flag / archive plan and outcomes (SOURCE_DELETION_COLUMNS)."""
        return self._write("source_deletions", entity, run_id, rows, _DELETION_SPEC, replace)

    def read_source_deletions(self, entity: str, run_id: str) -> pd.DataFrame:
        return self._read("source_deletions", entity, run_id, SOURCE_DELETION_COLUMNS)

    # ------------------------------------------------------------------ delete checks

    def last_delete_check(self, entity: str) -> datetime | None:
        """When the entity's source ids were last scanned (None: never)."""
        t = self.tables["delete_checks"]
        with self._connect() as conn:
            return conn.execute(select(t.c.checked_at).where(t.c.entity == entity)).scalar()

    def note_delete_check(self, entity: str, run_id: str, source_ids: int,
                          at: datetime | None = None) -> None:
        t = self.tables["delete_checks"]
        values = {"checked_at": at or now(), "run_id": run_id, "source_ids": int(source_ids)}
        with self._begin() as conn:
            done = conn.execute(update(t).where(t.c.entity == entity).values(**values)).rowcount
            if not done:
                conn.execute(insert(t).values(entity=entity, **values))

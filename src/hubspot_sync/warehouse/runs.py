"""The run log (``sync_runs``): one row per (entity, run id) with window, status, counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Connection

from hubspot_sync.values import as_utc
from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import as_int, frame, now
from hubspot_sync.warehouse.schema import COUNT_KEYS, RUN_COLUMNS, RUN_KEYED_TABLES, RUN_STATUSES


class RunLog(WarehouseBase):
    """Start, finish and look up runs; starting a run id again forgets its earlier rows in
    every table (an Airflow retry or a cleared run replaces them)."""

    def start_run(self, entity: str, run_id: str, window_start: Any = None,
                  window_end: Any = None, full_refresh: bool = False,
                  dry_run: bool = False) -> None:
        """Log a run as running; a run id seen before is reset (its rows dropped)."""
        with self._begin() as conn:
            self._forget_run(conn, entity, run_id)
            conn.execute(insert(self.tables["sync_runs"]).values(
                entity=entity, run_id=run_id, started_at=now(), finished_at=None,
                status="running", window_start=as_utc(window_start),
                window_end=as_utc(window_end), full_refresh=bool(full_refresh),
                dry_run=bool(dry_run), details={}, **dict.fromkeys(COUNT_KEYS, 0)))

    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        super()._forget_run(conn, entity, run_id)
        self._drop_run_rows(conn, "sync_runs", entity, run_id)

    def finish_run(self, entity: str, run_id: str, status: str,
                   counts: Mapping[str, Any] | None = None) -> None:
        """Close a run with its status and counts; other keys of ``counts`` go to details."""
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, not {status!r}")
        counts = dict(counts or {})
        details = dict(counts.pop("details", None) or {})
        values: dict[str, Any] = {"status": status, "finished_at": now()}
        for key, value in counts.items():
            if key in COUNT_KEYS:
                values[key] = as_int(value) or 0
            else:
                details[key] = value
        t = self.tables["sync_runs"]
        with self._begin() as conn:
            old = conn.execute(select(t.c.details).where(
                t.c.entity == entity, t.c.run_id == run_id)).first()
            if old is None:  # finished without start_run: log it anyway
                conn.execute(insert(t).values(
                    entity=entity, run_id=run_id, started_at=values["finished_at"],
                    status=status, **dict.fromkeys(COUNT_KEYS, 0), details={}))
                old_details: dict[str, Any] = {}
            else:
                old_details = old[0] or {}
            values["details"] = {**old_details, **details}
            conn.execute(update(t).where(t.c.entity == entity, t.c.run_id == run_id)
                         .values(**values))

    def get_run(self, entity: str, run_id: str) -> dict[str, Any] | None:
        """One run-log row as a dict, or None."""
        t = self.tables["sync_runs"]
        with self._connect() as conn:
            row = conn.execute(select(*[t.c[c] for c in RUN_COLUMNS]).where(
                t.c.entity == entity, t.c.run_id == run_id)).mappings().first()
        return dict(row) if row else None

    def runs(self, entity: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Latest runs first (all entities unless ``entity``; ``limit=0``: no limit)."""
        t = self.tables["sync_runs"]
        q = select(*[t.c[c] for c in RUN_COLUMNS]).order_by(t.c.started_at.desc(),
                                                             t.c.run_id.desc())
        if entity is not None:
            q = q.where(t.c.entity == entity)
        if limit:
            q = q.limit(limit)
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return frame(rows, RUN_COLUMNS,
                     dt=("started_at", "finished_at", "window_start", "window_end"),
                     ints=COUNT_KEYS, bools=("full_refresh", "dry_run"))

    def last_successful_window_end(self, entity: str) -> datetime | None:
        """Latest window_end of a successful, non-dry run of ``entity`` (the watermark)."""
        t = self.tables["sync_runs"]
        q = (select(t.c.window_end)
             .where(t.c.entity == entity, t.c.status == "success", t.c.dry_run.is_(False),
                    t.c.window_end.is_not(None))
             .order_by(t.c.window_end.desc()).limit(1))
        with self._connect() as conn:
            return conn.execute(q).scalar()

    def successful_runs_started_after(self, entity: str, started_at: datetime,
                                      limit: int = 5) -> pd.DataFrame:
        """Successful, non-dry runs of ``entity`` that started after ``started_at``, newest
        first (is an older run's delta stale? an indexed query, not the whole log)."""
        t = self.tables["sync_runs"]
        q = (select(*[t.c[c] for c in RUN_COLUMNS])
             .where(t.c.entity == entity, t.c.status == "success", t.c.dry_run.is_(False),
                    t.c.started_at > started_at)
             .order_by(t.c.started_at.desc()).limit(limit))
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return frame(rows, RUN_COLUMNS,
                     dt=("started_at", "finished_at", "window_start", "window_end"),
                     ints=COUNT_KEYS, bools=("full_refresh", "dry_run"))

    def counts(self, entity: str, run_id: str) -> dict[str, int]:
        """Rows per run-keyed table for one run (for reports and tests)."""
        out = {}
        with self._connect() as conn:
            for name in RUN_KEYED_TABLES:
                t = self.tables[name]
                out[name] = conn.execute(select(func.count()).select_from(t).where(
                    and_(t.c.entity == entity, t.c.run_id == run_id))).scalar_one()
        return out

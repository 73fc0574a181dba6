"""What every table owner of the warehouse stands on: the engine, the declared tables,
the schema brought to the head revision before first use, and the bulk write / read of
rows keyed by (entity, run_id)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Engine, MetaData, delete, select
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse import migrate
from hubspot_sync.warehouse.bulk import bulk_insert
from hubspot_sync.warehouse.connection import make_engine
from hubspot_sync.warehouse.rows import (
    CONVERTERS,
    Rows,
    as_key,
    batches,
    columns_of,
    frame,
    utc_list,
)
from hubspot_sync.warehouse.schema import build_tables


class WarehouseBase:
    """Engine, declared tables and schema readiness, shared by every table owner.

    ``schema`` puts the tables in a PostgreSQL schema (created if missing); ignored on
    SQLite.
    """

    def __init__(self, url: str, *, schema: str | None = None,
                 engine_kwargs: Mapping[str, Any] | None = None) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, engine_kwargs)
        self.schema = None if self.engine.dialect.name == "sqlite" else schema
        self.metadata = MetaData(schema=self.schema)
        self.tables = build_tables(self.metadata)
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    # ----------------------------------------------------------------- schema

    def create_schema(self) -> None:
        """Bring the database to the head schema revision (idempotent, safe in parallel)."""
        self.migrate()

    def migrate(self) -> tuple[str | None, str]:
        """Apply pending migrations; returns (revision before, revision after)."""
        with self._lock:
            before, after = migrate.upgrade(self.engine, self.schema)
            self._ready = True
        return before, after

    def revision(self) -> str | None:
        """The schema revision the database is at (None: never migrated)."""
        with self.engine.connect() as conn:
            return migrate.current_revision(conn, self.schema)

    def _ensure_schema(self) -> None:
        if not self._ready:
            self.migrate()

    def _begin(self) -> Any:
        self._ensure_schema()
        return self.engine.begin()

    def _connect(self) -> Any:
        self._ensure_schema()
        return self.engine.connect()

    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        """Drop what a run wrote, before it runs again. Each table owner extends this for
        its own tables and calls super(); this end of the chain owns no table."""

    def _delete_records(self, table: str, entity: str, source_ids: Iterable[Any]) -> int:
        """Delete the rows of ``table`` for these source ids of ``entity`` (chunked, so a
        long id list stays under the databases' bound-parameter limits)."""
        ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
        t = self.tables[table]
        n = 0
        with self._begin() as conn:
            for chunk in batches(ids):
                n += conn.execute(delete(t).where(t.c.entity == entity,
                                                  t.c.source_id.in_(list(chunk)))).rowcount
        return n

    # ----------------------------------------------------------------- run-keyed rows

    def _write(self, name: str, entity: str, run_id: str, rows: Rows | None,
               spec: Mapping[str, str], replace: bool) -> int:
        """Bulk insert of ``rows`` under (entity, run_id); replaces the run's rows first.
        ``spec`` maps each column to how its values are stored: key, text, json or dt."""
        n, cols = columns_of(rows, list(spec))
        for col, kind in spec.items():
            cols[col] = (utc_list(cols[col]) if kind == "dt"
                         else [CONVERTERS[kind](v) for v in cols[col]])
        t = self.tables[name]
        with self._begin() as conn:
            if replace:
                self._drop_run_rows(conn, name, entity, run_id)
            if n:
                bulk_insert(conn, t, {"entity": entity, "run_id": run_id}, cols, n)
        return n

    def _read(self, name: str, entity: str, run_id: str, columns: Sequence[str],
              where: Any = None, dt: Sequence[str] = ()) -> pd.DataFrame:
        t = self.tables[name]
        q = select(*[t.c[c] for c in columns]).where(t.c.entity == entity, t.c.run_id == run_id)
        if where is not None:
            q = q.where(where)
        with self._connect() as conn:
            rows = conn.execute(q.order_by(t.c.id)).all()
        return frame(rows, columns, dt=dt)

    def _drop_run_rows(self, conn: Connection, name: str, entity: str, run_id: str) -> None:
        t = self.tables[name]
        conn.execute(delete(t).where(t.c.entity == entity, t.c.run_id == run_id))

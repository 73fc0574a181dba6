"""The two snapshots of a run: the flattened source records and the HubSpot side read for
them (``source_snapshot``, ``hubspot_snapshot``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import Rows, as_key, batches
from hubspot_sync.warehouse.schema import HUBSPOT_SNAPSHOT_COLUMNS, SOURCE_SNAPSHOT_COLUMNS

_SOURCE_SPEC = {"source_id": "key", "changed_at": "dt", "properties": "json", "links": "json",
                "skip_reason": "text", "problems": "json", "raw": "json"}
_HUBSPOT_SPEC = {"source_id": "key", "hubspot_id": "key", "matched_by": "key",
                 "properties": "json"}


class Snapshots(WarehouseBase):
    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        super()._forget_run(conn, entity, run_id)
        for name in ("source_snapshot", "hubspot_snapshot"):
            self._drop_run_rows(conn, name, entity, run_id)

    def write_source_snapshot(self, entity: str, run_id: str, df: Rows,
                              replace: bool = True) -> int:
        """Store the run's flattened source records (columns SOURCE_SNAPSHOT_COLUMNS)."""
        return self._write("source_snapshot", entity, run_id, df, _SOURCE_SPEC, replace)

    def read_source_snapshot(self, entity: str, run_id: str,
                             columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The run's source snapshot; ``columns`` reads only those (a step that needs no
        ``raw`` record skips decoding it: most of the snapshot's bytes)."""
        wanted = SOURCE_SNAPSHOT_COLUMNS if columns is None else \
            [c for c in SOURCE_SNAPSHOT_COLUMNS if c in columns]
        return self._read("source_snapshot", entity, run_id, wanted,
                          dt=("changed_at",) if "changed_at" in wanted else ())

    def write_hubspot_snapshot(self, entity: str, run_id: str, df: Rows,
                               replace: bool = True) -> int:
        """Store the HubSpot side read for the run (columns HUBSPOT_SNAPSHOT_COLUMNS)."""
        return self._write("hubspot_snapshot", entity, run_id, df, _HUBSPOT_SPEC, replace)

    def read_hubspot_snapshot(self, entity: str, run_id: str,
                              columns: Sequence[str] | None = None) -> pd.DataFrame:
        """HubSpot's side read for the run; ``columns`` reads only those."""
        return self._read("hubspot_snapshot", entity, run_id, HUBSPOT_SNAPSHOT_COLUMNS
                          if columns is None else
                          [c for c in HUBSPOT_SNAPSHOT_COLUMNS if c in columns])

    def latest_links(self, entity: str, source_ids: Iterable[Any]) -> dict[str, dict]:
        """The ``links`` of each record's most recent source snapshot row (a child's parent,
        its references), for records a run has to find again."""
        ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
        t = self.tables["source_snapshot"]
        out: dict[str, dict] = {}
        with self._connect() as conn:
            for chunk in batches(ids):
                q = (select(t.c.source_id, t.c.links)
                     .where(t.c.entity == entity, t.c.source_id.in_(list(chunk)))
                     .order_by(t.c.id.desc()))
                for sid, links in conn.execute(q):
                    out.setdefault(str(sid), links or {})
        return out

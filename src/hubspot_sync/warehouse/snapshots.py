"""The two snapshots of a run: the flattened source records and the HubSpot side read for
them (``source_snapshot``, ``hubspot_snapshot``)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import Rows
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

    def read_source_snapshot(self, entity: str, run_id: str) -> pd.DataFrame:
        return self._read("source_snapshot", entity, run_id, SOURCE_SNAPSHOT_COLUMNS,
                          dt=("changed_at",))

    def write_hubspot_snapshot(self, entity: str, run_id: str, df: Rows,
                               replace: bool = True) -> int:
        """Store the HubSpot side read for the run (columns HUBSPOT_SNAPSHOT_COLUMNS)."""
        return self._write("hubspot_snapshot", entity, run_id, df, _HUBSPOT_SPEC, replace)

    def read_hubspot_snapshot(self, entity: str, run_id: str) -> pd.DataFrame:
        return self._read("hubspot_snapshot", entity, run_id, HUBSPOT_SNAPSHOT_COLUMNS)

"""The classified delta of a run and what became of each write (``delta``,
``load_outcomes``)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy.engine import Connection

from hubspot_sync.records import DELTA_ACTIONS, DELTA_COLUMNS, LOAD_OUTCOME_COLUMNS
from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import Rows, columns_of

_DELTA_SPEC = {"source_id": "key", "hubspot_id": "key", "action": "key",
               "changed_fields": "json", "before": "json", "after": "json", "reason": "text",
               "matched_by": "key", "changed_at": "dt"}
_OUTCOME_SPEC = {"source_id": "key", "hubspot_id": "key", "action": "key", "status": "key",
                 "category": "key", "message": "text"}


class DeltaStore(WarehouseBase):
    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        super()._forget_run(conn, entity, run_id)
        for name in ("delta", "load_outcomes"):
            self._drop_run_rows(conn, name, entity, run_id)

    def write_delta(self, entity: str, run_id: str, df: Rows, replace: bool = True) -> int:
        """Store the classified delta / dry-run plan (columns DELTA_COLUMNS)."""
        _, cols = columns_of(df, ["action"])
        bad = sorted({a for a in cols["action"] if a not in DELTA_ACTIONS}, key=str)
        if bad:
            raise ValueError(f"unknown delta action(s) {bad}; expected one of {DELTA_ACTIONS}")
        return self._write("delta", entity, run_id, df, _DELTA_SPEC, replace)

    def read_delta(self, entity: str, run_id: str, actions: Sequence[str] | None = None,
                   columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The run's delta rows (of ``actions``); ``columns`` reads only those (counting a
        million unchanged rows needs no before/after decoded)."""
        t = self.tables["delta"]
        where = t.c.action.in_(list(actions)) if actions is not None else None
        wanted = DELTA_COLUMNS if columns is None else [c for c in DELTA_COLUMNS if c in columns]
        return self._read("delta", entity, run_id, wanted, where=where,
                          dt=("changed_at",) if "changed_at" in wanted else ())

    def write_load_outcomes(self, entity: str, run_id: str, rows: Rows,
                            replace: bool = True) -> int:
        """Store per-row load results (columns LOAD_OUTCOME_COLUMNS); ``replace=False`` appends."""
        return self._write("load_outcomes", entity, run_id, rows, _OUTCOME_SPEC, replace)

    def read_load_outcomes(self, entity: str, run_id: str) -> pd.DataFrame:
        return self._read("load_outcomes", entity, run_id, LOAD_OUTCOME_COLUMNS)

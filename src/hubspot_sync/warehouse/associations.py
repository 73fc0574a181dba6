"""Associations waiting for their target to be synced (``pending_associations``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import Rows, as_int, as_key, as_text, batches, columns_of, now
from hubspot_sync.warehouse.schema import PENDING_COLUMNS

AssocKey = tuple[str | None, str | None, str | None, int | None]


def _assoc_key(row: Any) -> AssocKey:
    """(source_id, to_entity, to_source_id, type_id) of a dict or a 3- or 4-tuple."""
    if isinstance(row, Mapping):
        vals = (row.get("source_id"), row.get("to_entity"), row.get("to_source_id"),
                row.get("type_id"))
    else:
        vals = (*tuple(row)[:4], None, None, None, None)[:4]
    return as_key(vals[0]), as_key(vals[1]), as_key(vals[2]), as_int(vals[3])


class PendingAssociationStore(WarehouseBase):
    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        super()._forget_run(conn, entity, run_id)
        pa = self.tables["pending_associations"]
        conn.execute(delete(pa).where(pa.c.entity == entity, pa.c.first_seen_run == run_id,
                                      pa.c.last_tried_run == run_id))

    def add_pending_associations(self, entity: str, run_id: str, rows: Rows) -> int:
        """Queue associations whose target is not synced yet (dicts with source_id,
        to_entity, to_source_id, type_id, reason); a queued one is marked tried again and
        its ``attempts`` counts the runs that tried it, unless a row gives ``attempts``
        itself (the associate step counts HubSpot's refusals in a row that way)."""
        names = ["source_id", "to_entity", "to_source_id", "type_id", "reason", "attempts"]
        _, cols = columns_of(rows, names)
        incoming: dict[AssocKey, tuple[str | None, int | None]] = {}
        for vals in zip(*(cols[c] for c in names), strict=True):
            r = dict(zip(names, vals, strict=True))
            key = _assoc_key(r)
            if None in key[:3]:
                raise ValueError(f"pending association needs source_id, to_entity and "
                                 f"to_source_id: {r!r}")
            incoming[key] = (as_text(r["reason"]), as_int(r["attempts"]))
        if not incoming:
            return 0
        stamp = now()
        pa = self.tables["pending_associations"]
        with self._begin() as conn:
            existing = {(r.source_id, r.to_entity, r.to_source_id, r.type_id):
                        (r.id, r.last_tried_run)
                        for r in conn.execute(select(pa).where(pa.c.entity == entity))}
            counted, given, inserts = [], [], []
            for key, (reason, attempts) in incoming.items():
                if key in existing:
                    rid, last = existing[key]
                    row = {"_id": rid, "_run": run_id, "_reason": reason, "_now": stamp}
                    if attempts is None:
                        counted.append({**row, "_inc": 0 if last == run_id else 1})
                    else:
                        given.append({**row, "_attempts": attempts})
                else:
                    inserts.append({"entity": entity, "source_id": key[0], "to_entity": key[1],
                                    "to_source_id": key[2], "type_id": key[3],
                                    "first_seen_run": run_id, "last_tried_run": run_id,
                                    "reason": reason, "attempts": attempts or 1,
                                    "updated_at": stamp})
            tried = update(pa).where(pa.c.id == bindparam("_id")).values(
                last_tried_run=bindparam("_run"), reason=bindparam("_reason"),
                updated_at=bindparam("_now"))
            if counted:
                conn.execute(tried.values(attempts=pa.c.attempts + bindparam("_inc")), counted)
            if given:
                conn.execute(tried.values(attempts=bindparam("_attempts")), given)
            for chunk in batches(inserts):
                conn.execute(insert(pa), list(chunk))
        return len(incoming)

    def pending_associations(self, entity: str) -> list[dict[str, Any]]:
        """Queued associations of ``entity``, oldest first."""
        pa = self.tables["pending_associations"]
        with self._connect() as conn:
            rows = conn.execute(select(*[pa.c[c] for c in PENDING_COLUMNS])
                                .where(pa.c.entity == entity).order_by(pa.c.id)).mappings()
            return [dict(r) for r in rows]

    def clear_pending_associations(self, entity: str, keys: Iterable[Any]) -> int:
        """Drop queued associations (dicts or (source_id, to_entity, to_source_id[, type_id])
        tuples); a key without type_id clears every type."""
        wanted = {_assoc_key(k) for k in keys}
        if not wanted:
            return 0
        any_type = {k[:3] for k in wanted if k[3] is None}
        pa = self.tables["pending_associations"]
        with self._begin() as conn:
            ids = [r.id for r in conn.execute(select(
                pa.c.id, pa.c.source_id, pa.c.to_entity, pa.c.to_source_id, pa.c.type_id)
                .where(pa.c.entity == entity))
                if (r.source_id, r.to_entity, r.to_source_id, r.type_id) in wanted
                or (r.source_id, r.to_entity, r.to_source_id) in any_type]
            for chunk in batches(ids):
                conn.execute(delete(pa).where(pa.c.id.in_(list(chunk))))
        return len(ids)

"""The id map (``id_map``): which HubSpot record each source record of an entity is."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import as_key, batches, now

log = logging.getLogger(__name__)


def _latest(pairs: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """source_id -> hubspot_id; pairs missing either id are left out, the last one wins."""
    latest: dict[str, str] = {}
    for source_id, hubspot_id in pairs:
        s, h = as_key(source_id), as_key(hubspot_id)
        if s is not None and h is not None:
            latest[s] = h
    return latest


class IdMapStore(WarehouseBase):
    def upsert_id_map(self, entity: str, hubspot_object: str, run_id: str,
                      pairs: Iterable[tuple[Any, Any]]) -> int:
        """Insert or update (source_id, hubspot_id) pairs; first_synced_run is kept."""
        latest = _latest(pairs)
        if not latest:
            return 0
        with self._begin() as conn:
            return self._upsert(conn, entity, hubspot_object, run_id, latest)

    def replace_id_map(self, entity: str, hubspot_object: str, run_id: str,
                       pairs: Iterable[tuple[Any, Any]]) -> int:
        """Make the entity's id map exactly these (source_id, hubspot_id) pairs (a full
        refresh rebuilds it from HubSpot's answer): pairs are upserted, source ids not among
        them are dropped, in one transaction. Returns the number of pairs kept."""
        latest = _latest(pairs)
        t = self.tables["id_map"]
        with self._begin() as conn:
            have = conn.execute(select(t.c.source_id).where(t.c.entity == entity)).scalars()
            stale = sorted(set(have) - set(latest))
            for chunk in batches(stale):
                conn.execute(delete(t).where(t.c.entity == entity,
                                             t.c.source_id.in_(list(chunk))))
            written = self._upsert(conn, entity, hubspot_object, run_id, latest)
        if stale:
            log.info("id map of %s rebuilt: %d pairs, %d dropped", entity, written, len(stale))
        return written

    def _upsert(self, conn: Connection, entity: str, hubspot_object: str, run_id: str,
                latest: dict[str, str]) -> int:
        stamp = now()
        records = [{"entity": entity, "source_id": s, "hubspot_id": h,
                    "hubspot_object": hubspot_object, "first_synced_run": run_id,
                    "last_synced_run": run_id, "updated_at": stamp} for s, h in latest.items()]
        t = self.tables["id_map"]
        if self.dialect in ("sqlite", "postgresql"):
            # Same ON CONFLICT API on both dialects, but two distinct Insert classes.
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert
                stmt: Any = sqlite_insert(t)
            else:
                from sqlalchemy.dialects.postgresql import insert as pg_insert
                stmt = pg_insert(t)
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.c.entity, t.c.source_id],
                set_={"hubspot_id": stmt.excluded.hubspot_id,
                      "hubspot_object": stmt.excluded.hubspot_object,
                      "last_synced_run": stmt.excluded.last_synced_run,
                      "updated_at": stmt.excluded.updated_at})
            for chunk in batches(records, 2_000):
                conn.execute(stmt, list(chunk))
            return len(records)
        # any other backend: look up, then update or insert
        have: set[str] = set()
        for chunk in batches(list(latest)):
            have.update(conn.execute(select(t.c.source_id).where(
                t.c.entity == entity, t.c.source_id.in_(list(chunk)))).scalars())
        ups = [{**r, "_sid": r["source_id"]} for r in records if r["source_id"] in have]
        if ups:
            conn.execute(update(t).where(
                t.c.entity == entity, t.c.source_id == bindparam("_sid")).values(
                hubspot_id=bindparam("hubspot_id"), hubspot_object=bindparam("hubspot_object"),
                last_synced_run=bindparam("last_synced_run"),
                updated_at=bindparam("updated_at")), ups)
        new = [r for r in records if r["source_id"] not in have]
        for chunk in batches(new):
            conn.execute(insert(t), list(chunk))
        return len(records)

    def drop_id_map(self, entity: str, source_ids: Iterable[Any]) -> int:
        """Forget these source ids' pairs (their HubSpot record was archived, by the sync
        or by a person): the id map holds the records the sync keeps in step."""
        return self._delete_records("id_map", entity, source_ids)

    def id_map(self, entity: str, source_ids: Iterable[Any] | None = None) -> dict[str, str]:
        """source_id -> hubspot_id for ``entity`` (all, or just these source ids)."""
        t = self.tables["id_map"]
        base = select(t.c.source_id, t.c.hubspot_id).where(t.c.entity == entity)
        with self._connect() as conn:
            if source_ids is None:
                return dict(conn.execute(base).all())
            ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
            out: dict[str, str] = {}
            for chunk in batches(ids):
                out.update(conn.execute(base.where(t.c.source_id.in_(list(chunk)))).all())
            return out

    def source_ids_for(self, entity: str, hubspot_ids: Iterable[Any]) -> dict[str, str]:
        """hubspot_id -> source_id for these HubSpot ids (those in the id map)."""
        t = self.tables["id_map"]
        ids = sorted({k for k in (as_key(h) for h in hubspot_ids) if k is not None})
        out: dict[str, str] = {}
        with self._connect() as conn:
            for chunk in batches(ids):
                out.update(conn.execute(select(t.c.hubspot_id, t.c.source_id).where(
                    t.c.entity == entity, t.c.hubspot_id.in_(list(chunk)))).all())
        return out

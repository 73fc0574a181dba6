"""The associations the sync made (``association_ledger``) and the looked-up records each
synced record used (``lookup_refs``), both from revision 0008.

The ledger is what lets a changed source link remove the old association: only a pair the
ledger holds is ever removed, so an association a person made in HubSpot is never touched.
``lookup_refs`` lets a run find the records whose looked-up record (a line item's plan)
changed since they were written, without reading every record again. Neither belongs to
one run: a re-run of a run keeps them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import as_int, as_key, batches, now

LEDGER_COLUMNS = ["entity", "source_id", "hubspot_id", "to_entity", "to_source_id",
                  "to_hubspot_id", "type_id", "origin", "made_in_run", "made_at"]
LOOKUP_REF_COLUMNS = ["entity", "source_id", "parent_source_id", "lookup", "lookup_id",
                      "digest", "run_id"]

LedgerKey = tuple[str, str, str, int]  # (source_id, to_entity, to_hubspot_id, type_id)


def ledger_key(row: Mapping[str, Any]) -> LedgerKey:
    return (str(as_key(row["source_id"])), str(as_key(row["to_entity"])),
            str(as_key(row["to_hubspot_id"])), int(as_int(row["type_id"]) or 0))


class AssociationLedgerStore(WarehouseBase):
    def record_associations(self, entity: str, run_id: str,
                            rows: Iterable[Mapping[str, Any]]) -> int:
        """Add associations the sync made (or confirmed) to the ledger: dicts with
        LEDGER_COLUMNS' source_id, hubspot_id, to_entity, to_source_id, to_hubspot_id,
        type_id and origin (``created`` | ``confirmed``). A pair already held keeps its
        first row (when and how it was first made)."""
        incoming = {ledger_key(r): r for r in rows}
        if not incoming:
            return 0
        t = self.tables["association_ledger"]
        stamp = now()
        with self._begin() as conn:
            have = {ledger_key(dict(r._mapping)) for chunk in batches(
                sorted({k[0] for k in incoming}))
                for r in conn.execute(select(t.c.source_id, t.c.to_entity, t.c.to_hubspot_id,
                                             t.c.type_id).where(
                    t.c.entity == entity, t.c.source_id.in_(list(chunk))))}
            new = [{"entity": entity, "source_id": key[0], "hubspot_id": as_key(r["hubspot_id"]),
                    "to_entity": key[1], "to_source_id": as_key(r.get("to_source_id")),
                    "to_hubspot_id": key[2], "type_id": key[3],
                    "origin": r.get("origin") or "created", "made_in_run": run_id,
                    "made_at": stamp}
                   for key, r in incoming.items() if key not in have]
            for chunk in batches(new):
                conn.execute(insert(t), list(chunk))
        return len(new)

    def ledger(self, entity: str, source_ids: Iterable[Any] | None = None) -> list[dict]:
        """The ledger rows of ``entity`` (all, or those of these source records)."""
        t = self.tables["association_ledger"]
        base = select(*[t.c[c] for c in LEDGER_COLUMNS]).where(t.c.entity == entity)
        with self._connect() as conn:
            if source_ids is None:
                return [dict(r) for r in conn.execute(base.order_by(t.c.id)).mappings()]
            ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
            out: list[dict] = []
            for chunk in batches(ids):
                out += [dict(r) for r in conn.execute(
                    base.where(t.c.source_id.in_(list(chunk))).order_by(t.c.id)).mappings()]
            return out

    def ledger_size(self, entity: str) -> int:
        """How many associations the ledger holds for ``entity``."""
        t = self.tables["association_ledger"]
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t).where(
                t.c.entity == entity)).scalar_one())

    def forget_associations(self, entity: str, keys: Iterable[LedgerKey]) -> int:
        """Drop ledger rows (source_id, to_entity, to_hubspot_id, type_id): the association
        was removed, or HubSpot no longer has it."""
        wanted = set(keys)
        if not wanted:
            return 0
        t = self.tables["association_ledger"]
        with self._begin() as conn:
            ids = [r.id for chunk in batches(sorted({k[0] for k in wanted}))
                   for r in conn.execute(select(t.c.id, t.c.source_id, t.c.to_entity,
                                                t.c.to_hubspot_id, t.c.type_id).where(
                       t.c.entity == entity, t.c.source_id.in_(list(chunk))))
                   if (r.source_id, r.to_entity, r.to_hubspot_id, r.type_id) in wanted]
            for chunk in batches(ids):
                conn.execute(delete(t).where(t.c.id.in_(list(chunk))))
        return len(ids)

    def forget_records_associations(self, entity: str, source_ids: Iterable[Any]) -> int:
        """Drop every ledger row of these records (archived: their associations went with
        them)."""
        return self._delete_records("association_ledger", entity, source_ids)

    # ------------------------------------------------------------------ lookup refs

    def write_lookup_refs(self, entity: str, run_id: str, parents: Iterable[Any],
                          rows: Iterable[Mapping[str, Any]]) -> int:
        """Replace the lookup references of the records extracted this run: those of every
        record whose parent (or itself, for a top-level record) is in ``parents``, by
        ``rows`` (dicts with source_id, parent_source_id, lookup, lookup_id, digest)."""
        scope = sorted({k for k in (as_key(p) for p in parents) if k is not None})
        t = self.tables["lookup_refs"]
        records = [{"entity": entity, "source_id": as_key(r["source_id"]),
                    "parent_source_id": as_key(r.get("parent_source_id")),
                    "lookup": r["lookup"], "lookup_id": as_key(r["lookup_id"]),
                    "digest": r["digest"], "run_id": run_id} for r in rows]
        with self._begin() as conn:
            for chunk in batches(scope):
                conn.execute(delete(t).where(t.c.entity == entity,
                                             t.c.parent_source_id.in_(list(chunk))))
            for chunk in batches(records):
                conn.execute(insert(t), list(chunk))
        return len(records)

    def lookup_refs(self, entity: str, lookup: str,
                    lookup_ids: Iterable[Any] | None = None) -> list[dict]:
        """The references of ``entity``'s records to records of ``lookup`` (all, or to these
        looked-up ids)."""
        t = self.tables["lookup_refs"]
        base = select(*[t.c[c] for c in LOOKUP_REF_COLUMNS]).where(
            t.c.entity == entity, t.c.lookup == lookup)
        with self._connect() as conn:
            if lookup_ids is None:
                return [dict(r) for r in conn.execute(base).mappings()]
            ids = sorted({k for k in (as_key(s) for s in lookup_ids) if k is not None})
            out: list[dict] = []
            for chunk in batches(ids):
                out += [dict(r) for r in conn.execute(
                    base.where(t.c.lookup_id.in_(list(chunk)))).mappings()]
            return out

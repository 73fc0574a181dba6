"""Two-way sync in the warehouse: ``two_way_baseline`` (per entity, record and HubSpot
property, the last value both sides agreed on; state, never pruned), ``two_way_decisions``
(which way each property of each record flows in a run; run-scoped like the delta) and
``sync_conflicts`` (both sides changed a property: both values and times, the rule and the
winner; recorded once per run, record and property, and kept ``reject_retention_days``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from hubspot_sync.values import as_utc, is_missing
from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import Rows, as_key, batches, columns_of, frame, now

BASELINE_COLUMNS = ["source_id", "property", "value"]
PENDING_COLUMNS = [*BASELINE_COLUMNS, "has_value", "pending_value", "has_pending"]
DECISION_COLUMNS = ["source_id", "hubspot_id", "property", "to_hubspot", "to_officernd",
                    "agreed", "value"]
CONFLICT_COLUMNS = ["entity", "run_id", "source_id", "hubspot_id", "property",
                    "officernd_value", "officernd_changed_at", "hubspot_value",
                    "hubspot_changed_at", "rule", "winner", "detected_at"]
_DECISION_SPEC = {"source_id": "key", "hubspot_id": "key", "property": "key",
                  "to_hubspot": "json", "to_officernd": "json", "agreed": "json",
                  "value": "text"}
_CONFLICT_DT = ("officernd_changed_at", "hubspot_changed_at", "detected_at")


def _flag(value: Any) -> bool:
    return False if is_missing(value) else bool(value)


def _text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def _pairs(rows: Iterable[Any]) -> dict[tuple[str, str], str | None]:
    """(source_id, property) -> value of tuples or mappings; a pair given twice keeps its
    last value."""
    values: dict[tuple[str, str], str | None] = {}
    for row in rows:
        if isinstance(row, Mapping):
            sid, prop, value = row.get("source_id"), row.get("property"), row.get("value")
        else:
            sid, prop, value = row
        key = as_key(sid)
        if key is None or prop is None:
            continue
        values[(key, str(prop))] = _text(value)
    return values


def _ids_by_property(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    by_property: dict[str, list[str]] = {}
    for sid, prop in pairs:
        by_property.setdefault(prop, []).append(sid)
    return by_property


def _pair_filters(t: Any, entity: str, by_property: dict[str, list[str]]) -> Iterator[tuple]:
    """The WHERE clauses selecting the given (source_id, property) pairs of ``entity``, a
    chunk of ids of one property at a time (the IN-list limit)."""
    for prop, ids in by_property.items():
        for chunk in batches(sorted(ids)):
            yield (t.c.entity == entity, t.c.property == prop, t.c.source_id.in_(list(chunk)))


class TwoWayStore(WarehouseBase):
    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        # Conflicts stay: a retried run that finds the sides agreeing must not lose them.
        super()._forget_run(conn, entity, run_id)
        self._drop_run_rows(conn, "two_way_decisions", entity, run_id)

    # ------------------------------------------------------------------ baseline

    def read_baseline(self, entity: str, source_ids: Iterable[Any] | None = None
                      ) -> pd.DataFrame:
        """The agreed values (BASELINE_COLUMNS) of the entity: all, or of these records. A
        row with value None is an agreed blank; no row is no baseline."""
        return self._read_baseline_rows(entity, source_ids, False)

    def read_baseline_pending(self, entity: str, source_ids: Iterable[Any] | None = None
                              ) -> pd.DataFrame:
        """The baseline with the write-ahead values (PENDING_COLUMNS): ``has_value`` False is
        no baseline yet; ``pending_value`` counts only when ``has_pending`` (None is a value)."""
        df = self._read_baseline_rows(entity, source_ids, True)
        for c in ("has_value", "has_pending"):
            df[c] = df[c].astype(bool)
        return df

    def _read_baseline_rows(self, entity: str, source_ids: Iterable[Any] | None,
                            with_pending: bool) -> pd.DataFrame:
        t = self.tables["two_way_baseline"]
        columns = PENDING_COLUMNS if with_pending else BASELINE_COLUMNS
        base = select(*[t.c[c] for c in columns]).where(t.c.entity == entity)
        if not with_pending:
            base = base.where(t.c.has_value.is_(True))
        rows: list[Any] = []
        with self._connect() as conn:
            if source_ids is None:
                rows = list(conn.execute(base.order_by(t.c.source_id, t.c.property)).all())
            else:
                ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
                for chunk in batches(ids):
                    rows += conn.execute(base.where(t.c.source_id.in_(list(chunk)))
                                         .order_by(t.c.source_id, t.c.property)).all()
        return frame(rows, columns)

    def write_baseline(self, entity: str, run_id: str, rows: Iterable[Any]) -> int:
        """Set the agreed value of (source_id, property) pairs: tuples ``(source_id,
        property, value)`` or mappings with those keys. A pair given twice keeps its last
        value; the pairs' pending values are cleared (their write is confirmed). Returns the
        number of pairs written."""
        values = _pairs(rows)
        if not values:
            return 0
        t = self.tables["two_way_baseline"]
        stamp = now()
        by_property = _ids_by_property(values)
        records = [{"entity": entity, "source_id": sid, "property": prop, "value": value,
                    "run_id": run_id, "updated_at": stamp}
                   for (sid, prop), value in sorted(values.items())]
        with self._begin() as conn:
            for where in _pair_filters(t, entity, by_property):
                conn.execute(delete(t).where(*where))
            for chunk in batches(records):
                conn.execute(insert(t), list(chunk))
        return len(values)

    def write_pending(self, entity: str, run_id: str, rows: Iterable[Any]) -> int:
        """Write-ahead, before a write is sent: ``(source_id, property, value)`` tuples (or
        mappings) become the pairs' pending values, keeping their baselines (a pair without
        one gets a row with ``has_value`` False). One transaction; the number of pairs."""
        values = _pairs(rows)
        if not values:
            return 0
        t = self.tables["two_way_baseline"]
        stamp = now()
        by_property = _ids_by_property(values)
        with self._begin() as conn:
            existing: dict[tuple[str, str], tuple[Any, bool]] = {}
            for where in _pair_filters(t, entity, by_property):
                for sid, prop, value, has_value in conn.execute(
                        select(t.c.source_id, t.c.property, t.c.value, t.c.has_value)
                        .where(*where)).all():
                    existing[(str(sid), str(prop))] = (value, bool(has_value))
                conn.execute(delete(t).where(*where))
            records = []
            for (sid, prop), pending in sorted(values.items()):
                value, has_value = existing.get((sid, prop), (None, False))
                records.append({"entity": entity, "source_id": sid, "property": prop,
                                "value": value, "has_value": has_value,
                                "pending_value": pending, "has_pending": True,
                                "run_id": run_id, "updated_at": stamp})
            for chunk in batches(records):
                conn.execute(insert(t), list(chunk))
        return len(values)

    def clear_pending(self, entity: str, pairs: Iterable[tuple[Any, Any]]) -> int:
        """Forget the pending values of (source_id, property) pairs whose write was refused
        (definitely not applied); a row that held only a pending value goes. The number of
        pairs that had one."""
        by_property = _ids_by_property({(k, str(p)): None for k, p in
                                        ((as_key(s), p) for s, p in pairs)
                                        if k is not None and p is not None})
        if not by_property:
            return 0
        t = self.tables["two_way_baseline"]
        done = 0
        with self._begin() as conn:
            for pair in _pair_filters(t, entity, by_property):
                where = (*pair, t.c.has_pending.is_(True))
                done += conn.execute(delete(t).where(*where, t.c.has_value.is_(False))
                                     ).rowcount or 0
                done += conn.execute(update(t).where(*where).values(
                    pending_value=None, has_pending=False)).rowcount or 0
        return done

    def forget_baseline(self, entity: str, source_ids: Iterable[Any]) -> int:
        """Drop the baseline of these records (deleted on both sides)."""
        return self._delete_records("two_way_baseline", entity, source_ids)

    # ------------------------------------------------------------------ decisions

    def write_decisions(self, entity: str, run_id: str, rows: Rows,
                        replace: bool = True) -> int:
        """A run's decisions (DECISION_COLUMNS); ``agreed`` missing means neither write."""
        n, cols = columns_of(rows, DECISION_COLUMNS)
        to_h = [_flag(v) for v in cols["to_hubspot"]]
        to_o = [_flag(v) for v in cols["to_officernd"]]
        agreed = [(not h and not o) if is_missing(a) else bool(a)
                  for a, h, o in zip(cols["agreed"], to_h, to_o, strict=True)]
        data = {**cols, "to_hubspot": to_h, "to_officernd": to_o, "agreed": agreed}
        records = [dict(zip(DECISION_COLUMNS, vals, strict=True))
                   for vals in zip(*(data[c] for c in DECISION_COLUMNS), strict=True)] if n else []
        return self._write("two_way_decisions", entity, run_id, records, _DECISION_SPEC,
                           replace)

    def read_decisions(self, entity: str, run_id: str) -> pd.DataFrame:
        df = self._read("two_way_decisions", entity, run_id, DECISION_COLUMNS)
        for c in ("to_hubspot", "to_officernd", "agreed"):
            df[c] = df[c].astype(bool)
        return df

    # ------------------------------------------------------------------ conflicts

    def record_conflicts(self, entity: str, run_id: str, rows: Rows) -> int:
        """Record conflicts (CONFLICT_COLUMNS less entity, run_id, detected_at): once per
        (run, record, property); recording one again in the same run replaces it."""
        wanted = [c for c in CONFLICT_COLUMNS if c not in ("entity", "run_id", "detected_at")]
        n, cols = columns_of(rows, wanted)
        if not n:
            return 0
        stamp = now()
        incoming: dict[tuple[str, str], dict[str, Any]] = {}
        for i in range(n):
            sid, prop = as_key(cols["source_id"][i]), cols["property"][i]
            if sid is None or is_missing(prop):
                continue
            incoming[(sid, str(prop))] = {
                "entity": entity, "run_id": run_id, "source_id": sid, "property": str(prop),
                "hubspot_id": as_key(cols["hubspot_id"][i]),
                "officernd_value": _text(cols["officernd_value"][i]),
                "officernd_changed_at": as_utc(cols["officernd_changed_at"][i]),
                "hubspot_value": _text(cols["hubspot_value"][i]),
                "hubspot_changed_at": as_utc(cols["hubspot_changed_at"][i]),
                "rule": str(cols["rule"][i]), "winner": str(cols["winner"][i]),
                "detected_at": stamp}
        t = self.tables["sync_conflicts"]
        with self._begin() as conn:
            for sid, prop in incoming:
                conn.execute(delete(t).where(t.c.entity == entity, t.c.run_id == run_id,
                                             t.c.source_id == sid, t.c.property == prop))
            for chunk in batches(list(incoming.values())):
                conn.execute(insert(t), list(chunk))
        return len(incoming)

    def read_conflicts(self, entity: str | None = None, limit: int = 100,
                       run_id: str | None = None) -> pd.DataFrame:
        """Conflicts newest first (all entities when ``entity`` is None; 0: no limit)."""
        t = self.tables["sync_conflicts"]
        q = select(*[t.c[c] for c in CONFLICT_COLUMNS])
        if entity is not None:
            q = q.where(t.c.entity == entity)
        if run_id is not None:
            q = q.where(t.c.run_id == run_id)
        q = q.order_by(t.c.detected_at.desc(), t.c.id.desc())
        if limit:
            q = q.limit(limit)
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return frame(rows, CONFLICT_COLUMNS, dt=_CONFLICT_DT)

    def prune_conflicts(self, detected_before: datetime, *, dry_run: bool = False,
                        batch_size: int = 5_000) -> int:
        """Conflicts detected before ``detected_before`` (kept like resolved rejects); the
        number deleted (counted only when ``dry_run``)."""
        t = self.tables["sync_conflicts"]
        old = t.c.detected_at < as_utc(detected_before)
        if dry_run:
            with self._connect() as conn:
                return int(conn.execute(select(func.count()).select_from(t).where(old))
                           .scalar_one())
        done = 0
        while True:
            with self._begin() as conn:
                ids = conn.execute(select(t.c.id).where(old).limit(batch_size)).scalars().all()
                if not ids:
                    return done
                done += conn.execute(delete(t).where(and_(t.c.id.in_(ids)))).rowcount or 0

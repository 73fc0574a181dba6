"""Rejected records and their history (``rejects``: one open row per (entity, source_id,
rule, property) until resolved; ``reject_events``: one row per run that saw it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import Rows, as_key, as_text, batches, columns_of, frame, now
from hubspot_sync.warehouse.schema import REJECT_TABLE_COLUMNS

_FIELDS = ["source_id", "rule", "property", "value", "reason", "source", "category"]
_DATETIMES = ("first_seen_at", "last_seen_at", "resolved_at")


def _incoming(rows: Rows) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rejects keyed by (source_id, rule, property), cleaned; the last one of a key wins."""
    _, cols = columns_of(rows, _FIELDS)
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for vals in zip(*(cols[c] for c in _FIELDS), strict=True):
        r = dict(zip(_FIELDS, vals, strict=True))
        r["source_id"], r["rule"], r["property"] = (
            as_key(r["source_id"]), as_key(r["rule"]) or "unknown", as_key(r["property"]))
        r["value"], r["reason"] = as_text(r["value"]), as_text(r["reason"])
        r["source"] = as_key(r["source"]) or "validation"
        r["category"] = as_key(r["category"])
        out[(r["source_id"], r["rule"], r["property"])] = r
    return out


class RejectStore(WarehouseBase):
    def _forget_run(self, conn: Connection, entity: str, run_id: str) -> None:
        super()._forget_run(conn, entity, run_id)
        self._drop_run_rows(conn, "reject_events", entity, run_id)
        rj = self.tables["rejects"]
        # Rejects this run resolved are open again; those it alone saw are gone.
        conn.execute(update(rj).where(rj.c.entity == entity, rj.c.resolved_run_id == run_id)
                     .values(resolved_at=None, resolved_run_id=None))
        conn.execute(delete(rj).where(rj.c.entity == entity, rj.c.first_run_id == run_id,
                                      rj.c.run_id == run_id))

    def record_rejects(self, entity: str, run_id: str, rows: Rows) -> int:
        """Record rejects seen by a run; an open reject with the same (source_id, rule,
        property) is updated (times_seen + 1 once per run), never duplicated."""
        incoming = _incoming(rows)
        if not incoming:
            return 0
        stamp = now()
        rj = self.tables["rejects"]
        with self._begin() as conn:
            ids = sorted({k[0] for k in incoming if k[0] is not None})
            conds = [rj.c.source_id.in_(list(c)) for c in batches(ids)]
            if any(k[0] is None for k in incoming):
                conds.append(rj.c.source_id.is_(None))
            existing: dict[tuple[Any, ...], tuple[int, str]] = {}
            for cond in conds:
                q = select(rj.c.id, rj.c.source_id, rj.c.rule, rj.c.property, rj.c.run_id).where(
                    rj.c.entity == entity, rj.c.resolved_at.is_(None), cond)
                for rid, sid, rule, prop, last_run in conn.execute(q):
                    existing[(sid, rule, prop)] = (rid, last_run)
            updates, inserts = [], []
            for key, r in incoming.items():
                if key in existing:
                    rid, last_run = existing[key]
                    updates.append({"_id": rid, "_run": run_id, "_value": r["value"],
                                    "_reason": r["reason"], "_source": r["source"],
                                    "_category": r["category"], "_now": stamp,
                                    "_inc": 0 if last_run == run_id else 1})
                else:
                    inserts.append({"entity": entity, "run_id": run_id, "first_run_id": run_id,
                                    **r, "times_seen": 1, "first_seen_at": stamp,
                                    "last_seen_at": stamp})
            if updates:
                stmt = update(rj).where(rj.c.id == bindparam("_id")).values(
                    run_id=bindparam("_run"), value=bindparam("_value"),
                    reason=bindparam("_reason"), source=bindparam("_source"),
                    category=bindparam("_category"), last_seen_at=bindparam("_now"),
                    times_seen=rj.c.times_seen + bindparam("_inc"))
                for chunk in batches(updates):
                    conn.execute(stmt, list(chunk))
            for chunk in batches(inserts):
                conn.execute(insert(rj), list(chunk))
            self._record_events(conn, entity, run_id, incoming, conds, stamp)
        return len(incoming)

    def _record_events(self, conn: Connection, entity: str, run_id: str,
                       incoming: dict[tuple[Any, ...], dict[str, Any]], conds: list[Any],
                       stamp: Any) -> None:
        """One reject_events row per reject this run saw (replacing an earlier sighting)."""
        rj, ev = self.tables["rejects"], self.tables["reject_events"]
        # Look the ids up again (portable: no RETURNING with executemany needed).
        seen: dict[tuple[Any, ...], int] = {}
        for cond in conds:
            q = select(rj.c.id, rj.c.source_id, rj.c.rule, rj.c.property).where(
                rj.c.entity == entity, rj.c.resolved_at.is_(None), cond)
            for rid, sid, rule, prop in conn.execute(q):
                seen[(sid, rule, prop)] = rid
        for chunk in batches([seen[k] for k in incoming]):
            conn.execute(delete(ev).where(ev.c.entity == entity, ev.c.run_id == run_id,
                                          ev.c.reject_id.in_(list(chunk))))
        events = [{"entity": entity, "run_id": run_id, "reject_id": seen[k],
                   "value": r["value"], "reason": r["reason"], "seen_at": stamp}
                  for k, r in incoming.items()]
        for chunk in batches(events):
            conn.execute(insert(ev), list(chunk))

    def resolve_rejects(self, entity: str, run_id: str, source_ids: Iterable[Any],
                        keep_rules: Iterable[str] = (),
                        still_failing: Iterable[tuple[Any, Any, Any]] = ()) -> int:
        """Mark the open rejects of these records resolved (they were checked in ``run_id``);
        rejects of ``keep_rules`` (a later step decides on them) and the (source_id, rule,
        property) keys in ``still_failing`` (seen again by this run) stay open."""
        ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
        keep = sorted(set(keep_rules))
        failing = {(as_key(s), as_key(r) or "unknown", as_key(p)) for s, r, p in still_failing}
        rj = self.tables["rejects"]
        done = 0
        if not ids:
            return 0
        with self._begin() as conn:
            for chunk in batches(ids):
                cond = [rj.c.entity == entity, rj.c.resolved_at.is_(None),
                        rj.c.source_id.in_(list(chunk))]
                if keep:
                    cond.append(rj.c.rule.not_in(keep))
                conds = [cond]
                if failing:
                    found = conn.execute(select(rj.c.id, rj.c.source_id, rj.c.rule,
                                                rj.c.property).where(*cond)).all()
                    targets = [rid for rid, *key in found if tuple(key) not in failing]
                    conds = [[rj.c.id.in_(list(part))] for part in batches(targets)]
                for where in conds:
                    res = conn.execute(update(rj).where(*where).values(
                        resolved_at=now(), resolved_run_id=run_id))
                    done += res.rowcount or 0
        return done

    def open_rejects(self, entity: str | None = None, *, rules: Iterable[str] | None = None,
                     source_ids: Iterable[Any] | None = None) -> pd.DataFrame:
        """Unresolved rejects (all entities unless ``entity``; only ``rules`` / of
        ``source_ids`` when given), oldest first."""
        rj = self.tables["rejects"]
        q = select(*[rj.c[c] for c in REJECT_TABLE_COLUMNS]).where(rj.c.resolved_at.is_(None))
        if entity is not None:
            q = q.where(rj.c.entity == entity)
        if rules is not None:
            q = q.where(rj.c.rule.in_(sorted(set(rules))))
        queries = [q]
        if source_ids is not None:
            ids = sorted({k for k in (as_key(s) for s in source_ids) if k is not None})
            queries = [q.where(rj.c.source_id.in_(list(chunk))) for chunk in batches(ids)]
        rows: list[Any] = []
        with self._connect() as conn:
            for query in queries:
                rows += conn.execute(query.order_by(rj.c.id)).all()
        return frame(rows, REJECT_TABLE_COLUMNS, dt=_DATETIMES, ints=("times_seen",))

    def rejects_for_run(self, entity: str, run_id: str) -> pd.DataFrame:
        """The rejects a run saw, with the value and reason of that run."""
        rj, ev = self.tables["rejects"], self.tables["reject_events"]
        cols = [ev.c.run_id if c == "run_id" else ev.c[c] if c in ("value", "reason")
                else rj.c[c] for c in REJECT_TABLE_COLUMNS]
        q = (select(*cols).select_from(ev.join(rj, rj.c.id == ev.c.reject_id))
             .where(ev.c.entity == entity, ev.c.run_id == run_id).order_by(ev.c.id))
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return frame(rows, REJECT_TABLE_COLUMNS, dt=_DATETIMES, ints=("times_seen",))

    def open_reject_ids(self, entity: str, categories: Iterable[str]) -> set[str]:
        """Source ids of ``entity``'s open rejects whose category is one of ``categories``."""
        wanted = sorted(set(categories))
        if not wanted:
            return set()
        rj = self.tables["rejects"]
        q = select(rj.c.source_id).where(rj.c.entity == entity, rj.c.resolved_at.is_(None),
                                         rj.c.category.in_(wanted),
                                         rj.c.source_id.is_not(None))
        with self._connect() as conn:
            return {str(s) for s in conn.execute(q).scalars()}

    def flag_open_rejects(self, entity: str, rules: Iterable[str], prop: str,
                          values: Iterable[str], category: str) -> int:
        """Set ``category`` on the open rejects of ``rules`` for ``prop`` whose value is one
        of ``values`` (compared case-insensitively); the count flagged."""
        keys = sorted({v.strip().lower() for v in values if v and v.strip()})
        if not keys:
            return 0
        rj = self.tables["rejects"]
        done = 0
        with self._begin() as conn:
            for chunk in batches(keys):
                res = conn.execute(update(rj).where(
                    rj.c.entity == entity, rj.c.resolved_at.is_(None),
                    rj.c.rule.in_(sorted(set(rules))), rj.c.property == prop,
                    func.lower(func.trim(rj.c.value)).in_(list(chunk)))
                    .values(category=category))
                done += res.rowcount or 0
        return done

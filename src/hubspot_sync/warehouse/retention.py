"""Retention of the warehouse: count or delete what is older than a cut-off.

Every statement is an indexed lookup: runs by ``sync_runs.started_at``, run-keyed rows by
``(entity, run_id)``, rejects by ``(entity, resolved_at)``, a reject's sightings by
``reject_events.reject_id``. Deletes go in batches of rows, one transaction per batch of
one table, so a large backlog never holds a long lock. A dry run counts exactly the rows
the same call would delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, exists, func, or_, select

from hubspot_sync.values import as_utc
from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import batches
from hubspot_sync.warehouse.schema import RUN_KEYED_TABLES

DELETE_BATCH = 5_000  # rows per delete transaction
RUN_BATCH = 500  # run ids per IN list


class Retention(WarehouseBase):
    """Pruning of run-scoped rows, resolved rejects and the run log."""

    def protected_runs(self) -> set[tuple[str, str]]:
        """(entity, run_id) whose rows are never pruned: every running run, and per entity
        its latest successful run and its latest successful non-dry run (the watermark)."""
        t = self.tables["sync_runs"]
        out: set[tuple[str, str]] = set()
        with self._connect() as conn:
            running = select(t.c.entity, t.c.run_id).where(t.c.status == "running")
            out.update((e, r) for e, r in conn.execute(running))
            entities = conn.execute(select(t.c.entity).distinct()).scalars().all()
            for entity in entities:
                ok = [t.c.entity == entity, t.c.status == "success"]
                latest = select(t.c.run_id).where(*ok).order_by(t.c.started_at.desc()).limit(1)
                mark = (select(t.c.run_id)
                        .where(*ok, t.c.dry_run.is_(False), t.c.window_end.is_not(None))
                        .order_by(t.c.window_end.desc()).limit(1))
                for q in (latest, mark):
                    run_id = conn.execute(q).scalar()
                    if run_id is not None:
                        out.add((entity, run_id))
        return out

    def runs_started_before(self, before: datetime) -> dict[str, list[str]]:
        """entity -> run ids started before ``before``, less the protected runs."""
        t = self.tables["sync_runs"]
        keep = self.protected_runs()
        q = (select(t.c.entity, t.c.run_id)
             .where(t.c.started_at < as_utc(before), t.c.status != "running")
             .order_by(t.c.entity, t.c.run_id))
        out: dict[str, list[str]] = {}
        with self._connect() as conn:
            for entity, run_id in conn.execute(q):
                if (entity, run_id) not in keep:
                    out.setdefault(entity, []).append(run_id)
        return out

    def prune_run_rows(self, started_before: datetime, rejects_resolved_before: datetime, *,
                       dry_run: bool = False,
                       batch_size: int = DELETE_BATCH) -> dict[str, int]:
        """Rows of every run-keyed table of the runs :meth:`runs_started_before` returns;
        rows per table (counted only when ``dry_run``).

        A reject's sightings stay while it is open, and those of a reject resolved before
        ``rejects_resolved_before`` are left to :meth:`prune_rejects`, which deletes them
        with the reject (so a dry run does not count them twice).
        """
        ev, rj = self.tables["reject_events"], self.tables["rejects"]
        kept_reject = exists().where(rj.c.id == ev.c.reject_id, or_(
            rj.c.resolved_at.is_(None), rj.c.resolved_at < as_utc(rejects_resolved_before)))
        done = dict.fromkeys(RUN_KEYED_TABLES, 0)
        for entity, run_ids in self.runs_started_before(started_before).items():
            for chunk in batches(run_ids, RUN_BATCH):
                for name in RUN_KEYED_TABLES:
                    t = self.tables[name]
                    where = [t.c.entity == entity, t.c.run_id.in_(list(chunk))]
                    if name == "reject_events":
                        where.append(~kept_reject)
                    done[name] += self._count_or_delete(t, where, dry_run, batch_size)
        return done

    def prune_rejects(self, resolved_before: datetime, *, dry_run: bool = False,
                      batch_size: int = DELETE_BATCH) -> dict[str, int]:
        """Rejects resolved before ``resolved_before``, with all their sightings; open
        rejects are never touched. Counts of ``rejects`` and ``reject_events``."""
        rj, ev = self.tables["rejects"], self.tables["reject_events"]
        done = {"rejects": 0, "reject_events": 0}
        with self._connect() as conn:
            entities = conn.execute(select(rj.c.entity).distinct()).scalars().all()
        for entity in entities:
            old = [rj.c.entity == entity, rj.c.resolved_at < as_utc(resolved_before)]
            if dry_run:
                done["rejects"] += self._count(rj, old)
                done["reject_events"] += self._count(
                    ev, [ev.c.reject_id.in_(select(rj.c.id).where(*old))])
                continue
            while True:
                with self._begin() as conn:
                    ids = conn.execute(select(rj.c.id).where(*old).limit(batch_size)
                                       ).scalars().all()
                    if not ids:
                        break
                    done["reject_events"] += conn.execute(
                        delete(ev).where(ev.c.reject_id.in_(ids))).rowcount or 0
                    done["rejects"] += conn.execute(
                        delete(rj).where(rj.c.id.in_(ids))).rowcount or 0
        return done

    def prune_run_log(self, started_before: datetime, *, dry_run: bool = False) -> int:
        """``sync_runs`` rows of runs started before ``started_before`` (never a protected
        run); the number of runs (counted only when ``dry_run``)."""
        t = self.tables["sync_runs"]
        done = 0
        for entity, run_ids in self.runs_started_before(started_before).items():
            for chunk in batches(run_ids, RUN_BATCH):
                where = [t.c.entity == entity, t.c.run_id.in_(list(chunk))]
                if dry_run:
                    done += self._count(t, where)
                    continue
                with self._begin() as conn:
                    done += conn.execute(delete(t).where(*where)).rowcount or 0
        return done

    def table_rows(self, names: Iterable[str] | None = None) -> dict[str, int]:
        """Rows per warehouse table (all tables unless ``names``)."""
        return {name: self._count(self.tables[name], []) for name in (names or self.tables)}

    # ----------------------------------------------------------------- helpers

    def _count(self, t: Table, where: Sequence[Any]) -> int:
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t).where(*where))
                       .scalar_one())

    def _count_or_delete(self, t: Table, where: Sequence[Any], dry_run: bool,
                         batch_size: int) -> int:
        """Rows of ``t`` matching ``where``: counted, or deleted ``batch_size`` at a time
        (by primary key, one transaction each)."""
        if dry_run:
            return self._count(t, where)
        done = 0
        while True:
            # correlate(None): the subquery reads its own table, not the DELETE's row
            batch = select(t.c.id).where(*where).limit(batch_size).correlate(None)
            with self._begin() as conn:
                n = conn.execute(delete(t).where(t.c.id.in_(batch))).rowcount or 0
            done += n
            if n < batch_size:
                return done

"""Read-only queries behind the sync-health view, each an indexed lookup of a bounded size.

The view must stay quick with 100,000 open rejects, so nothing here reads a table whole:
open rejects are counted per rule and paged by id on the partial index
``ix_rejects_open_rule_id`` (entity, rule, id WHERE resolved_at IS NULL, revision 0005),
runs come newest first from ``ix_sync_runs_entity_started`` (entity, started_at), and
pages are keyset pages (``after`` / ``before`` an id), which cost the same on page 1 and
page 2,000.

The queries never migrate the warehouse (a web request should not change a schema) and
never write; a warehouse no run has created yet reads as empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, and_, func, inspect, select, true
from sqlalchemy.engine import Connection

from hubspot_sync.values import as_utc
from hubspot_sync.warehouse.schema import COUNT_KEYS

MAX_PAGE = 200  # rows a drill-down page may ask for
PLAN_ACTIONS = ("create", "update")  # what a dry run would write
# The two-way sync's conflicts (issue 14, warehouse revision 0010); shown once it exists.
CONFLICTS_TABLE = "sync_conflicts"


@dataclass
class Page:
    """One keyset page: rows in id order, and the ids to ask for the pages around it."""

    rows: list[dict[str, Any]]
    next_after: int | None = None  # more rows after this page: ask with after=next_after
    prev_before: int | None = None  # rows before this page: ask with before=prev_before


@dataclass
class PlanSummary:
    """What the latest dry run of an entity would write, field by field."""

    run: dict[str, Any]
    actions: dict[str, int] = field(default_factory=dict)  # every delta action, counted
    fields: list[tuple[str, int]] = field(default_factory=list)  # writes that set the field


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


class HealthQueries:
    """The figures of the sync-health view, read from one warehouse (an engine and the
    tables of :func:`hubspot_sync.warehouse.build_tables`)."""

    def __init__(self, engine: Engine, tables: Mapping[str, Table]) -> None:
        self.engine = engine
        self.tables = tables

    @classmethod
    def of(cls, warehouse: Any) -> HealthQueries:
        """The queries over a :class:`hubspot_sync.warehouse.Warehouse` (no migration)."""
        return cls(warehouse.engine, warehouse.tables)

    def _conn(self) -> Any:
        return self.engine.connect()

    def _has_table(self, conn: Connection, name: str) -> bool:
        return bool(inspect(conn).has_table(name, schema=self.tables["sync_runs"].schema))

    # ----------------------------------------------------------------- runs

    def entities(self) -> list[str]:
        """Entities with at least one run, by name (none when no run created the tables)."""
        t = self.tables["sync_runs"]
        with self._conn() as conn:
            if not self._has_table(conn, "sync_runs"):
                return []
            return [str(e) for e in conn.execute(
                select(t.c.entity).distinct().order_by(t.c.entity)).scalars()]

    def watermark(self, entity: str) -> datetime | None:
        """End of the latest successful, non-dry window: what the entity is current up to."""
        t = self.tables["sync_runs"]
        q = (select(func.max(t.c.window_end))
             .where(t.c.entity == entity, t.c.status == "success", t.c.dry_run.is_(False)))
        with self._conn() as conn:
            return as_utc(conn.execute(q).scalar())

    def last_runs(self, entity: str, limit: int = 5) -> list[dict[str, Any]]:
        """The entity's latest runs, newest first: status, window, flags, counts, error."""
        t = self.tables["sync_runs"]
        cols = ["run_id", "status", "started_at", "finished_at", "window_start", "window_end",
                "full_refresh", "dry_run", *COUNT_KEYS, "details"]
        q = (select(*[t.c[c] for c in cols]).where(t.c.entity == entity)
             .order_by(t.c.started_at.desc(), t.c.run_id.desc()).limit(_limit(limit)))
        with self._conn() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        for r in rows:
            details = r.pop("details") or {}
            r["error"] = details.get("error")
            r["failed_step"] = details.get("failed_step")
            r["full_refresh"], r["dry_run"] = bool(r["full_refresh"]), bool(r["dry_run"])
        return rows

    def run_exists(self, entity: str, run_id: str) -> bool:
        t = self.tables["sync_runs"]
        with self._conn() as conn:
            return conn.execute(select(t.c.run_id).where(
                t.c.entity == entity, t.c.run_id == run_id)).first() is not None

    def latest_dry_run(self, entity: str) -> dict[str, Any] | None:
        """The newest successful dry run of the entity (its delta is the plan), or None."""
        t = self.tables["sync_runs"]
        q = (select(t.c.run_id, t.c.started_at, t.c.window_start, t.c.window_end,
                    t.c.full_refresh)
             .where(t.c.entity == entity, t.c.dry_run.is_(True), t.c.status == "success")
             .order_by(t.c.started_at.desc()).limit(1))
        with self._conn() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    # ----------------------------------------------------------------- rejects

    def open_reject_counts(self, entity: str) -> list[tuple[str, int]]:
        """(rule, open rejects) of the entity, most first."""
        rj = self.tables["rejects"]
        n = func.count().label("n")
        q = (select(rj.c.rule, n).where(rj.c.entity == entity, rj.c.resolved_at.is_(None))
             .group_by(rj.c.rule).order_by(n.desc(), rj.c.rule))
        with self._conn() as conn:
            return [(str(rule), int(count)) for rule, count in conn.execute(q)]

    def reject_examples(self, entity: str, rule: str, n: int = 3) -> list[dict[str, Any]]:
        """The ``n`` oldest open rejects of one rule: id, source id, property, reason (no
        value and no record: the page names what is wrong, not the person's data)."""
        return self.rejects_page(entity, rule, limit=n).rows

    def rejects_page(self, entity: str, rule: str, *, after: int | None = None,
                     before: int | None = None, limit: int = 50,
                     values: bool = False) -> Page:
        """One page of an entity's open rejects of ``rule`` in id order: after ``after``,
        or the page ending just before ``before``. ``values`` adds the rejected value (the
        view leaves it out: the reason names the problem without more personal data)."""
        rj = self.tables["rejects"]
        cols = [rj.c.id, rj.c.source_id, rj.c.property, rj.c.reason, rj.c.source,
                rj.c.category, rj.c.times_seen, rj.c.first_seen_at, rj.c.last_seen_at,
                rj.c.run_id]
        if values:
            cols.append(rj.c.value)
        where = [rj.c.entity == entity, rj.c.rule == rule, rj.c.resolved_at.is_(None)]
        return self._keyset(rj, cols, where, after, before, limit)

    def _keyset(self, t: Table, cols: list[Any], where: list[Any], after: int | None,
                before: int | None, limit: int) -> Page:
        """A page of the rows matching ``where``, by id: after ``after``, or ending just
        before ``before``; plus whether there are rows on either side."""
        size = _limit(limit)
        up, down = [t.c.id], [t.c.id.desc()]
        q = select(*cols).where(*where)
        backwards = before is not None and after is None
        if backwards:
            q = q.where(t.c.id < before).order_by(*down)
        else:
            if after is not None:
                q = q.where(t.c.id > after)
            q = q.order_by(*up)
        with self._conn() as conn:
            rows = [dict(r) for r in conn.execute(q.limit(size + 1)).mappings()]
            more = len(rows) > size
            rows = rows[:size]
            if backwards:
                rows.reverse()
            if not rows:
                return Page([])
            first, last = rows[0]["id"], rows[-1]["id"]

            def exists(*cond: Any, order: list[Any]) -> bool:  # one indexed probe
                probe = select(t.c.id).where(*where, *cond).order_by(*order).limit(1)
                return conn.execute(probe).first() is not None

            if backwards:
                after_exists, before_exists = exists(t.c.id > last, order=up), more
            else:
                before_exists = after is not None and exists(t.c.id < first, order=down)
                after_exists = more
        return Page(rows, next_after=last if after_exists else None,
                    prev_before=first if before_exists else None)

    # ----------------------------------------------------------------- associations

    def pending_counts(self, entity: str) -> list[tuple[str, int]]:
        """(target entity, associations waiting) of the entity, most first."""
        pa = self.tables["pending_associations"]
        n = func.count().label("n")
        q = (select(pa.c.to_entity, n).where(pa.c.entity == entity)
             .group_by(pa.c.to_entity).order_by(n.desc(), pa.c.to_entity))
        with self._conn() as conn:
            return [(str(e), int(c)) for e, c in conn.execute(q)]

    def pending_page(self, entity: str, *, after: int | None = None,
                     before: int | None = None, limit: int = 50) -> Page:
        """One page of the entity's waiting associations, oldest first."""
        pa = self.tables["pending_associations"]
        cols = [pa.c.id, pa.c.source_id, pa.c.to_entity, pa.c.to_source_id, pa.c.type_id,
                pa.c.reason, pa.c.attempts, pa.c.first_seen_run, pa.c.last_tried_run]
        return self._keyset(pa, cols, [pa.c.entity == entity], after, before, limit)

    # ----------------------------------------------------------------- dry-run plan

    def plan_summary(self, entity: str) -> PlanSummary | None:
        """The latest dry run's plan: records per action, and per field how many planned
        writes (creates and updates) set it; None when the entity had no dry run."""
        run = self.latest_dry_run(entity)
        if run is None:
            return None
        d = self.tables["delta"]
        mine = and_(d.c.entity == entity, d.c.run_id == run["run_id"])
        writes = and_(mine, d.c.action.in_(PLAN_ACTIONS))
        with self._conn() as conn:
            actions = {str(a): int(n) for a, n in conn.execute(
                select(d.c.action, func.count()).where(mine).group_by(d.c.action))}
            fields = self._field_counts(conn, d, writes)
        ordered = sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))
        return PlanSummary(run=run, actions=actions, fields=ordered)

    def _field_counts(self, conn: Connection, d: Table, where: Any) -> dict[str, int]:
        """Planned writes per field: the database unnests the changed_fields JSON lists
        (a 100,000-record plan is one grouped query, not 100,000 documents parsed here)."""
        dialect = conn.dialect.name
        if dialect in ("sqlite", "postgresql"):
            if dialect == "sqlite":  # json_each's rows have a "value" column
                names = func.json_each(d.c.changed_fields).table_valued("value")
            else:  # a set of text, named in the alias: AS anon_1(value)
                names = (func.json_array_elements_text(d.c.changed_fields)
                         .table_valued("value").render_derived())
            q = (select(names.c.value, func.count()).select_from(d).join(names, true())
                 .where(where).group_by(names.c.value))
            return {str(name): int(n) for name, n in conn.execute(q)}
        fields: dict[str, int] = {}  # any other database: stream the lists
        q = select(d.c.changed_fields).where(where)
        for changed in conn.execution_options(yield_per=5_000).execute(q).scalars():
            for name in changed or ():
                fields[str(name)] = fields.get(str(name), 0) + 1
        return fields

    def plan_page(self, entity: str, run_id: str, *, after: int | None = None,
                  before: int | None = None, limit: int = 25) -> Page:
        """One page of a dry run's planned writes: per record its action and, per field it
        would set, the HubSpot value before and the value after."""
        d = self.tables["delta"]
        cols = [d.c.id, d.c.source_id, d.c.hubspot_id, d.c.action, d.c.changed_fields,
                d.c.before, d.c.after]
        where = [d.c.entity == entity, d.c.run_id == run_id, d.c.action.in_(PLAN_ACTIONS)]
        page = self._keyset(d, cols, where, after, before, limit)
        for row in page.rows:
            before_v, after_v = row.pop("before") or {}, row.pop("after") or {}
            row["changes"] = [(name, before_v.get(name), after_v.get(name))
                              for name in (row.pop("changed_fields") or [])]
        return page

    # ----------------------------------------------------------------- two-way conflicts

    def conflict_count(self, entity: str) -> int | None:
        """Two-way conflicts recorded for the entity (both sides changed a property; the
        rule decided), or None while the warehouse has no ``sync_conflicts`` table yet."""
        t = self.tables[CONFLICTS_TABLE]
        with self._conn() as conn:
            if not self._has_table(conn, CONFLICTS_TABLE):
                return None
            return int(conn.execute(select(func.count()).select_from(t)
                                    .where(t.c.entity == entity)).scalar_one())

    def recent_conflicts(self, entity: str, limit: int = 5) -> list[dict[str, Any]]:
        """The entity's latest conflicts, newest first (index entity, detected_at): the
        record, the property, both values and change times, the rule and the winner."""
        t = self.tables[CONFLICTS_TABLE]
        cols = ["id", "run_id", "source_id", "hubspot_id", "property", "officernd_value",
                "officernd_changed_at", "hubspot_value", "hubspot_changed_at", "rule", "winner",
                "detected_at"]
        q = (select(*[t.c[c] for c in cols]).where(t.c.entity == entity)
             .order_by(t.c.detected_at.desc(), t.c.id.desc()).limit(_limit(limit)))
        with self._conn() as conn:
            if not self._has_table(conn, CONFLICTS_TABLE):
                return []
            return [dict(r) for r in conn.execute(q).mappings()]


def iter_pages(fetch: Any, **kwargs: Any) -> Iterator[Page]:
    """Every page of a keyset query, first to last (tests and the bench walk them)."""
    page = fetch(**kwargs)
    yield page
    while page.next_after is not None:
        page = fetch(**{**kwargs, "after": page.next_after})
        yield page

"""What the alerts read and remember (``alert_state``: one row per alert key, e.g. the
reject digest's cutoff or the behind episode last announced for an entity).

The alert checks only read ``sync_runs`` and ``rejects`` (owned by ``runs`` and
``rejects``); the queries they need live here so those owners stay about writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from hubspot_sync.values import as_utc
from hubspot_sync.warehouse.base import WarehouseBase
from hubspot_sync.warehouse.rows import now


class AlertStateStore(WarehouseBase):
    def alert_state(self, key: str) -> dict[str, Any] | None:
        """The value remembered under ``key`` (None: never set)."""
        t = self.tables["alert_state"]
        with self._connect() as conn:
            value = conn.execute(select(t.c.value).where(t.c.key == key)).scalar()
        return dict(value) if value is not None else None

    def set_alert_state(self, key: str, value: Mapping[str, Any]) -> None:
        """Remember ``value`` under ``key`` (replacing what was there)."""
        t = self.tables["alert_state"]
        with self._begin() as conn:
            conn.execute(delete(t).where(t.c.key == key))
            conn.execute(insert(t).values(key=key, value=dict(value), updated_at=now()))

    def entity_run_summary(self) -> dict[str, dict[str, Any]]:
        """Per entity in ``sync_runs``: the latest successful (non-dry) window end, the first
        and latest run's start, and the latest run's id and status (for the behind check)."""
        t = self.tables["sync_runs"]
        ok = (t.c.status == "success") & t.c.dry_run.is_(False)
        q = (select(t.c.entity, func.max(t.c.window_end).filter(ok),
                    func.min(t.c.started_at), func.max(t.c.started_at))
             .group_by(t.c.entity))
        out: dict[str, dict[str, Any]] = {}
        with self._connect() as conn:
            for entity, last_end, first_start, last_start in conn.execute(q):
                out[entity] = {"last_success_end": as_utc(last_end),
                               "first_started_at": as_utc(first_start),
                               "last_started_at": as_utc(last_start)}
            for entity, info in out.items():
                latest = conn.execute(
                    select(t.c.run_id, t.c.status).where(t.c.entity == entity)
                    .order_by(t.c.started_at.desc(), t.c.run_id.desc()).limit(1)).first()
                info["latest_run_id"], info["latest_status"] = latest or (None, None)
        return out

    def open_reject_counts(self) -> dict[str, int]:
        """Open rejects per entity (an indexed count, for the hourly gauge)."""
        rj = self.tables["rejects"]
        q = (select(rj.c.entity, func.count()).where(rj.c.resolved_at.is_(None))
             .group_by(rj.c.entity))
        with self._connect() as conn:
            return {str(e): int(n) for e, n in conn.execute(q)}

    def new_reject_groups(self, since: datetime | None, until: datetime,
                          examples: int = 5) -> list[dict[str, Any]]:
        """Open rejects first seen in ``[since, until)`` (everything before ``until`` when
        ``since`` is None), grouped by entity, rule, property and where they came from:
        the count, a few example source ids and the runs that first saw them. Ids and rules
        only: values and reasons may hold personal data and stay in the warehouse."""
        rj = self.tables["rejects"]
        where = [rj.c.resolved_at.is_(None), rj.c.first_seen_at < until]
        if since is not None:
            where.append(rj.c.first_seen_at >= since)
        keys = (rj.c.entity, rj.c.rule, rj.c.property, rj.c.source, rj.c.category)
        q = (select(*keys, func.count(), func.max(rj.c.first_run_id)).where(*where)
             .group_by(*keys).order_by(*keys))
        groups: list[dict[str, Any]] = []
        with self._connect() as conn:
            for entity, rule, prop, source, category, count, run_id in conn.execute(q).all():
                group = {"entity": entity, "rule": rule, "property": prop, "source": source,
                         "category": category, "count": int(count), "latest_run_id": run_id}
                same = [*where, rj.c.entity == entity, rj.c.rule == rule, rj.c.source == source,
                        rj.c.property.is_(None) if prop is None else rj.c.property == prop,
                        rj.c.category.is_(None) if category is None
                        else rj.c.category == category]
                group["examples"] = [str(s) for s in conn.execute(
                    select(rj.c.source_id).where(*same).order_by(rj.c.id).limit(examples))
                    .scalars()]
                groups.append(group)
        return groups

"""The figures of the sync-health view, per entity, as plain JSON-able dicts.

One function composes the queries of :mod:`hubspot_sync.health.queries` for the page and
its JSON twin, so both always show the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hubspot_sync.health.queries import HealthQueries

EXAMPLES = 3  # open rejects shown per rule on the overview
RUNS = 5  # latest runs shown per entity


def dag_id_of(queries: HealthQueries, entity: str, entities: list[str],
              run_id: str | None) -> str:
    """The DAG that runs ``entity``: ``sync_<entity>``, or for a child unit (a contract's
    line items, ``contracts_line_items``) its parent's DAG, recognised as the longest other
    entity that prefixes the name and logged the same run."""
    parents = sorted((p for p in entities if p != entity and entity.startswith(p + "_")),
                     key=len, reverse=True)
    for parent in parents:
        if run_id is None or queries.run_exists(parent, run_id):
            return f"sync_{parent}"
    return f"sync_{entity}"


def behind(watermark: datetime | None, now: datetime) -> float | None:
    """Seconds between the watermark and now (None: never synced)."""
    return None if watermark is None else max(0.0, (now - watermark).total_seconds())


def human_duration(seconds: float | None) -> str:
    """'3 d 4 h', '2 h 5 min', '40 s'; 'never synced' for None."""
    if seconds is None:
        return "never synced"
    s = int(seconds)
    days, rest = divmod(s, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def entity_health(queries: HealthQueries, entity: str, entities: list[str],
                  now: datetime) -> dict[str, Any]:
    """Everything the view shows of one entity (bounded: RUNS runs, EXAMPLES per rule)."""
    runs = queries.last_runs(entity, RUNS)
    dag_id = dag_id_of(queries, entity, entities, runs[0]["run_id"] if runs else None)
    for run in runs:
        run["dag_id"] = dag_id
    watermark = queries.watermark(entity)
    lag = behind(watermark, now)
    rules = [{"rule": rule, "open": n, "examples": queries.reject_examples(entity, rule, EXAMPLES)}
             for rule, n in queries.open_reject_counts(entity)]
    pending = [{"to_entity": e, "waiting": n} for e, n in queries.pending_counts(entity)]
    plan = queries.plan_summary(entity)
    return {
        "entity": entity,
        "dag_id": dag_id,
        "watermark": watermark,
        "behind_seconds": lag,
        "behind": human_duration(lag),
        "last_status": runs[0]["status"] if runs else None,
        "runs": runs,
        "open_rejects": sum(r["open"] for r in rules),
        "rejects_by_rule": rules,
        "pending_associations": sum(p["waiting"] for p in pending),
        "pending_by_target": pending,
        "plan": None if plan is None else {
            "run_id": plan.run["run_id"], "started_at": plan.run["started_at"],
            "window_start": plan.run["window_start"], "window_end": plan.run["window_end"],
            "actions": plan.actions, "fields": [{"field": f, "writes": n}
                                                for f, n in plan.fields]},
        "conflicts": queries.conflict_count(entity),
        "conflict_examples": queries.recent_conflicts(entity, EXAMPLES),
    }


def collect(queries: HealthQueries, *, can_read: Callable[[str], bool] = lambda _: True,
            now: datetime | None = None) -> dict[str, Any]:
    """The whole view: one entry per entity whose DAG ``can_read`` allows (the caller's
    Airflow permission on ``sync_<entity>``), in name order."""
    now = now or datetime.now(UTC)
    entities = queries.entities()
    out = []
    for entity in entities:
        latest = queries.last_runs(entity, 1)
        if not can_read(dag_id_of(queries, entity, entities,
                                  latest[0]["run_id"] if latest else None)):
            continue
        out.append(entity_health(queries, entity, entities, now))
    return {"generated_at": now, "entities": out}

"""The small run context every step receives: which entity, which run, which window.

Light on purpose (no pandas, no SQLAlchemy, no HTTP client at import): the warehouse, the
HubSpot hook and the source are built on first use, so this module is cheap to import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubspot_sync.mapping import EntityMapping, MappingError, load_mappings
from hubspot_sync.transforms import parse_datetime
from hubspot_sync.values import is_blank

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.hubspot_client import HubSpotHook
    from hubspot_sync.sources.base import Source
    from hubspot_sync.warehouse import Warehouse

# Re-read this much before the watermark: harmless (writes are idempotent) and it absorbs
# clock skew between Airflow and the source.
LOOKBACK = timedelta(seconds=int(os.environ.get("SYNC_LOOKBACK_SECONDS", "60")))


class StopRun(RuntimeError):
    """The run cannot succeed and a retry would not help (fail the task at once)."""


class ConfigurationError(StopRun):
    """The mapping and the HubSpot portal disagree; reported before any write."""


class RejectThresholdExceeded(StopRun):
    """More records failed validation than the mapping's max_rejected_ratio allows."""

    def __init__(self, message: str, entity: str, counts: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.entity = entity
        self.counts = dict(counts)


def instant(value: Any) -> datetime | None:
    """An aware UTC datetime (ISO-8601, epoch ms, date, datetime); None when blank."""
    if is_blank(value):
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a date-time: {value!r}")
    return parsed


@dataclass(frozen=True)
class RunWindow:
    """The change window a run extracts: [start, end); start None reads everything."""

    start: datetime | None
    end: datetime | None
    full_refresh: bool
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "full_refresh": self.full_refresh, "why": self.why}


@dataclass(frozen=True)
class Trigger:
    """What started a run, as Airflow's task context gives it."""

    run_type: str | None = "manual"
    params: Mapping[str, Any] = field(default_factory=dict)
    interval_start: Any = None
    interval_end: Any = None


def resolve_window(params: Mapping[str, Any], interval_start: Any, interval_end: Any,
                   run_type: str | None, last_end: datetime | None,
                   now: datetime | None = None) -> RunWindow:
    """Which changes a run syncs.

    - ``full_refresh``: everything (and orphans are reported);
    - ``since`` / ``until`` params: exactly that window;
    - backfill runs: exactly their data interval, so a backfill replays each hour once;
    - scheduled runs: their interval, started earlier at the last successful window's end
      when that is before the interval's start (a failed or paused hour is never lost),
      always less the look-back; the very first scheduled run reads everything changed
      before its interval's end;
    - manual runs: from the last successful window's end (less the look-back) to now; the
      first run of an entity reads everything.
    """
    now = now or datetime.now(UTC)
    if params.get("full_refresh"):
        return RunWindow(None, None, True, "full refresh requested")
    since, until = instant(params.get("since")), instant(params.get("until"))
    if since or until:
        return RunWindow(since, until or now, False, "since/until params")
    start, end = instant(interval_start), instant(interval_end)
    if run_type in ("scheduled", "backfill") and start and end and start < end:
        if run_type == "backfill":
            return RunWindow(start, end, False, "backfill data interval")
        if last_end is None:
            return RunWindow(None, end, False, "first run of this entity: everything before "
                                               "the interval's end")
        if last_end < start:
            return RunWindow(last_end - LOOKBACK, end, False,
                             "scheduled: since the last successful window's end (missed "
                             "intervals caught up)")
        return RunWindow(start - LOOKBACK, end, False, "scheduled data interval")
    if last_end is None:
        return RunWindow(None, now, False, "first run of this entity: everything")
    return RunWindow(last_end - LOOKBACK, now, False,
                     "manual run: since the last successful window's end")


@dataclass
class EntityRun:
    """One run of one entity, with lazily built collaborators."""

    mapping: EntityMapping
    run_id: str
    dry_run: bool = False
    full_refresh: bool = False
    hubspot_conn_id: str = "hubspot_default"
    warehouse_conn_id: str = "sync_warehouse"
    mappings: dict[str, EntityMapping] = field(default_factory=dict)
    parent: EntityRun | None = None
    trigger: Trigger = field(default_factory=Trigger)
    window: RunWindow | None = None  # given (tests, benchmarks) or resolved from the trigger
    docs_dir: Path | None = None  # where validate builds Data Docs (None: a temporary folder)
    _warehouse: Warehouse | None = None
    _hook: HubSpotHook | None = None
    _source: Source | None = None

    @property
    def entity(self) -> str:
        return self.mapping.entity

    @property
    def warehouse(self) -> Warehouse:
        if self.parent is not None:
            return self.parent.warehouse
        if self._warehouse is None:
            from hubspot_sync.warehouse import Warehouse

            self._warehouse = Warehouse.from_airflow(self.warehouse_conn_id)
        return self._warehouse

    @property
    def hook(self) -> HubSpotHook:
        if self.parent is not None:
            return self.parent.hook
        if self._hook is None:
            from hubspot_sync.hubspot_client import HubSpotHook

            self._hook = HubSpotHook(hubspot_conn_id=self.hubspot_conn_id)
        return self._hook

    @property
    def source(self) -> Source:
        if self.parent is not None:
            return self.parent.source
        if self._source is None:
            from hubspot_sync.sources import source_for

            self._source = source_for(self.mapping.source)
        return self._source

    def units(self) -> list[EntityRun]:
        """This entity, then each of its children (e.g. a contract's line items)."""
        return [self, *(EntityRun(mapping=child, run_id=self.run_id, dry_run=self.dry_run,
                                  full_refresh=self.full_refresh, mappings=self.mappings,
                                  parent=self, trigger=self.trigger, window=self.window,
                                  docs_dir=self.docs_dir)
                        for child in self.mapping.child_mappings())]

    def resolve_window(self, now: datetime | None = None) -> RunWindow:
        """The window given, else the trigger's, after the entity's last successful one."""
        if self.window is not None:
            return self.window
        t = self.trigger
        return resolve_window(t.params, t.interval_start, t.interval_end, t.run_type,
                              self.warehouse.last_successful_window_end(self.entity), now=now)

    def api_calls(self) -> int:
        """HubSpot calls made so far by this run's hook (children share their parent's)."""
        if self.parent is not None:
            return 0
        return self._hook.call_count if self._hook is not None else 0

    def rate_limited(self) -> int:
        """429 answers this run's hook has received so far (children share their parent's)."""
        if self.parent is not None:
            return 0
        return int(getattr(self._hook, "rate_limited", 0)) if self._hook is not None else 0

    def target_mapping(self, entity: str) -> EntityMapping:
        if entity == self.entity:
            return self.mapping
        if self.parent is not None and entity == self.parent.entity:
            return self.parent.mapping
        if not self.mappings:
            self.mappings = load_mappings().mappings
        try:
            return self.mappings[entity]
        except KeyError:
            raise MappingError(f"{self.entity}: associations name entity {entity!r}, which has "
                               "no mapping file") from None


def run_from_airflow(mapping: EntityMapping, context: Mapping[str, Any]) -> EntityRun:
    """The EntityRun of an Airflow task: run id, params, run type and data interval from
    the task context (``get_current_context()``); Data Docs under AIRFLOW_HOME."""
    params = context.get("params") or {}
    run_type = getattr(context.get("dag_run"), "run_type", None)
    trigger = Trigger(run_type=getattr(run_type, "value", None if run_type is None
                                       else str(run_type)),
                      params=dict(params), interval_start=context.get("data_interval_start"),
                      interval_end=context.get("data_interval_end"))
    return EntityRun(mapping=mapping, run_id=context["run_id"],
                     dry_run=bool(params.get("dry_run")),
                     full_refresh=bool(params.get("full_refresh")), trigger=trigger,
                     docs_dir=Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
                     / "data_docs")

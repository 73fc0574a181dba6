"""Run metrics through Airflow's own Stats facade (StatsD, Datadog or OpenTelemetry:
whatever the deployment's ``[metrics]`` section switches on; nothing when none is).

Names (StatsD adds Airflow's ``[metrics] statsd_prefix``, ``airflow.`` by default); every
metric also carries the tags ``entity`` (and ``step`` / ``status`` where named), which
OpenTelemetry, Datadog and InfluxDB-style StatsD use and plain StatsD ignores:

========================================================  =======  ===========================
name                                                      type     when, value
========================================================  =======  ===========================
``hubspot_sync.<entity>.step.<step>.duration``            timer    every step, ms (also failed)
``hubspot_sync.<entity>.api_calls``                       counter  every step: its HubSpot calls
``hubspot_sync.<entity>.rate_limited``                    counter  every step: 429s it received
``hubspot_sync.<entity>.<count>``                         counter  ``report``: extracted,
                                                                   created, updated, written,
                                                                   unchanged, skipped, rejected,
                                                                   failed (sync_runs' counts)
``hubspot_sync.<entity>.run.duration``                    timer    ``report``: run start to end
``hubspot_sync.<entity>.runs.<status>``                   counter  1 per run: success / failed
``hubspot_sync.<entity>.behind_hours``                    gauge    ``sync_alerts``, hourly
``hubspot_sync.<entity>.open_rejects``                    gauge    ``sync_alerts``, hourly
========================================================  =======  ===========================

A metric is never worth a failed run: every emit swallows (and logs) its own errors.
Imported when a step runs, never at DAG parse time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hubspot_sync.values import as_utc

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.steps.context import EntityRun

log = logging.getLogger(__name__)

PREFIX = "hubspot_sync"
# The sync_runs counts a run emits (``written`` = created + updated).
RUN_COUNTS = ("extracted", "created", "updated", "written", "unchanged", "skipped",
              "rejected", "failed")


def name(entity: str, *parts: str) -> str:
    """``hubspot_sync.<entity>.<parts...>``, with characters StatsD cannot carry replaced."""
    from airflow.sdk.observability.stats import normalize_name_for_stats

    return normalize_name_for_stats(".".join((PREFIX, entity, *parts)), log_warning=False)


def _emit(kind: str, metric: str, value: float, tags: Mapping[str, Any]) -> None:
    try:
        from airflow.sdk.observability import stats

        if kind == "incr":
            stats.incr(metric, int(value), tags=dict(tags))
        elif kind == "gauge":
            stats.gauge(metric, value, tags=dict(tags))
        else:
            stats.timing(metric, value, tags=dict(tags))
    except Exception:  # a metrics backend problem must never fail a sync
        log.warning("could not emit metric %s", metric, exc_info=True)


def count(entity: str, metric: str, value: int, **tags: Any) -> None:
    _emit("incr", name(entity, *metric.split(".")), value, {"entity": entity, **tags})


def gauge(entity: str, metric: str, value: float, **tags: Any) -> None:
    _emit("gauge", name(entity, *metric.split(".")), value, {"entity": entity, **tags})


def timing(entity: str, metric: str, millis: float, **tags: Any) -> None:
    _emit("timing", name(entity, *metric.split(".")), millis, {"entity": entity, **tags})


def _hook_counts(run: EntityRun) -> tuple[int, int]:
    """(HubSpot calls, 429s) of the run's hook so far in this process."""
    try:
        return run.api_calls(), run.rate_limited()
    except Exception:  # the hook could not even be read: count nothing
        return 0, 0


@contextmanager
def step_metrics(run: EntityRun, step: str) -> Iterator[None]:
    """Time one step and count the HubSpot calls and 429s it made (a failing step too)."""
    calls0, limited0 = _hook_counts(run)
    start = time.monotonic()
    status = "failed"
    try:
        yield
        status = "success"
    finally:
        millis = (time.monotonic() - start) * 1000
        calls1, limited1 = _hook_counts(run)
        timing(run.entity, f"step.{step}.duration", millis, step=step, status=status)
        count(run.entity, "api_calls", calls1 - calls0, step=step)
        count(run.entity, "rate_limited", limited1 - limited0, step=step)


def emit_run(entity: str, counts: Mapping[str, Any], status: str,
             started_at: datetime | None = None) -> None:
    """A finished run of one unit: its counts, its duration and its status."""
    if status == "success":
        values = {k: int(counts.get(k) or 0) for k in RUN_COUNTS if k != "written"}
        values["written"] = values["created"] + values["updated"]
        for key in RUN_COUNTS:
            count(entity, key, values[key])
    started = as_utc(started_at)
    if started is not None:
        timing(entity, "run.duration", (time.time() - started.timestamp()) * 1000,
               status=status)
    count(entity, f"runs.{status}", 1, status=status)

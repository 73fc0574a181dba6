"""The hourly checks of the ``sync_alerts`` DAG, reading the warehouse:

- ``check_behind``: every entity whose last successful window ended more than
  ``SYNC_ALERT_BEHIND_HOURS`` ago (or, never successful, whose first run started that long
  ago) is announced once per episode (the window end it is stuck at), and again every
  ``SYNC_ALERT_BEHIND_REPEAT_HOURS`` while it stays behind;
- ``digest_new_rejects``: one message for the open rejects first seen since the last
  digest's cutoff (``alert_state`` row ``rejects_digest``); the cutoff only moves once the
  digest reached someone, so a failed send is retried next hour, never lost or repeated.

Both also emit the ``behind_hours`` / ``open_rejects`` gauges (``hubspot_sync.metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hubspot_sync.alerts.config import AlertConfig
from hubspot_sync.alerts.delivery import Delivery, deliver
from hubspot_sync.alerts.messages import Alert, behind_alert, digest_alert
from hubspot_sync.values import as_utc

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.warehouse import Warehouse

log = logging.getLogger("hubspot_sync.alerts")

DIGEST_KEY = "rejects_digest"


class AlertNotDelivered(RuntimeError):
    """Every configured channel failed (the check runs again next hour)."""


@dataclass(frozen=True)
class Pending:
    """An alert to send, and what to remember once it has reached someone."""

    alert: Alert
    state_key: str
    state: dict[str, Any]


def behind_key(entity: str) -> str:
    return f"behind:{entity}"


def entity_dags() -> dict[str, str]:
    """entity -> the DAG that syncs it (a child entity is synced by its parent's DAG)."""
    from hubspot_sync.mapping import load_mappings

    out: dict[str, str] = {}
    for mapping in load_mappings().ordered():
        out[mapping.entity] = mapping.dag_id
        for child in mapping.child_mappings():
            out[child.entity] = mapping.dag_id
    return out


def behind_alerts(summary: Mapping[str, Mapping[str, Any]], dag_of: Mapping[str, str],
                  states: Mapping[str, Mapping[str, Any] | None], hours: float,
                  repeat_hours: float, now: datetime, base_url: str) -> list[Pending]:
    """The behind alerts due now (pure: the run summary and remembered states are given).
    Entities without a mapping any more, or without any run yet, are not checked."""
    due = []
    for entity in sorted(summary):
        if entity not in dag_of:
            continue
        info = summary[entity]
        last_end = as_utc(info.get("last_success_end"))
        reference = last_end or as_utc(info.get("first_started_at"))
        if reference is None:
            continue
        behind = (now - reference).total_seconds() / 3600
        if behind <= hours:
            continue
        episode = reference.isoformat()
        state = states.get(behind_key(entity)) or {}
        sent_at = as_utc(state.get("sent_at"))
        if state.get("episode") == episode and sent_at is not None \
                and now - sent_at < timedelta(hours=repeat_hours):
            continue
        alert = behind_alert(entity, dag_of[entity], behind, hours, last_end,
                             info.get("latest_run_id"), info.get("latest_status"), base_url)
        due.append(Pending(alert, behind_key(entity),
                           {"episode": episode, "sent_at": now.isoformat()}))
    return due


def behind_hours(summary: Mapping[str, Mapping[str, Any]], now: datetime) -> dict[str, float]:
    """Hours since each entity's last successful window end (entities that have one)."""
    out = {}
    for entity, info in summary.items():
        end = as_utc(info.get("last_success_end"))
        if end is not None:
            out[entity] = round((now - end).total_seconds() / 3600, 3)
    return out


def _send(pending: Iterable[Pending], warehouse: Warehouse,
          config: AlertConfig) -> tuple[list[str], list[str]]:
    """Deliver each alert; remember it when it reached someone. (sent, failed) kinds."""
    sent, failed = [], []
    for p in pending:
        result: Delivery = deliver(p.alert, config)
        if result.reached_someone:
            warehouse.set_alert_state(p.state_key, p.state)
            sent.append(p.state_key)
        if result.failed:
            failed.append(f"{p.state_key}: {result.failed}")
    return sent, failed


def check_behind(warehouse: Warehouse, config: AlertConfig | None = None,
                 now: datetime | None = None, hours: float | None = None) -> dict[str, Any]:
    """Announce the entities that are behind; gauge every entity's lag and open rejects."""
    from hubspot_sync import metrics

    config = config or AlertConfig.load()
    now = now or datetime.now(UTC)
    threshold = config.behind_hours if hours is None else hours
    summary = warehouse.entity_run_summary()
    dag_of = entity_dags()
    lag = behind_hours(summary, now)
    for entity, value in lag.items():
        metrics.gauge(entity, "behind_hours", value)
    for entity, n in warehouse.open_reject_counts().items():
        metrics.gauge(entity, "open_rejects", n)
    states = {behind_key(e): warehouse.alert_state(behind_key(e)) for e in summary}
    due = behind_alerts(summary, dag_of, states, threshold, config.behind_repeat_hours, now,
                        config.base_url)
    sent, failed = _send(due, warehouse, config)
    result = {"behind_hours": lag, "threshold_hours": threshold,
              "alerted": [p.alert.entity for p in due if p.state_key in sent],
              "failed": failed}
    if failed and not sent:
        raise AlertNotDelivered(f"behind alerts not delivered: {failed}")
    return result


def digest_new_rejects(warehouse: Warehouse, config: AlertConfig | None = None,
                       now: datetime | None = None, link: str | None = None) -> dict[str, Any]:
    """One digest of the rejects first seen since the last digest; nothing when none."""
    config = config or AlertConfig.load()
    now = now or datetime.now(UTC)
    state = warehouse.alert_state(DIGEST_KEY) or {}
    since = as_utc(state.get("cutoff"))
    until = now - timedelta(seconds=config.digest_settle_seconds)
    if since is not None and until < since:
        until = since
    groups = warehouse.new_reject_groups(since, until)
    result: dict[str, Any] = {"since": since.isoformat() if since else None,
                              "until": until.isoformat(),
                              "new_rejects": sum(int(g["count"]) for g in groups),
                              "groups": len(groups), "sent": False}
    alert = digest_alert(groups, since, until, entity_dags(), config.base_url, link)
    if alert is None:
        warehouse.set_alert_state(DIGEST_KEY, {"cutoff": until.isoformat()})
        log.info("no new rejects between %s and %s", since, until)
        return result
    sent, failed = _send([Pending(alert, DIGEST_KEY, {"cutoff": until.isoformat()})],
                         warehouse, config)
    result.update(sent=bool(sent), failed=failed)
    if not sent:
        raise AlertNotDelivered(f"reject digest not delivered: {failed}")
    return result

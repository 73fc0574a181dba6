"""The entity DAGs' failure notifier: an Airflow ``BaseNotifier`` in every task's
``on_failure_callback`` (next to the callback that marks the run failed in sync_runs).

A task fails for good (after its retries) -> one alert naming the entity, the run, the
step, the reason (a reject threshold exceeded is named as such) and a link to the DAG run.
Built when the DAG file is parsed, so construction only stores the entity; settings are
read and the message is built when a task fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger("hubspot_sync.alerts")


class SyncFailureNotifier(BaseNotifier):
    """Sends the failure of an entity run's task to the configured alert channels."""

    template_fields = ()  # the alert text is data, never a Jinja template

    def __init__(self, entity: str) -> None:
        super().__init__()
        self.entity = entity

    def notify(self, context: Mapping[str, Any]) -> None:
        try:
            from hubspot_sync.alerts.config import AlertConfig
            from hubspot_sync.alerts.delivery import deliver

            config = AlertConfig.load()
            deliver(self.alert(context, config.base_url), config)
        except Exception:  # a broken alert channel never hides the task's own failure
            log.exception("%s: the failure alert could not be built or sent", self.entity)

    def alert(self, context: Mapping[str, Any], base_url: str) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from hubspot_sync.alerts.messages import failure_alert

        error = context.get("exception")
        if isinstance(error, AirflowFailException) and error.__cause__ is not None:
            error = error.__cause__  # a StopRun the task wrapper turned into a plain failure
        ti = context.get("task_instance") or context.get("ti")
        dag_run = context.get("dag_run")
        dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) \
            or f"sync_{self.entity}"
        run_id = str(context.get("run_id") or getattr(dag_run, "run_id", "") or "unknown")
        return failure_alert(self.entity, dag_id, run_id, getattr(ti, "task_id", None), error,
                             base_url, getattr(ti, "try_number", None))

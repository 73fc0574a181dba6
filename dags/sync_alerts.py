"""``sync_alerts``, hourly at :15 (after the entity runs of :00): is any entity behind, and
which rejects are new since the last digest. Both tasks read the staging warehouse and
send through the channels the deployment configured (``hubspot_sync.alerts.config``);
without channels the alerts are only logged. This file only builds the DAG: the warehouse
and the providers are imported inside the tasks.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

HOURLY_AFTER_RUNS = "15 * * * *"

PARAMS = {
    "behind_hours": Param(None, type=["null", "number"], minimum=0, title="Behind threshold (h)",
                          description="An entity whose last successful window ended longer "
                                      "ago is announced. Empty: SYNC_ALERT_BEHIND_HOURS "
                                      "(default 3)."),
}


def _run_link() -> str:
    from hubspot_sync.alerts.config import base_url
    from hubspot_sync.alerts.messages import dag_run_url

    context = get_current_context()
    return dag_run_url(base_url(), context["dag"].dag_id, context["run_id"])


@dag(
    dag_id="sync_alerts",
    description="Alerts: entities behind schedule, hourly digest of new rejects",
    schedule=CronDataIntervalTimetable(HOURLY_AFTER_RUNS, timezone="UTC"),
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["hubspot-sync", "alerts"],
    params=PARAMS,
    default_args={"owner": "data-eng", "retries": 0},
)
def sync_alerts():
    @task
    def check_behind() -> dict:
        from hubspot_sync.alerts.checks import check_behind
        from hubspot_sync.warehouse import Warehouse

        hours = get_current_context()["params"].get("behind_hours")
        warehouse = Warehouse.from_airflow()
        try:
            return check_behind(warehouse, hours=None if hours is None else float(hours))
        finally:
            warehouse.dispose()

    @task
    def digest_new_rejects() -> dict:
        from hubspot_sync.alerts.checks import digest_new_rejects
        from hubspot_sync.warehouse import Warehouse

        warehouse = Warehouse.from_airflow()
        try:
            return digest_new_rejects(warehouse, link=_run_link())
        finally:
            warehouse.dispose()

    check_behind()
    digest_new_rejects()


DAG = sync_alerts()

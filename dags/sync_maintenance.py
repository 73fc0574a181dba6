"""``sync_maintenance``, daily: the retention policy of ``hubspot_sync.retention``.

Three independent tasks: prune the staging warehouse (old runs' snapshots, deltas, load
outcomes and reject sightings, long-resolved rejects, the old run log), prune the Data
Docs folders, and ``airflow db clean`` the metadata DB. Ages come from the Params, whose
defaults are SYNC_RETENTION_DAYS, SYNC_RUN_LOG_RETENTION_DAYS and
SYNC_REJECT_RETENTION_DAYS; ``dry_run`` only reports what would go. This file only builds
the DAG: the warehouse and Airflow's cleanup are imported inside the tasks.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from hubspot_sync.retention import env_default

DAILY = "30 3 * * *"


def _days(name: str, title: str, description: str) -> Param:
    return Param(env_default(name), type="integer", minimum=1, title=title,
                 description=description)


PARAMS = {
    "retention_days": _days(
        "retention_days", "Run data retention (days)",
        "Snapshots, deltas, load outcomes, sightings of resolved rejects, Data Docs and "
        "Airflow metadata older than this go (never a running or latest successful run)."),
    "run_log_retention_days": _days(
        "run_log_retention_days", "Run log retention (days)",
        "Rows of sync_runs (counts and details) older than this go; at least the run data "
        "retention."),
    "reject_retention_days": _days(
        "reject_retention_days", "Resolved reject retention (days)",
        "Rejects resolved longer ago than this go; open rejects stay until resolved."),
    "dry_run": Param(False, type="boolean", title="Dry run",
                     description="Count what would be deleted (rows per table, folders) and "
                                 "delete nothing."),
}


def _policy():
    from hubspot_sync.retention import RetentionPolicy

    return RetentionPolicy.from_params(dict(get_current_context()["params"]))


@dag(
    dag_id="sync_maintenance",
    description="Retention: prune the sync warehouse, Data Docs and Airflow metadata",
    schedule=CronDataIntervalTimetable(DAILY, timezone="UTC"),
    start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["hubspot-sync", "maintenance"],
    params=PARAMS,
    default_args={"owner": "data-eng", "retries": 0},
)
def sync_maintenance():
    @task
    def prune_warehouse() -> dict:
        from hubspot_sync.retention import prune_warehouse
        from hubspot_sync.warehouse import Warehouse

        warehouse = Warehouse.from_airflow()
        try:
            return prune_warehouse(warehouse, _policy())
        finally:
            warehouse.dispose()

    @task
    def prune_data_docs() -> dict:
        from hubspot_sync.retention import default_docs_dir, prune_data_docs

        return prune_data_docs(default_docs_dir(), _policy())

    @task
    def clean_airflow_metadata() -> dict:
        from hubspot_sync.retention import clean_airflow_metadata

        return clean_airflow_metadata(_policy())

    prune_warehouse()
    prune_data_docs()
    clean_airflow_metadata()


DAG = sync_maintenance()

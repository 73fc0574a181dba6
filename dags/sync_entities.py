"""One DAG per mapping file in include/mappings/: ``sync_<entity>``, hourly.

Each DAG's tasks are the declared steps of a run (``hubspot_sync.steps.STEPS``): extract
the entity's changes from OfficeRnD into the staging warehouse, read HubSpot's side of
exactly those records, compute the delta in pandas, validate it with Great Expectations,
upsert what passed into HubSpot, make the associations, and report the counts. This file
only builds DAGs: only the mapping YAML and the step list are read at parse time; pandas,
SQLAlchemy, GX and every network call live inside the tasks.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from hubspot_sync.alerts import SyncFailureNotifier
from hubspot_sync.mapping import EntityMapping, load_mappings
from hubspot_sync.steps import STEPS, Step, asset_identity, failure_callback

HOURLY = "0 * * * *"
START = pendulum.datetime(2020, 1, 1, tz="UTC")
# Every task that calls HubSpot runs in this pool, shared by all entity DAGs, so the
# portal's rate limit is spent by a bounded number of concurrent writers.
HUBSPOT_POOL = "hubspot_api"
# Tasks that talk to an API retry on top of the clients' own backoff (an outage longer
# than a request's retries); the pure-computation tasks fail fast, a retry would not help.
NETWORK_RETRIES = {"retries": int(os.environ.get("SYNC_TASK_RETRIES", "2")),
                   "retry_delay": timedelta(
                       seconds=int(os.environ.get("SYNC_TASK_RETRY_DELAY_SECONDS", "60"))),
                   "retry_exponential_backoff": True}

PARAMS = {
    "full_refresh": Param(False, type="boolean", title="Full refresh",
                          description="Read every source record (not only the window's changes) "
                                      "and page the whole HubSpot object; orphans are reported."),
    "dry_run": Param(False, type="boolean", title="Dry run",
                     description="Stop after validation: the field-by-field plan is kept in the "
                                 "warehouse's delta table and nothing is written to HubSpot."),
    "confirm_deletes": Param(False, type="boolean", title="Confirm deletes",
                             description="Go past the delete guard: flag or archive the records "
                                         "deleted in OfficeRnD or out of the filter even when "
                                         "they exceed the mapping's max_delete_ratio."),
    "since": Param(None, type=["null", "string"], format="date-time", title="Since",
                   description="Sync records changed at or after this instant (UTC). Empty: the "
                               "run's data interval, or the last successful run's end."),
    "until": Param(None, type=["null", "string"], format="date-time", title="Until",
                   description="Sync records changed before this instant (UTC). Empty: now."),
}


def _step_task(mapping: EntityMapping, step: Step):
    """The task of one declared step: its pool and retries, and a body that hands the task
    context and the outputs the step needs to the library."""
    options: dict = {"task_id": step.name, "doc_md": step.doc}
    if step.calls_hubspot:
        options["pool"] = HUBSPOT_POOL
    if step.network:
        options.update(NETWORK_RETRIES)
    if step.emits_asset:
        options["outlets"] = [Asset(**asset_identity(mapping))]

    def body(inputs: dict) -> dict:
        from hubspot_sync.steps import airflow_task

        context = get_current_context()
        out = airflow_task(mapping, step.name, context, inputs)
        if step.emits_asset:
            from hubspot_sync.steps.report import asset_extra

            asset = Asset(**asset_identity(mapping))
            context["outlet_events"][asset].extra = asset_extra(mapping.entity, out)
        return out

    return task(**options)(body)


def build_entity_dag(mapping: EntityMapping):
    """The DAG of one entity, built from its mapping and the declared steps."""
    doc = (f"# Sync {mapping.entity}\n\n{mapping.description}\n\n"
           f"OfficeRnD `{mapping.source.resource or mapping.source.table}` → HubSpot "
           f"`{mapping.hubspot.object}` (mode `{mapping.mode}`, id property "
           f"`{mapping.hubspot.id_property}`, match on "
           f"{', '.join(f'`{k}`' for k in mapping.hubspot.match_on) or 'nothing'}).\n\n"
           f"## Property mapping\n\n{mapping.property_table_md()}\n\n"
           f"Rejected records are kept in the warehouse's `rejects` table with their reason; "
           f"more than {mapping.max_rejected_ratio:.0%} rejected fails the run before any write.")
    if mapping.timeline:  # what the timeline task writes, for the data team in the UI
        doc += (f"\n\n## Timeline notes\n\n{mapping.timeline_table_md()}\n\nEach event is "
                "written once as a HubSpot note (its key is kept in the warehouse's "
                "`timeline_events` table and ends the note's body); a bad event is rejected "
                f"with its reason under `{mapping.entity}_timeline` in `rejects`.")

    @dag(
        dag_id=mapping.dag_id,
        description=mapping.description or f"Sync {mapping.entity} into HubSpot",
        schedule=CronDataIntervalTimetable(HOURLY, timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        doc_md=doc,
        tags=["hubspot-sync", *mapping.tags],
        params=PARAMS,
        # A failed task of any step marks the run failed in the warehouse's sync_runs,
        # then tells people (hubspot_sync.alerts: e-mail / webhook, per deployment).
        default_args={"owner": "data-eng", "retries": 0,
                      "on_failure_callback": [failure_callback(mapping),
                                              SyncFailureNotifier(mapping.entity)]},
    )
    def entity_dag():
        tasks: dict = {}
        for step in STEPS:
            if not step.applies_to(mapping):  # e.g. no timeline task without a timeline:
                continue
            tasks[step.name] = _step_task(mapping, step)(
                inputs={name: tasks[name] for name in step.needs if name in tasks})
            for name in step.after:
                if name in tasks:
                    tasks[name] >> tasks[step.name]

    return entity_dag()


def build_broken_mapping_dag(path: str, message: str):
    """A broken mapping file still shows up, as a DAG whose only task fails with the message,
    so the data team sees what to fix; the other entities' DAGs are unaffected."""
    entity = Path(path).stem

    @dag(dag_id=f"sync_{entity}", description=f"BROKEN MAPPING: {message.splitlines()[0]}",
         schedule=None, start_date=START, catchup=False, tags=["hubspot-sync", "broken-mapping"],
         doc_md=f"# Broken mapping\n\n```\n{message}\n```\n\nFix `{path}`; the DAG returns "
                f"to normal at the next parse.")
    def broken_dag():
        @task
        def mapping_error() -> None:
            raise AirflowFailException(message)

        mapping_error()

    return broken_dag()


_MAPPINGS = load_mappings()
# dag_id -> DAG (the @dag calls register themselves; this index is for tests and tools).
# sync_mode: disabled -> no DAG; mappings naming the entity still validate against its file.
DAGS = {m.dag_id: build_entity_dag(m) for m in _MAPPINGS.ordered() if m.enabled}
DAGS.update((f"sync_{Path(path).stem}", build_broken_mapping_dag(path, message))
            for path, message in sorted(_MAPPINGS.errors.items()))

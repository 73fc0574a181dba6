"""One DAG per mapping file in include/mappings/: ``sync_<entity>``, hourly.

Each run extracts the entity's changes from OfficeRnD into the staging warehouse,
reads HubSpot's side of exactly those records, computes the delta in pandas,
validates it with Great Expectations, upserts what passed into HubSpot, makes the
associations, and reports its counts. Only the mapping YAML is read at parse time;
pandas, SQLAlchemy, GX and every network call live inside the tasks.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from hubspot_sync.mapping import EntityMapping, load_mappings

HOURLY = "0 * * * *"
START = pendulum.datetime(2020, 1, 1, tz="UTC")
# Every task that calls HubSpot runs in this pool, shared by all entity DAGs, so the
# portal's rate limit is spent by a bounded number of concurrent writers.
HUBSPOT_POOL = "hubspot_api"
# Tasks that talk to an API retry on top of the clients' own backoff (an outage longer
# than a request's retries); the pure-computation tasks fail fast, a retry would not help.
NETWORK_RETRIES = {"retries": int(os.environ.get("SYNC_TASK_RETRIES", "2")),
                   "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True}

PARAMS = {
    "full_refresh": Param(False, type="boolean", title="Full refresh",
                          description="Read every source record (not only the window's changes) "
                                      "and page the whole HubSpot object; orphans are reported."),
    "dry_run": Param(False, type="boolean", title="Dry run",
                     description="Stop after validation: the field-by-field plan is kept in the "
                                 "warehouse's delta table and nothing is written to HubSpot."),
    "since": Param(None, type=["null", "string"], format="date-time", title="Since",
                   description="Sync records changed at or after this instant (UTC). Empty: the "
                               "run's data interval, or the last successful run's end."),
    "until": Param(None, type=["null", "string"], format="date-time", title="Until",
                   description="Sync records changed before this instant (UTC). Empty: now."),
}


def _entity_run(mapping: EntityMapping):
    """The EntityRun of the current task's DAG run (imports the pipeline lazily)."""
    from hubspot_sync.pipeline import EntityRun

    context = get_current_context()
    params = context["params"]
    return EntityRun(mapping=mapping, run_id=context["run_id"],
                     dry_run=bool(params.get("dry_run")),
                     full_refresh=bool(params.get("full_refresh")))


def build_entity_dag(mapping: EntityMapping):
    """The DAG of one entity, built from its mapping."""
    doc = (f"# Sync {mapping.entity}\n\n{mapping.description}\n\n"
           f"OfficeRnD `{mapping.source.resource or mapping.source.table}` → HubSpot "
           f"`{mapping.hubspot.object}` (mode `{mapping.mode}`, id property "
           f"`{mapping.hubspot.id_property}`, match on "
           f"{', '.join(f'`{k}`' for k in mapping.hubspot.match_on) or 'nothing'}).\n\n"
           f"## Property mapping\n\n{mapping.property_table_md()}\n\n"
           f"Rejected records are kept in the warehouse's `rejects` table with their reason; "
           f"more than {mapping.max_rejected_ratio:.0%} rejected fails the run before any write.")

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
        default_args={"owner": "data-eng", "retries": 0},
    )
    def entity_dag():
        @task(pool=HUBSPOT_POOL, **NETWORK_RETRIES)
        def ensure_properties() -> dict:
            """Create the id property and missing custom properties; check value maps."""
            from hubspot_sync.pipeline import ConfigurationError, task_ensure_properties

            try:
                return task_ensure_properties(_entity_run(mapping))
            except ConfigurationError as exc:
                raise AirflowFailException(str(exc)) from exc

        @task(**NETWORK_RETRIES)
        def extract_source() -> dict:
            """The entity's records changed in the run's window, into the source snapshot."""
            from hubspot_sync.pipeline import extract_source as step
            from hubspot_sync.pipeline import resolve_window

            context = get_current_context()
            run = _entity_run(mapping)
            run_type = context["dag_run"].run_type
            window = resolve_window(
                context["params"], context.get("data_interval_start"),
                context.get("data_interval_end"), getattr(run_type, "value", str(run_type)),
                run.warehouse.last_successful_window_end(mapping.entity))
            return step(run, window)

        @task(pool=HUBSPOT_POOL, **NETWORK_RETRIES)
        def extract_hubspot(definitions: dict, extracted: dict) -> dict:
            """HubSpot's current side of exactly those records (by id property, then match keys)."""
            from hubspot_sync.pipeline import task_extract_hubspot

            return task_extract_hubspot(_entity_run(mapping), definitions)

        @task
        def compute_delta(definitions: dict, hubspot_side: dict) -> dict:
            """Normalise both sides by property type; classify create / update / unchanged / ..."""
            from hubspot_sync.pipeline import task_compute_delta

            return task_compute_delta(_entity_run(mapping), definitions, hubspot_side)

        @task
        def validate(definitions: dict, delta: dict) -> dict:
            """Great Expectations on the rows to write; failures quarantined with reasons."""
            from hubspot_sync.pipeline import RejectThresholdExceeded, task_validate

            docs = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "data_docs"
            try:
                return task_validate(_entity_run(mapping), definitions, docs)
            except RejectThresholdExceeded as exc:
                raise AirflowFailException(str(exc)) from exc

        @task(pool=HUBSPOT_POOL, **NETWORK_RETRIES)
        def load(validation: dict) -> dict:
            """Batched upserts (100 a call) of the validated rows; per-row outcomes; id map."""
            from hubspot_sync.pipeline import task_load

            return task_load(_entity_run(mapping))

        @task(pool=HUBSPOT_POOL, **NETWORK_RETRIES)
        def associate(loaded: dict) -> dict:
            """Associations v4 for this run's records; targets not yet synced wait for the next."""
            from hubspot_sync.pipeline import task_associate

            return task_associate(_entity_run(mapping))

        @task(outlets=[Asset(mapping.asset_uri)])
        def report(extracted: dict, delta: dict, validation: dict, loaded: dict,
                   associated: dict, properties: dict, hubspot_side: dict) -> dict:
            """Counts to sync_runs, the task log and XCom; an Asset event for the object."""
            from hubspot_sync.pipeline import task_report

            counts = task_report(_entity_run(mapping), {
                "ensure_properties": properties, "extract_source": extracted,
                "extract_hubspot": hubspot_side, "compute_delta": delta,
                "validate": validation, "load": loaded, "associate": associated})
            outlet_events = get_current_context()["outlet_events"]
            outlet_events[Asset(mapping.asset_uri)].extra = {
                "entity": mapping.entity,
                **{k: counts[k] for k in ("created", "updated", "rejected", "failed")}}
            return counts

        properties = ensure_properties()
        extracted = extract_source()
        hubspot_side = extract_hubspot(properties, extracted)
        delta = compute_delta(properties, hubspot_side)
        validation = validate(properties, delta)
        loaded = load(validation)
        associated = associate(loaded)
        report(extracted, delta, validation, loaded, associated, properties, hubspot_side)

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
DAGS = {m.dag_id: build_entity_dag(m) for m in _MAPPINGS.ordered()}
DAGS.update((f"sync_{Path(path).stem}", build_broken_mapping_dag(path, message))
            for path, message in sorted(_MAPPINGS.errors.items()))

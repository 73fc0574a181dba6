"""The staging warehouse: run log, snapshots, delta, rejects, id map, load outcomes.

SQLAlchemy 2 Core on any URL; SQLite (the embedded default) and PostgreSQL are the
supported backends. The schema is versioned with Alembic (``migrations/``) and brought to
the head revision before first use; every run-keyed table is keyed by ``(entity,
run_id)``, so any run can be inspected afterwards. All timestamps go in and come out as
timezone-aware UTC datetimes (also from SQLite, which stores them naive). JSON columns
take and return plain Python dicts and lists.

One module per table owner: ``runs`` (sync_runs), ``snapshots``, ``delta`` (delta and
load_outcomes), ``rejects``, ``id_map``, ``associations`` (pending_associations), and
``retention`` (pruning old rows); ``facade.Warehouse`` composes them. ``connection``
finds the database, ``schema`` declares the tables, ``migrate`` versions them.

Rerunning a run id (an Airflow retry or a cleared run) calls :meth:`Warehouse.start_run`
again, which drops that run's own rows everywhere, so the rerun replaces them.

Only imported inside tasks (pandas is imported at the top).
"""

from hubspot_sync.records import DELTA_COLUMNS, LOAD_OUTCOME_COLUMNS
from hubspot_sync.values import as_utc as to_utc
from hubspot_sync.warehouse.connection import (
    DEFAULT_CONN_ID,
    WarehouseConnectionError,
    default_sqlite_url,
    normalise_url,
    url_from_connection,
)
from hubspot_sync.warehouse.facade import Warehouse
from hubspot_sync.warehouse.rows import dumps
from hubspot_sync.warehouse.schema import (
    COUNT_KEYS,
    HUBSPOT_SNAPSHOT_COLUMNS,
    KEY_LENGTH,
    PENDING_COLUMNS,
    REJECT_TABLE_COLUMNS,
    RUN_COLUMNS,
    RUN_STATUSES,
    SOURCE_SNAPSHOT_COLUMNS,
    UTCDateTime,
    build_tables,
)

__all__ = ["Warehouse", "WarehouseConnectionError", "UTCDateTime", "to_utc", "dumps",
           "default_sqlite_url", "url_from_connection", "normalise_url", "build_tables",
           "DEFAULT_CONN_ID", "KEY_LENGTH", "COUNT_KEYS", "RUN_STATUSES", "RUN_COLUMNS",
           "SOURCE_SNAPSHOT_COLUMNS", "HUBSPOT_SNAPSHOT_COLUMNS", "DELTA_COLUMNS",
           "LOAD_OUTCOME_COLUMNS", "REJECT_TABLE_COLUMNS", "PENDING_COLUMNS"]

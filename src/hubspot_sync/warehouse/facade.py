"""``Warehouse``: one object the steps use, composed of one owner per table."""

from __future__ import annotations

from typing import Any

from hubspot_sync.warehouse.alerts import AlertStateStore
from hubspot_sync.warehouse.associations import PendingAssociationStore
from hubspot_sync.warehouse.connection import DEFAULT_CONN_ID, settings_from_airflow
from hubspot_sync.warehouse.delta import DeltaStore
from hubspot_sync.warehouse.id_map import IdMapStore
from hubspot_sync.warehouse.ledger import AssociationLedgerStore
from hubspot_sync.warehouse.lifecycle import LifecycleStore
from hubspot_sync.warehouse.rejects import RejectStore
from hubspot_sync.warehouse.retention import Retention
from hubspot_sync.warehouse.runs import RunLog
from hubspot_sync.warehouse.snapshots import Snapshots
from hubspot_sync.warehouse.timeline import TimelineStore
from hubspot_sync.warehouse.two_way import TwoWayStore


class Warehouse(RunLog, Snapshots, DeltaStore, RejectStore, IdMapStore,
                PendingAssociationStore, Retention, AlertStateStore,
                AssociationLedgerStore, TimelineStore, LifecycleStore, TwoWayStore):
    """The staging warehouse on one SQLAlchemy URL (SQLite or PostgreSQL).

    ``schema`` puts the tables in a PostgreSQL schema (created if missing); ignored on
    SQLite. The schema is migrated to the head revision on first use.
    """

    @classmethod
    def from_airflow(cls, conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> Warehouse:
        """The warehouse of Airflow connection ``conn_id``; the embedded SQLite default only
        when that connection is not defined (logged as a warning naming the file).

        Connection extra may hold ``url`` / ``sqlalchemy_url`` and ``warehouse_schema``
        (a PostgreSQL schema for the tables). Any other failure to read the connection
        raises :class:`WarehouseConnectionError`.
        """
        url, schema = settings_from_airflow(conn_id)
        if schema and "schema" not in kwargs:
            kwargs["schema"] = schema
        return cls(url, **kwargs)

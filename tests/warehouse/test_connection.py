"""Which warehouse a run uses: the ``sync_warehouse`` connection, the embedded SQLite
default only when that connection is not defined, and a failure for anything else."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from hubspot_sync.warehouse import Warehouse, WarehouseConnectionError

E = "members"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


class _Records(logging.Handler):
    """Records of one logger (Airflow's logging setup bypasses pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_from_airflow_without_connection_uses_sqlite_under_airflow_home(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SYNC_WAREHOUSE", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    file = tmp_path / "home" / "sync_warehouse.db"
    logger, handler = logging.getLogger("hubspot_sync.warehouse.connection"), _Records()
    logger.addHandler(handler)
    try:
        w = Warehouse.from_airflow()
    finally:
        logger.removeHandler(handler)
    assert w.dialect == "sqlite" and str(w.engine.url.database) == str(file)
    warning = [r for r in handler.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and "not defined" in warning[0].getMessage()
    assert str(file) in warning[0].getMessage()
    w.start_run(E, "r1", T0, T0)
    assert file.exists()
    w.dispose()


def test_any_other_error_reading_the_connection_fails(monkeypatch, tmp_path):
    from airflow.sdk import BaseHook

    def broken(conn_id):
        raise ConnectionRefusedError("secrets backend at vault:8200 refused the connection")

    monkeypatch.setattr(BaseHook, "get_connection", staticmethod(broken))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    with pytest.raises(WarehouseConnectionError, match="sync_warehouse.*vault:8200 refused"):
        Warehouse.from_airflow()
    assert not (tmp_path / "sync_warehouse.db").exists()


def test_a_malformed_connection_variable_is_not_taken_for_no_connection(monkeypatch, tmp_path):
    # Airflow reports an unparseable AIRFLOW_CONN_* value as "not defined".
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_WAREHOUSE", '{"conn_type": "generic", "extra": {')
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    with pytest.raises(WarehouseConnectionError, match="AIRFLOW_CONN_SYNC_WAREHOUSE is set"):
        Warehouse.from_airflow()
    assert not (tmp_path / "sync_warehouse.db").exists()


def test_from_airflow_reads_the_connection(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_WAREHOUSE", json.dumps(
        {"conn_type": "postgres", "host": "db.example", "login": "sync", "password": "s3cret",
         "schema": "warehouse", "port": 5432}))
    w = Warehouse.from_airflow()
    assert w.dialect == "postgresql" and w.engine.url.drivername == "postgresql+psycopg2"
    assert (w.engine.url.host, w.engine.url.database) == ("db.example", "warehouse")
    assert "s3cret" not in repr(w) and w.schema is None
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_WAREHOUSE", json.dumps(
        {"conn_type": "postgres", "host": "db.example", "schema": "warehouse",
         "extra": {"warehouse_schema": "hubspot_sync"}}))
    w = Warehouse.from_airflow()
    assert w.schema == "hubspot_sync" and not w.engine.url.query
    monkeypatch.setenv("AIRFLOW_CONN_OTHER_WH", json.dumps(
        {"conn_type": "generic", "extra": {"sqlalchemy_url": f"sqlite:///{tmp_path}/o.db"}}))
    assert Warehouse.from_airflow("other_wh").dialect == "sqlite"

"""sync_maintenance end to end with dag.test(): a dry run changes nothing, a real run
prunes the warehouse's old rows and old Data Docs and runs Airflow's metadata cleanup."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import dag_from_file
from tests.integration.test_data_docs_retention import run_folder
from tests.warehouse.test_retention import add_run, at


@pytest.fixture(scope="module")
def maintenance_dag(airflow_db):
    return dag_from_file("sync_maintenance")


@pytest.fixture
def warehouse(warehouse_url):
    from hubspot_sync.warehouse import Warehouse

    wh = Warehouse(warehouse_url)
    now = datetime.now(UTC)
    add_run(wh, "members", "old", 30)
    add_run(wh, "members", "recent", 1)
    add_run(wh, "members", "ancient", 500)
    wh.record_rejects("members", "old", [{"source_id": s, "rule": "email"}
                                         for s in ("open", "resolved")])
    wh.resolve_rejects("members", "recent", ["resolved"])
    at(wh, "rejects", ["members", "resolved"], resolved_at=now - timedelta(days=60))
    try:
        yield wh
    finally:
        wh.dispose()


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state))
            for ti in dag_run.get_task_instances()}


def test_dry_run_then_real_run(maintenance_dag, warehouse) -> None:
    docs = Path(os.environ["AIRFLOW_HOME"]) / "data_docs"
    old_docs = run_folder(docs, "retention_e2e", "old_run", 30)
    new_docs = run_folder(docs, "retention_e2e", "new_run", 1)
    before = warehouse.table_rows()
    assert before["delta"] == 9 and before["rejects"] == 2 and before["sync_runs"] == 3

    dry = maintenance_dag.test(run_conf={"dry_run": True})
    assert str(getattr(dry.state, "value", dry.state)) == "success", states(dry)
    assert set(states(dry).values()) == {"success"}
    assert warehouse.table_rows() == before and old_docs.exists()

    real = maintenance_dag.test(run_conf={"dry_run": False})
    assert set(states(real).values()) == {"success"}, states(real)
    after = warehouse.table_rows()
    # Two old runs' rows (3 per table) and the long-resolved reject with its sighting go;
    # the 500-day-old run leaves the run log.
    for table in ("source_snapshot", "hubspot_snapshot", "delta", "load_outcomes"):
        assert before[table] - after[table] == 6, table
    assert (after["rejects"], after["reject_events"]) == (1, 1)
    assert after["sync_runs"] == 2 and warehouse.get_run("members", "ancient") is None
    assert warehouse.counts("members", "recent")["delta"] == 3
    assert not old_docs.exists() and new_docs.exists()


def test_metadata_cleanup_falls_back_to_the_cli(airflow_db, monkeypatch) -> None:
    """Without the Python API the same cleanup runs as ``airflow db clean`` (dry run here:
    the CLI must accept the flags and succeed against the migrated metadata DB)."""
    from hubspot_sync.retention import RetentionPolicy, clean_airflow_metadata

    monkeypatch.setitem(sys.modules, "airflow.utils.db_cleanup", None)  # import fails
    summary = clean_airflow_metadata(RetentionPolicy(dry_run=True))
    assert summary["method"] == "cli" and summary["dry_run"]

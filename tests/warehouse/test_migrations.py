"""The versioned warehouse schema on SQLite and PostgreSQL: the head revision is what the
code declares; a warehouse made before migrations (frozen DDL, rows in every table) is
stamped and upgraded with nothing lost; migrating again changes nothing; two processes
migrating at once both succeed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, text

from hubspot_sync.warehouse import Warehouse, build_tables
from hubspot_sync.warehouse.migrate import BASELINE_TABLES, head_revision

HERE = Path(__file__).parent
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)

# One row per table of revision 0001, columns as they were then (JSON as text; ids from
# the database, as the old code let them be).
LEGACY_ROWS: dict[str, dict[str, object]] = {
    "sync_runs": {"entity": "members", "run_id": "r1", "started_at": T0, "finished_at": T0,
                  "status": "success", "window_start": T0, "window_end": T0,
                  "full_refresh": False, "dry_run": False, "extracted": 3, "created": 2,
                  "updated": 1, "unchanged": 0, "skipped": 0, "rejected": 1, "failed": 0,
                  "api_calls": 4, "details": json.dumps({"data_docs": "/tmp/x.html"})},
    "source_snapshot": {"entity": "members", "run_id": "r1", "source_id": "s1",
                        "changed_at": T0, "properties": json.dumps({"email": "a@x.com"}),
                        "links": json.dumps({"company": "c1"}), "skip_reason": None,
                        "problems": "[]", "raw": json.dumps({"_id": "s1"})},
    "hubspot_snapshot": {"entity": "members", "run_id": "r1", "source_id": "s1",
                         "hubspot_id": "101", "matched_by": "email",
                         "properties": json.dumps({"email": "a@x.com"})},
    "delta": {"entity": "members", "run_id": "r1", "source_id": "s1",
              "hubspot_id": "101", "action": "update", "changed_fields": '["email"]',
              "before": json.dumps({"email": "b@x.com"}), "after": json.dumps({"email": "a@x.com"}),
              "reason": None, "matched_by": "email", "changed_at": T0},
    "rejects": {"entity": "members", "run_id": "r1", "first_run_id": "r1",
                "source_id": "s2", "rule": "email", "property": "email", "value": "nope",
                "reason": "not an email address", "source": "validation", "category": None,
                "times_seen": 1, "first_seen_at": T0, "last_seen_at": T0, "resolved_at": None,
                "resolved_run_id": None},
    "reject_events": {"entity": "members", "run_id": "r1", "reject_id": 1,
                      "value": "nope", "reason": "not an email address", "seen_at": T0},
    "id_map": {"entity": "members", "source_id": "s1", "hubspot_id": "101",
               "hubspot_object": "contacts", "first_synced_run": "r1",
               "last_synced_run": "r1", "updated_at": T0},
    "load_outcomes": {"entity": "members", "run_id": "r1", "source_id": "s1",
                      "hubspot_id": "101", "action": "update", "status": "written",
                      "category": None, "message": None},
    "pending_associations": {"entity": "members", "source_id": "s1",
                             "to_entity": "companies", "to_source_id": "c1", "type_id": 279,
                             "first_seen_run": "r1", "last_tried_run": "r1",
                             "reason": "company c1 not synced yet", "attempts": 1,
                             "updated_at": T0},
}


def make_legacy_warehouse(url: str, schema: str | None) -> None:
    """The warehouse as the code before migrations left it: its DDL, one row per table."""
    engine = create_engine(url)
    ddl = (HERE / f"legacy_schema_{engine.dialect.name}.sql").read_text()
    with engine.begin() as conn:
        if schema:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        for statement in ddl.split(";\n"):
            body = "\n".join(line for line in statement.splitlines()
                             if not line.startswith("--")).strip()
            if body:
                conn.execute(text(body))
        for table, row in LEGACY_ROWS.items():
            if engine.dialect.name == "sqlite":  # the old code stored naive UTC wall time
                row = {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v
                       for k, v in row.items()}
            cols = ", ".join(f'"{c}"' for c in row)
            conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES "
                              f"({', '.join(':' + c for c in row)})"), row)
    engine.dispose()


def schema_differences(wh: Warehouse) -> list[object]:
    """What Alembic's autogenerate finds between the database and the declared tables."""
    declared = MetaData(schema=wh.schema)
    build_tables(declared)
    with wh.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_schemas": bool(wh.schema), "version_table_schema": wh.schema,
            "include_name": lambda name, kind, _parent: kind != "schema" or name == wh.schema})
        return compare_metadata(context, declared)


def row_counts(wh: Warehouse) -> dict[str, int]:
    with wh.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {_qualified(wh, t)}")).scalar_one()
                for t in BASELINE_TABLES}


def _qualified(wh: Warehouse, table: str) -> str:
    return f'"{wh.schema}".{table}' if wh.schema else table


def test_head_revision_creates_the_declared_schema(database):
    url, schema = database
    wh = Warehouse(url, schema=schema)
    assert wh.revision() is None
    assert wh.migrate() == (None, head_revision())
    assert wh.revision() == head_revision() == "0011"
    assert schema_differences(wh) == []
    wh.dispose()


def test_pre_migration_warehouse_is_stamped_and_upgraded_with_its_data(database):
    url, schema = database
    make_legacy_warehouse(url, schema)
    wh = Warehouse(url, schema=schema)
    assert wh.revision() is None and row_counts(wh) == dict.fromkeys(BASELINE_TABLES, 1)

    assert wh.get_run("members", "r1")["extracted"] == 3  # first use migrates
    assert wh.revision() == head_revision()
    assert row_counts(wh) == dict.fromkeys(BASELINE_TABLES, 1)
    assert schema_differences(wh) == []
    indexes = {ix["name"] for ix in inspect(wh.engine).get_indexes("rejects", schema=schema)}
    assert "ix_rejects_entity_rule_resolved" in indexes
    run = wh.get_run("members", "r1")
    assert run["started_at"] == T0 and run["details"] == {"data_docs": "/tmp/x.html"}
    source = wh.read_source_snapshot("members", "r1")
    assert source.loc[0, "properties"] == {"email": "a@x.com"} and source.loc[0, "problems"] == []
    assert wh.read_hubspot_snapshot("members", "r1").loc[0, "hubspot_id"] == "101"
    assert wh.read_delta("members", "r1").loc[0, "changed_fields"] == ["email"]
    assert wh.read_load_outcomes("members", "r1").loc[0, "status"] == "written"
    assert list(wh.open_rejects("members")["source_id"]) == ["s2"]
    assert list(wh.rejects_for_run("members", "r1")["value"]) == ["nope"]
    assert wh.id_map("members") == {"s1": "101"}
    assert wh.pending_associations("members")[0]["to_source_id"] == "c1"
    # the old rows keep working with new ones (ids continue after the old ones)
    wh.record_rejects("members", "r2", [{"source_id": "s3", "rule": "email"}])
    assert sorted(wh.open_rejects("members")["source_id"]) == ["s2", "s3"]

    again = Warehouse(url, schema=schema)
    assert again.migrate() == (head_revision(), head_revision())  # a no-op
    assert row_counts(again)["rejects"] == 2
    again.dispose()
    wh.dispose()


MIGRATE_IN_A_PROCESS = """
import json, sys, time
from pathlib import Path
from hubspot_sync.warehouse import Warehouse
url, schema, go = sys.argv[1], sys.argv[2] or None, Path(sys.argv[3])
wh = Warehouse(url, schema=schema)
while not go.exists():
    time.sleep(0.005)
print(json.dumps(wh.migrate()))
"""


def test_two_processes_migrating_at_once_both_succeed(database, tmp_path):
    url, schema = database
    make_legacy_warehouse(url, schema)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE_IN_A_PROCESS, url, schema or "",
                               str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    time.sleep(1.5)  # both imported and waiting
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(tuple(json.loads(out.strip().splitlines()[-1])))
    head = head_revision()
    # exactly one of them migrated; the other found the work done once it had the lock
    assert sorted(results, key=str) == sorted([(None, head), (head, head)], key=str)
    wh = Warehouse(url, schema=schema)
    assert wh.revision() == head and row_counts(wh) == dict.fromkeys(BASELINE_TABLES, 1)
    wh.dispose()


def test_a_revision_from_a_newer_release_is_refused_with_the_reason(database):
    url, schema = database
    wh = Warehouse(url, schema=schema)
    wh.migrate()
    with wh.engine.begin() as conn:
        conn.execute(text(f"UPDATE {_qualified(wh, 'alembic_version')} SET version_num = '0099'"))
    again = Warehouse(url, schema=schema)
    with pytest.raises(RuntimeError, match="revision 0099, which this release does not know"):
        again.get_run("members", "r1")
    again.dispose()
    wh.dispose()

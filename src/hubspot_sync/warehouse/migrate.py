"""Bring a warehouse database to the head Alembic revision, safely from parallel tasks.

The Alembic configuration is built here (no alembic.ini): scripts live in ``migrations/``
inside the package; the version table sits next to the tables (in the PostgreSQL schema
when one is configured). Concurrent task processes serialise on a lock (PostgreSQL: an
advisory lock; SQLite: a lock file beside the database) and re-check the revision once
they hold it, so exactly one of them migrates. A warehouse created before migrations
existed (its tables, no ``alembic_version``) is stamped 0001, then upgraded.
"""

from __future__ import annotations

import fcntl
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, Table, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateSchema

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's default name
BASELINE = "0001"  # the schema the code created before Alembic
BASELINE_TABLES = ("sync_runs", "source_snapshot", "hubspot_snapshot", "delta", "rejects",
                   "reject_events", "id_map", "load_outcomes", "pending_associations")


def alembic_config(connection: Connection, schema: str | None) -> Config:
    """An Alembic Config for ``connection`` (env.py reads both from ``attributes``)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(SCRIPTS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions under {SCRIPTS}")
    return head


def current_revision(connection: Connection, schema: str | None) -> str | None:
    """The revision the database is at (None: never migrated). Read directly rather than
    through a MigrationContext, which logs two lines in every task's log."""
    if not inspect(connection).has_table(VERSION_TABLE, schema=schema):
        return None
    table = Table(VERSION_TABLE, MetaData(schema=schema), Column("version_num", String(32)))
    return connection.execute(select(table.c.version_num)).scalar()


def upgrade(engine: Engine, schema: str | None = None) -> tuple[str | None, str]:
    """Migrate to head; returns (revision before, revision after). Cheap when at head."""
    head = head_revision()
    with engine.connect() as conn:
        before = _revision_if_schema(conn, schema)
    if before == head:
        return before, head
    with _migration_lock(engine, schema) as conn:
        if schema and schema not in inspect(conn).get_schema_names():
            # Only when missing: CREATE needs a privilege a warehouse user may lack.
            conn.execute(CreateSchema(schema, if_not_exists=True))
            conn.commit()
        before = current_revision(conn, schema)  # another process may have done it
        conn.rollback()
        if before != head:
            _check_known(before, head)
            config = alembic_config(conn, schema)
            start = before or "an empty database"
            if before is None and _is_baseline(conn, schema):
                log.warning("Warehouse %s was created before schema versions: stamping "
                            "revision %s", _where(engine, schema), BASELINE)
                command.stamp(config, BASELINE)
                conn.commit()
                start = f"{BASELINE} (stamped)"
            command.upgrade(config, "head")
            conn.commit()
            log.info("Warehouse %s migrated from %s to %s", _where(engine, schema), start,
                     head)
        after = current_revision(conn, schema)
        conn.rollback()
    if after != head:
        raise RuntimeError(f"warehouse is at revision {after}, expected {head}")
    return before, after


def _check_known(revision: str | None, head: str) -> None:
    """A revision this code does not know was made by a newer release: say so plainly."""
    known = {script.revision for script in ScriptDirectory(str(SCRIPTS)).walk_revisions()}
    if revision is not None and revision not in known:
        raise RuntimeError(f"warehouse is at schema revision {revision}, which this release "
                           f"does not know (its head is {head}): run a release that does")


def _revision_if_schema(conn: Connection, schema: str | None) -> str | None:
    """The current revision, None when the PostgreSQL schema does not exist yet."""
    if schema and schema not in inspect(conn).get_schema_names():
        return None
    return current_revision(conn, schema)


def _is_baseline(conn: Connection, schema: str | None) -> bool:
    """True when the tables of revision 0001 are all there (a pre-Alembic warehouse)."""
    have = set(inspect(conn).get_table_names(schema=schema)) & set(BASELINE_TABLES)
    conn.rollback()
    if have and have != set(BASELINE_TABLES):
        missing = sorted(set(BASELINE_TABLES) - have)
        raise RuntimeError(f"warehouse has some tables of revision {BASELINE} but not "
                           f"{missing} and no alembic_version: not a schema this code made")
    return bool(have)


def _where(engine: Engine, schema: str | None) -> str:
    url = engine.url.render_as_string(hide_password=True)
    return f"{url} (schema {schema})" if schema else url


@contextmanager
def _migration_lock(engine: Engine, schema: str | None) -> Iterator[Connection]:
    """A connection held under the warehouse's migration lock."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # Session-level: survives the commits the migration makes, released below.
            key = zlib.crc32(f"hubspot_sync.warehouse:{schema or ''}".encode())
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        elif engine.dialect.name == "sqlite" and _sqlite_file(engine):
            with open(f"{_sqlite_file(engine)}.migrate.lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
                yield conn
        else:  # an in-memory SQLite database has one user; other backends: no lock known
            yield conn


def _sqlite_file(engine: Engine) -> str | None:
    path = engine.url.database or ""
    return None if not path or path == ":memory:" or path.startswith("file:") else path

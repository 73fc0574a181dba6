"""Warehouse databases for the tests: a SQLite file, and a fresh schema on the PostgreSQL
server at SYNC_TEST_POSTGRES_URL (dropped afterwards). PostgreSQL tests skip with a reason
when no server answers, and fail instead when REQUIRE_POSTGRES=1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hubspot_sync.warehouse import Warehouse


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL schema name of this test's own; the schema is dropped after the test."""
    schema = f"wh_test_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        engine = create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(URL, schema) of an empty warehouse database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}", None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema")


@pytest.fixture
def wh(database: tuple[str, str | None]) -> Iterator[Warehouse]:
    url, schema = database
    w = Warehouse(url, schema=schema)
    try:
        yield w
    finally:
        w.dispose()

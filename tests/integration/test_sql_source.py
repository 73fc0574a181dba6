"""SQLSource on SQLite and (when a server answers) PostgreSQL: windows as bound parameters
on ISO-text and real timestamp columns, tables and queries, lookups by id."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hubspot_sync.mapping import SourceSpec
from hubspot_sync.sources import SQLSource, source_for

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
N = 600


def _stamp(i: int) -> datetime:
    return T0 + timedelta(minutes=7 * i, milliseconds=i)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    """(url, schema prefix) of a database holding the test tables."""
    if request.param == "sqlite":
        url, prefix = f"sqlite:///{tmp_path / 'source.db'}", ""
        engine = sa.create_engine(url)
        cleanup = None
    else:
        url = request.getfixturevalue("postgres_url")
        schema = f"sqlsrc_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        prefix = f"{schema}."

        def cleanup() -> None:
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

    meta = sa.MetaData(schema=prefix.rstrip(".") or None)
    members = sa.Table("members", meta,
                       sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("email", sa.String(100)),
                       sa.Column("amount", sa.Numeric(10, 2)),
                       sa.Column("modified_iso", sa.String(40)),        # 2025-06-01T08:00:00.000Z
                       sa.Column("modified_plain", sa.String(40)),      # 2025-06-01 08:00:00
                       sa.Column("modified_ts", sa.DateTime(timezone=True)),
                       sa.Column("modified_naive", sa.DateTime()))
    companies = sa.Table("companies", meta,
                         sa.Column("code", sa.String(24), primary_key=True),
                         sa.Column("name", sa.String(100)))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(members.insert(), [{
            "id": i, "email": f"m{i}@example.com", "amount": f"{i}.25",
            "modified_iso": _stamp(i).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{_stamp(i).microsecond // 1000:03d}Z",
            "modified_plain": _stamp(i).strftime("%Y-%m-%d %H:%M:%S"),
            "modified_ts": _stamp(i), "modified_naive": _stamp(i).replace(tzinfo=None)}
            for i in range(N)])
        conn.execute(companies.insert(), [{"code": f"c{i:03d}", "name": f"Co {i}"}
                                          for i in range(50)])
    engine.dispose()
    yield url, prefix
    if cleanup:
        cleanup()
    sa.create_engine(url).dispose()


def _expected(since: datetime | None, until: datetime | None, whole_seconds: bool = False) -> set:
    out = set()
    for i in range(N):
        stamp = _stamp(i).replace(microsecond=0) if whole_seconds else _stamp(i)
        if (since is None or stamp >= since) and (until is None or stamp < until):
            out.add(i)
    return out


WINDOWS = [(_stamp(100), _stamp(250)), (_stamp(0), _stamp(1)), (_stamp(599), None),
           (None, _stamp(3)), (_stamp(10) + timedelta(microseconds=500), _stamp(20))]


@pytest.mark.parametrize("column", ["modified_iso", "modified_plain", "modified_ts",
                                    "modified_naive"])
def test_window_on_text_and_timestamp_columns(db, column):
    url, prefix = db
    source = SQLSource(url, table=f"{prefix}members", id_column="id", changed_at=column)
    for since, until in WINDOWS:
        got = [r["id"] for r in source.extract("members", since, until)]
        assert len(got) == len(set(got))
        assert set(got) == _expected(since, until, whole_seconds=column == "modified_plain"), (
            column, since, until)
    source.close()


def test_rows_are_plain_dicts(db):
    url, prefix = db
    source = SQLSource(url, table=f"{prefix}members", changed_at="modified_ts")
    (row,) = source.extract("members", _stamp(3), _stamp(4))
    assert row["id"] == 3 and row["email"] == "m3@example.com" and row["amount"] == 3.25
    assert row["modified_ts"] == "2025-06-01T08:21:00.003Z"
    assert row["modified_iso"] == row["modified_ts"]


def test_no_change_column_reads_everything(db):
    url, prefix = db
    source = SQLSource(url, table=f"{prefix}members", changed_at="modified_iso")
    assert len(list(source.extract("members", _stamp(5), _stamp(6), changed_at=None))) == N
    assert len(list(source.extract("members"))) == N
    plain = SQLSource(url, table=f"{prefix}members")
    assert len(list(plain.extract("members", _stamp(5), _stamp(6)))) == N


def test_query_source_and_get_many(db):
    url, prefix = db
    source = SQLSource(url, query=f"SELECT id, email, modified_iso FROM {prefix}members "
                                  "WHERE id % 2 = 0", id_column="id",
                       changed_at="modified_iso", name="members")
    got = {r["id"] for r in source.extract("members", _stamp(10), _stamp(20))}
    assert got == {10, 12, 14, 16, 18}
    found = source.get_many("members", ["2", "3", "4", "x", "9999"])
    assert set(found) == {"2", "4"} and found["2"]["email"] == "m2@example.com"
    many = source.get_many("members", [str(i) for i in range(N)])
    assert len(many) == N // 2 and source.calls[("SELECT", "get_many")] == 1 + 2


def test_get_many_of_another_table(db):
    url, prefix = db
    source = SQLSource(url, table=f"{prefix}members", changed_at="modified_ts", name="members")
    companies = source.get_many(f"{prefix}companies" if prefix else "companies", [])
    assert companies == {}
    other = SQLSource(url, table=f"{prefix}companies", id_column="code", name="companies")
    assert other.get_many("companies", ["c001", "c049", "zzz"]).keys() == {"c001", "c049"}


def test_source_for_with_an_airflow_connection(db, monkeypatch):
    url, prefix = db
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", json.dumps(
        {"conn_type": "generic", "extra": {"url": url}}))
    spec = SourceSpec(system="sql", resource="members", table=f"{prefix}members", id="id",
                      changed_at="modified_ts", conn_id="crm_db")
    source = source_for(spec)
    assert isinstance(source, SQLSource)
    assert {r["id"] for r in source.extract("members", _stamp(1), _stamp(4))} == {1, 2, 3}
    assert set(source.get_many("members", ["5"])) == {"5"}

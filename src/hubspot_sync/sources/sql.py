"""Any SQLAlchemy database as a source: a table or a query, windowed on a change column.

The window is a pair of bound parameters on the change-timestamp column, so it works on
SQLite and PostgreSQL alike, for real timestamp columns and for ISO-8601 text. For text
columns the bounds are formatted like the stored values (separator, fraction digits, ``Z``
or offset suffix, read from one sample row), so that comparing strings compares instants;
this assumes the column stores one consistent UTC format. Epoch-number columns are bound as
epoch seconds or milliseconds, again following the sample.

Rows come back as dicts; timestamps are rendered as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC), dates
as ``YYYY-MM-DD`` and decimals as floats, the same shapes the OfficeRnD source yields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import MetaData, Table, bindparam, create_engine, literal_column, select, text
from sqlalchemy.engine import Engine

from hubspot_sync.sources.base import SOURCE_DEFAULT, Source, iso_ms
from hubspot_sync.values import as_utc, chunks

_FRACTION = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.(\d+))?")
_OFFSET = re.compile(r"[+-]\d{2}:?\d{2}$")
ID_CHUNK = 500


class SQLSource(Source):
    """Rows of one table (or one query) in any database SQLAlchemy reaches.

    :param url: SQLAlchemy URL (``sqlite:///file.db``, ``postgresql+psycopg2://...``).
    :param conn_id: an Airflow connection instead of ``url`` (its extra ``url`` /
        ``sqlalchemy_url`` if set, else the connection URI).
    :param table: table name (``schema.table`` allowed), or
    :param query: a SELECT whose rows are the records (wrapped as a subquery).
    :param id_column: the column holding the record id.
    :param changed_at: the change-timestamp column; None: no window, always read all.
    :param name: the resource name this source answers to (``extract``/``get_many`` with
        another resource name read the table of that name instead).
    """

    def __init__(self, url: str | None = None, table: str | None = None,
                 query: str | None = None, id_column: str = "id",
                 changed_at: str | None = None, *, conn_id: str | None = None,
                 name: str | None = None, engine: Engine | None = None) -> None:
        super().__init__()
        if url is None and conn_id is None and engine is None:
            raise ValueError("SQLSource needs a url, a conn_id or an engine")
        if table and query:
            raise ValueError("give a table or a query, not both")
        self.url = url
        self.conn_id = conn_id
        self.table = table
        self.query = query.strip().rstrip(";") if query else None
        self.id_column = id_column
        self.changed_at = changed_at
        self.name = name
        self._engine = engine
        self._samples: dict[tuple[str, str], Any] = {}
        self._tables: dict[str, Table] = {}

    # ------------------------------------------------------------------ engine
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.url or _url_from_connection(self.conn_id or ""))
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _source(self, resource: str | None) -> Any:
        """The FROM clause for a resource: the configured query (a textual subquery), or a
        table reflected once (so column types, e.g. SQLite DATETIME, are converted)."""
        own = resource in (None, "", self.name, self.table) or (
            self.table is not None and resource == self.table.split(".")[-1])
        if own and self.query:
            return text(f"({self.query}) AS src")
        name = self.table if own and self.table else resource
        if not name:
            raise ValueError("SQLSource has no table or query for this resource")
        if name not in self._tables:
            schema, _, table_name = name.rpartition(".")
            self._tables[name] = Table(table_name, MetaData(), schema=schema or None,
                                       autoload_with=self.engine)
        return self._tables[name]

    def _col(self, source: Any, name: str) -> Any:
        if isinstance(source, Table):
            return source.c[name]
        return literal_column(self.engine.dialect.identifier_preparer.quote(name))

    def _select(self, source: Any) -> Any:
        return select(source) if isinstance(source, Table) else \
            select(literal_column("*")).select_from(source)

    def _sample(self, resource: str | None, column: str) -> Any:
        key = (resource or "", column)
        if key not in self._samples:
            source = self._source(resource)
            col = self._col(source, column)
            stmt = select(col).select_from(source).where(col.is_not(None)).limit(1)
            with self.engine.connect() as conn:
                self.calls[("SELECT", "sample")] += 1
                self._samples[key] = conn.execute(stmt).scalar()
        return self._samples[key]

    # ------------------------------------------------------------------ Source API
    def extract(self, resource: str | None = None, since: datetime | None = None,
                until: datetime | None = None,
                changed_at: str | None = SOURCE_DEFAULT) -> Iterator[dict[str, Any]]:
        """Rows whose change column lies in ``[since, until)`` (bound parameters); every
        row when the column is None or both bounds are None."""
        column = self.changed_at if changed_at == SOURCE_DEFAULT else changed_at
        source = self._source(resource)
        stmt = self._select(source)
        params: dict[str, Any] = {}
        if column and (since is not None or until is not None):
            sample = self._sample(resource, column)
            if since is not None:
                stmt = stmt.where(self._col(source, column) >= bindparam("since"))
                params["since"] = _bound(since, sample)
            if until is not None:
                stmt = stmt.where(self._col(source, column) < bindparam("until"))
                params["until"] = _bound(until, sample)
        with self.engine.connect() as conn:
            self.calls[("SELECT", "extract")] += 1
            result = conn.execution_options(stream_results=True).execute(stmt, params)
            for row in result.mappings():
                yield {key: _plain(value) for key, value in row.items()}

    def get_many(self, resource: str | None, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Rows by id (keys are the ids as strings), ``ID_CHUNK`` ids per statement."""
        wanted = list(dict.fromkeys(str(i) for i in ids if i not in (None, "")))
        if not wanted:
            return {}
        sample = self._sample(resource, self.id_column)
        values: list[Any] = wanted
        if isinstance(sample, int) and not isinstance(sample, bool):
            values = [int(i) for i in wanted if re.fullmatch(r"-?\d+", i)]
        source = self._source(resource)
        stmt = self._select(source).where(
            self._col(source, self.id_column).in_(bindparam("ids", expanding=True)))
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(values, ID_CHUNK):
                self.calls[("SELECT", "get_many")] += 1
                for row in conn.execute(stmt, {"ids": list(chunk)}).mappings():
                    record = {key: _plain(value) for key, value in row.items()}
                    found[str(row[self.id_column])] = record
        return {i: found[i] for i in wanted if i in found}


def _url_from_connection(conn_id: str) -> str:
    from airflow.providers.common.compat.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    url = extra.get("url") or extra.get("sqlalchemy_url")
    if url:
        return url
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    uri = conn.get_uri()
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", uri)


def _bound(value: datetime, sample: Any) -> Any:
    """A window bound shaped like the column's values (see the module docstring)."""
    utc = as_utc(value)
    assert utc is not None  # a datetime is never blank
    value = utc
    if isinstance(sample, datetime):
        return value if sample.tzinfo is not None else value.replace(tzinfo=None)
    if isinstance(sample, date):
        return value.date()
    if isinstance(sample, int | float) and not isinstance(sample, bool):
        seconds = value.timestamp()
        return int(seconds * 1000) if abs(sample) > 10**11 else seconds
    if isinstance(sample, str):
        return _like(sample.strip(), value)
    return value


def _like(sample: str, value: datetime) -> str:
    """``value`` written like ``sample``, rounded up to the sample's precision: stored values
    are multiples of it, so ``stored >= bound`` and ``stored < bound`` keep their meaning."""
    if len(sample) == 10:  # a date only
        day = value.date()
        if value.time() != datetime.min.time():
            day += timedelta(days=1)
        return day.isoformat()
    sep = "T" if "T" in sample else " "
    match = _FRACTION.search(sample)
    digits = len(match.group(1)) if match and match.group(1) else 0
    unit = 10 ** (6 - min(digits, 6))
    if value.microsecond % unit:
        value += timedelta(microseconds=unit - value.microsecond % unit)
    out = value.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        out += "." + f"{value.microsecond:06d}"[:digits].ljust(digits, "0")  # >6: zero-pad
    if sample.endswith(("Z", "z")):
        out += "Z"
    elif _OFFSET.search(sample):
        out += "+00:00" if ":" in sample[-6:] else "+0000"
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_ms(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


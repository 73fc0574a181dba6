"""The staging warehouse: run log, snapshots, delta, rejects, id map, load outcomes.

SQLAlchemy 2 Core on any URL; SQLite (the embedded default) and PostgreSQL are the
supported backends. Tables are created by the code on first use and every run-keyed
table is keyed by ``(entity, run_id)``, so any run can be inspected afterwards. All
timestamps go in and come out as timezone-aware UTC datetimes (also from SQLite, which
stores them naive). JSON columns take and return plain Python dicts and lists.

Rerunning a run id (an Airflow retry or a cleared run) calls :meth:`Warehouse.start_run`
again, which drops that run's own rows everywhere, so the rerun replaces them.

Only imported inside tasks (pandas is imported at the top).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.schema import CreateSchema
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "sync_warehouse"
RUN_STATUSES = ("running", "success", "failed")
COUNT_KEYS = ("extracted", "created", "updated", "unchanged", "skipped", "rejected", "failed",
              "api_calls")
DELTA_ACTIONS = ("create", "update", "unchanged", "skipped", "orphan", "conflict")
CHUNK = 10_000  # rows per executemany / ids per IN list

KEY = String(255)  # entity, run ids, source / HubSpot ids, short codes


# --------------------------------------------------------------------------- types


class UTCDateTime(TypeDecorator):
    """DateTime(timezone=True) that always binds and returns aware UTC datetimes.

    Naive input is taken as UTC; ISO strings and dates are accepted. SQLite stores the
    UTC wall time without an offset, PostgreSQL a timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        value = to_utc(value)
        if value is not None and dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        return to_utc(value)


_Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_JSON = JSON(none_as_null=True)


def to_utc(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime, date, pandas Timestamp or ISO string."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        else:
            value = value.astimezone(UTC)
        if type(value) is not datetime:  # pendulum and other subclasses -> plain datetime
            value = datetime(value.year, value.month, value.day, value.hour, value.minute,
                             value.second, value.microsecond, tzinfo=UTC)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"not a datetime: {value!r}")


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- JSON


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _drop_nan(obj: Any) -> Any:
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, Mapping):
        return {k: _drop_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_drop_nan(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """JSON text for the warehouse: NaN/inf become null, dates ISO, numpy plain."""
    try:
        return _ENCODE(obj)
    except ValueError:
        return _ENCODE(_drop_nan(obj))


_ENCODE = json.JSONEncoder(default=_json_default, allow_nan=False, ensure_ascii=False).encode


# --------------------------------------------------------------------------- tables


def _run_keyed(name: str, metadata: MetaData, *columns: Column) -> Table:
    return Table(
        name, metadata,
        Column("id", _Id, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("run_id", KEY, nullable=False),
        *columns,
        Index(f"ix_{name}_entity_run", "entity", "run_id"),
    )


def build_tables(metadata: MetaData) -> dict[str, Table]:
    """Declare every warehouse table on ``metadata``; returns them by name."""
    sync_runs = Table(
        "sync_runs", metadata,
        Column("entity", KEY, primary_key=True),
        Column("run_id", KEY, primary_key=True),
        Column("started_at", UTCDateTime, nullable=False),
        Column("finished_at", UTCDateTime),
        Column("status", String(16), nullable=False),
        Column("window_start", UTCDateTime),
        Column("window_end", UTCDateTime),
        Column("full_refresh", Boolean, nullable=False, default=False),
        Column("dry_run", Boolean, nullable=False, default=False),
        *[Column(k, Integer, nullable=False, default=0) for k in COUNT_KEYS],
        Column("details", _JSON),
        Index("ix_sync_runs_entity_status_end", "entity", "status", "window_end"),
        Index("ix_sync_runs_started", "started_at"),
    )
    source_snapshot = _run_keyed(
        "source_snapshot", metadata,
        Column("source_id", KEY),
        Column("changed_at", UTCDateTime),
        Column("properties", _JSON),
        Column("links", _JSON),
        Column("skip_reason", Text),
        Column("problems", _JSON),
        Column("raw", _JSON),
    )
    hubspot_snapshot = _run_keyed(
        "hubspot_snapshot", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("matched_by", KEY),
        Column("properties", _JSON),
    )
    delta = _run_keyed(
        "delta", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("action", String(16), nullable=False),
        Column("changed_fields", _JSON),
        Column("before", _JSON),
        Column("after", _JSON),
        Column("reason", Text),
        Column("matched_by", KEY),
        Column("changed_at", UTCDateTime),
    )
    rejects = Table(
        "rejects", metadata,
        Column("id", _Id, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("run_id", KEY, nullable=False),
        Column("first_run_id", KEY, nullable=False),
        Column("source_id", KEY),
        Column("rule", KEY, nullable=False),
        Column("property", KEY),
        Column("value", Text),
        Column("reason", Text),
        Column("source", String(16), nullable=False),
        Column("category", KEY),
        Column("times_seen", Integer, nullable=False, default=1),
        Column("first_seen_at", UTCDateTime, nullable=False),
        Column("last_seen_at", UTCDateTime, nullable=False),
        Column("resolved_at", UTCDateTime),
        Column("resolved_run_id", KEY),
        Index("ix_rejects_entity_run", "entity", "run_id"),
        Index("ix_rejects_entity_source", "entity", "source_id"),
        Index("ix_rejects_entity_resolved", "entity", "resolved_at"),
    )
    # One row per (run, reject) sighting: rejects_for_run stays right after later runs.
    reject_events = _run_keyed(
        "reject_events", metadata,
        Column("reject_id", _Id, nullable=False),
        Column("value", Text),
        Column("reason", Text),
        Column("seen_at", UTCDateTime, nullable=False),
    )
    id_map = Table(
        "id_map", metadata,
        Column("entity", KEY, primary_key=True),
        Column("source_id", KEY, primary_key=True),
        Column("hubspot_id", KEY, nullable=False),
        Column("hubspot_object", KEY, nullable=False),
        Column("first_synced_run", KEY),
        Column("last_synced_run", KEY),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_id_map_entity_hubspot", "entity", "hubspot_id"),
    )
    load_outcomes = _run_keyed(
        "load_outcomes", metadata,
        Column("source_id", KEY),
        Column("hubspot_id", KEY),
        Column("action", String(16)),
        Column("status", String(16), nullable=False),
        Column("category", KEY),
        Column("message", Text),
    )
    pending_associations = Table(
        "pending_associations", metadata,
        Column("id", _Id, primary_key=True, autoincrement=True),
        Column("entity", KEY, nullable=False),
        Column("source_id", KEY, nullable=False),
        Column("to_entity", KEY, nullable=False),
        Column("to_source_id", KEY, nullable=False),
        Column("type_id", Integer),
        Column("first_seen_run", KEY, nullable=False),
        Column("last_tried_run", KEY, nullable=False),
        Column("reason", Text),
        Column("attempts", Integer, nullable=False, default=1),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_pending_associations_entity", "entity", "source_id"),
    )
    return {t.name: t for t in (sync_runs, source_snapshot, hubspot_snapshot, delta, rejects,
                                reject_events, id_map, load_outcomes, pending_associations)}


# Public column lists of what the writers take and the readers return.
SOURCE_SNAPSHOT_COLUMNS = ["source_id", "changed_at", "properties", "links", "skip_reason",
                           "problems", "raw"]
HUBSPOT_SNAPSHOT_COLUMNS = ["source_id", "hubspot_id", "matched_by", "properties"]
DELTA_COLUMNS = ["source_id", "hubspot_id", "action", "changed_fields", "before", "after",
                 "reason", "matched_by", "changed_at"]
LOAD_OUTCOME_COLUMNS = ["source_id", "hubspot_id", "action", "status", "category", "message"]
REJECT_COLUMNS = ["entity", "run_id", "first_run_id", "source_id", "rule", "property", "value",
                  "reason", "source", "category", "times_seen", "first_seen_at", "last_seen_at",
                  "resolved_at", "resolved_run_id"]
RUN_COLUMNS = ["entity", "run_id", "started_at", "finished_at", "status", "window_start",
               "window_end", "full_refresh", "dry_run", *COUNT_KEYS, "details"]
PENDING_COLUMNS = ["entity", "source_id", "to_entity", "to_source_id", "type_id",
                   "first_seen_run", "last_tried_run", "reason", "attempts"]


# --------------------------------------------------------------------------- values

Rows = pd.DataFrame | Iterable[Mapping[str, Any]]


def _is_missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _key(v: Any) -> str | None:
    """Ids as text: 12 and 12.0 (pandas int-with-NaN) both become '12'."""
    if _is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "item"):
        return _key(v.item())
    return str(v)


def _text(v: Any) -> str | None:
    if isinstance(v, dict | list | tuple):
        return dumps(v)
    return _key(v)


def _json(v: Any) -> Any:
    if isinstance(v, dict | list):
        return v
    if hasattr(v, "tolist") and not isinstance(v, str):  # numpy arrays from pandas ops
        return v.tolist()
    if _is_missing(v):
        return None
    return v


def _int(v: Any) -> int | None:
    if _is_missing(v):
        return None
    if isinstance(v, str):
        v = v.strip()
        if not v:
            return None
    return int(v)


def _columns_of(rows: Rows | None, names: Sequence[str]) -> tuple[int, dict[str, list[Any]]]:
    """Row count and one Python list per wanted column (missing columns are all None)."""
    if rows is None:
        return 0, {n: [] for n in names}
    if isinstance(rows, pd.DataFrame):
        n = len(rows)
        cols = {}
        for name in names:
            if name in rows.columns:
                series = rows[name]
                if isinstance(series, pd.DataFrame):  # duplicated column name
                    series = series.iloc[:, 0]
                cols[name] = series.tolist()
            else:
                cols[name] = [None] * n
        return n, cols
    records = [r if isinstance(r, Mapping) else dict(r) for r in rows]
    return len(records), {name: [r.get(name) for r in records] for name in names}


def _dt_list(values: list[Any]) -> list[datetime | None]:
    """Vectorised parse to aware UTC; unparseable values become None."""
    if not values:
        return []
    if all(isinstance(v, datetime) or _is_missing(v) for v in values):
        return [to_utc(v) for v in values]
    parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce",
                            format="ISO8601")
    return [None if v is pd.NaT else to_utc(v) for v in parsed.astype(object)]


def _chunks(items: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    size = min(size or CHUNK, CHUNK)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _frame(rows: Sequence[Any], columns: Sequence[str], *, dt: Sequence[str] = (),
           ints: Sequence[str] = (), bools: Sequence[str] = ()) -> pd.DataFrame:
    """A DataFrame of object columns (None stays None), typed where asked."""
    df = pd.DataFrame([tuple(r) for r in rows], columns=list(columns), dtype=object)
    for c in dt:
        df[c] = pd.to_datetime(df[c], utc=True)
    for c in ints:
        df[c] = df[c].astype("Int64") if df[c].isna().any() else df[c].astype("int64")
    for c in bools:
        df[c] = df[c].astype(bool)
    return df


# --------------------------------------------------------------------------- connection


def default_sqlite_url() -> str:
    """SQLite file ``$AIRFLOW_HOME/sync_warehouse.db`` (AIRFLOW_HOME defaults to ~/airflow)."""
    home = Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser()
    return f"sqlite:///{home / 'sync_warehouse.db'}"


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// get the psycopg2 driver; Airflow's __extra__ goes."""
    scheme, rest = url.split("://", 1) if "://" in url else (url, "")
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg2"
    url = f"{scheme}://{rest}"
    parts = urlsplit(url)
    if parts.query:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k not in ("__extra__", "url", "sqlalchemy_url", "warehouse_schema")]
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url


def url_from_connection(conn: Any) -> str:
    """SQLAlchemy URL of an Airflow connection: extra url/sqlalchemy_url, else its URI."""
    extra = getattr(conn, "extra_dejson", None) or {}
    explicit = extra.get("sqlalchemy_url") or extra.get("url")
    if explicit:
        return normalise_url(str(explicit))
    conn_type = (getattr(conn, "conn_type", None) or "").lower()
    if conn_type == "sqlite":
        host = getattr(conn, "host", None)
        return f"sqlite:///{host}" if host else default_sqlite_url()
    uri = conn.get_uri()
    if conn_type in ("postgres", "postgresql"):
        uri = "postgresql+psycopg2://" + uri.split("://", 1)[1]
    return normalise_url(uri)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 60000")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


# --------------------------------------------------------------------------- warehouse


class Warehouse:
    """The staging warehouse on one SQLAlchemy URL (SQLite or PostgreSQL).

    ``schema`` puts the tables in a PostgreSQL schema (created if missing); ignored on
    SQLite. Tables are created on first use.
    """

    def __init__(self, url: str, *, schema: str | None = None,
                 engine_kwargs: Mapping[str, Any] | None = None) -> None:
        self.url = url
        parsed = make_url(url)
        kwargs: dict[str, Any] = {"json_serializer": dumps}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": 60}
            path = parsed.database or ""
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        kwargs.update(engine_kwargs or {})
        self.engine: Engine = create_engine(parsed, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.schema = None if self.engine.dialect.name == "sqlite" else schema
        self.metadata = MetaData(schema=self.schema)
        self.tables = build_tables(self.metadata)
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_airflow(cls, conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> Warehouse:
        """The warehouse of Airflow connection ``conn_id``, else the SQLite default.

        Connection extra may hold ``url`` / ``sqlalchemy_url`` and ``warehouse_schema``
        (a PostgreSQL schema for the tables).
        """
        try:
            from airflow.sdk import BaseHook

            conn = BaseHook.get_connection(conn_id)
        except Exception as exc:  # AirflowNotFoundException or any other lookup failure
            url = default_sqlite_url()
            level = logging.INFO if "NotFound" in type(exc).__name__ else logging.WARNING
            log.log(level, "Connection %r not available (%s: %s); warehouse is %s", conn_id,
                    type(exc).__name__, exc, url)
            return cls(url, **kwargs)
        extra = getattr(conn, "extra_dejson", None) or {}
        if extra.get("warehouse_schema") and "schema" not in kwargs:
            kwargs["schema"] = str(extra["warehouse_schema"])
        return cls(url_from_connection(conn), **kwargs)

    def __repr__(self) -> str:
        return f"Warehouse({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    # ----------------------------------------------------------------- schema

    def create_schema(self) -> None:
        """Create the schema and tables if missing (idempotent, safe in parallel)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            for attempt in range(5):
                try:
                    with self.engine.begin() as conn:
                        if self.schema:
                            conn.execute(CreateSchema(self.schema, if_not_exists=True))
                        self.metadata.create_all(conn, checkfirst=True)
                    break
                except (OperationalError, ProgrammingError, IntegrityError):
                    # Another process created the same objects at the same moment.
                    if attempt == 4:
                        raise
                    time.sleep(0.1 * (attempt + 1))
            self._ready = True

    def _begin(self) -> Any:
        self.create_schema()
        return self.engine.begin()

    def _connect(self) -> Any:
        self.create_schema()
        return self.engine.connect()

    def drop_all(self) -> None:
        """Drop every warehouse table (tests and resets only)."""
        with self.engine.begin() as conn:
            self.metadata.drop_all(conn, checkfirst=True)
        self._ready = False

    # ----------------------------------------------------------------- run log

    _RUN_KEYED = ("source_snapshot", "hubspot_snapshot", "delta", "load_outcomes",
                  "reject_events")

    def start_run(self, entity: str, run_id: str, window_start: Any = None,
                  window_end: Any = None, full_refresh: bool = False,
                  dry_run: bool = False) -> None:
        """Log a run as running; a run id seen before is reset (its rows dropped)."""
        now = _now()
        with self._begin() as conn:
            self._reset_run(conn, entity, run_id)
            t = self.tables["sync_runs"]
            conn.execute(insert(t).values(
                entity=entity, run_id=run_id, started_at=now, finished_at=None,
                status="running", window_start=to_utc(window_start),
                window_end=to_utc(window_end), full_refresh=bool(full_refresh),
                dry_run=bool(dry_run), details={}, **dict.fromkeys(COUNT_KEYS, 0)))

    def _reset_run(self, conn: Connection, entity: str, run_id: str) -> None:
        for name in self._RUN_KEYED:
            t = self.tables[name]
            conn.execute(delete(t).where(t.c.entity == entity, t.c.run_id == run_id))
        rj = self.tables["rejects"]
        # Rejects this run resolved are open again; those it alone saw are gone.
        conn.execute(update(rj).where(rj.c.entity == entity, rj.c.resolved_run_id == run_id)
                     .values(resolved_at=None, resolved_run_id=None))
        conn.execute(delete(rj).where(rj.c.entity == entity, rj.c.first_run_id == run_id,
                                      rj.c.run_id == run_id))
        pa = self.tables["pending_associations"]
        conn.execute(delete(pa).where(pa.c.entity == entity, pa.c.first_seen_run == run_id,
                                      pa.c.last_tried_run == run_id))
        t = self.tables["sync_runs"]
        conn.execute(delete(t).where(t.c.entity == entity, t.c.run_id == run_id))

    def finish_run(self, entity: str, run_id: str, status: str,
                   counts: Mapping[str, Any] | None = None) -> None:
        """Close a run with its status and counts; other keys of ``counts`` go to details."""
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, not {status!r}")
        counts = dict(counts or {})
        details = dict(counts.pop("details", None) or {})
        values: dict[str, Any] = {"status": status, "finished_at": _now()}
        for key, value in counts.items():
            if key in COUNT_KEYS:
                values[key] = _int(value) or 0
            else:
                details[key] = value
        t = self.tables["sync_runs"]
        with self._begin() as conn:
            old = conn.execute(select(t.c.details).where(
                t.c.entity == entity, t.c.run_id == run_id)).first()
            if old is None:  # finished without start_run: log it anyway
                conn.execute(insert(t).values(
                    entity=entity, run_id=run_id, started_at=values["finished_at"],
                    status=status, **dict.fromkeys(COUNT_KEYS, 0), details={}))
                old_details: dict[str, Any] = {}
            else:
                old_details = old[0] or {}
            values["details"] = {**old_details, **details}
            conn.execute(update(t).where(t.c.entity == entity, t.c.run_id == run_id)
                         .values(**values))

    def get_run(self, entity: str, run_id: str) -> dict[str, Any] | None:
        """One run-log row as a dict, or None."""
        t = self.tables["sync_runs"]
        with self._connect() as conn:
            row = conn.execute(select(*[t.c[c] for c in RUN_COLUMNS]).where(
                t.c.entity == entity, t.c.run_id == run_id)).mappings().first()
        return dict(row) if row else None

    def runs(self, entity: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Latest runs first (all entities unless ``entity``; ``limit=0``: no limit)."""
        t = self.tables["sync_runs"]
        q = select(*[t.c[c] for c in RUN_COLUMNS]).order_by(t.c.started_at.desc(),
                                                             t.c.run_id.desc())
        if entity is not None:
            q = q.where(t.c.entity == entity)
        if limit:
            q = q.limit(limit)
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return _frame(rows, RUN_COLUMNS,
                      dt=("started_at", "finished_at", "window_start", "window_end"),
                      ints=COUNT_KEYS, bools=("full_refresh", "dry_run"))

    def last_successful_window_end(self, entity: str) -> datetime | None:
        """Latest window_end of a successful, non-dry run of ``entity`` (the watermark)."""
        t = self.tables["sync_runs"]
        q = (select(t.c.window_end)
             .where(t.c.entity == entity, t.c.status == "success", t.c.dry_run.is_(False),
                    t.c.window_end.is_not(None))
             .order_by(t.c.window_end.desc()).limit(1))
        with self._connect() as conn:
            return conn.execute(q).scalar()

    # ----------------------------------------------------------------- run-keyed rows

    def _write(self, name: str, entity: str, run_id: str, rows: Rows | None,
               spec: Mapping[str, str], replace: bool) -> int:
        """Bulk insert of ``rows`` under (entity, run_id); replaces the run's rows first."""
        n, cols = _columns_of(rows, list(spec))
        for col, kind in spec.items():
            values = cols[col]
            if kind == "key":
                cols[col] = [_key(v) for v in values]
            elif kind == "text":
                cols[col] = [_text(v) for v in values]
            elif kind == "json":
                cols[col] = [_json(v) for v in values]
            elif kind == "dt":
                cols[col] = _dt_list(values)
        names = ["entity", "run_id", *spec]
        consts = (entity, run_id)
        records = [dict(zip(names, consts + vals, strict=True))
                   for vals in zip(*(cols[c] for c in spec), strict=True)] if n else []
        t = self.tables[name]
        with self._begin() as conn:
            if replace:
                conn.execute(delete(t).where(t.c.entity == entity, t.c.run_id == run_id))
            for chunk in _chunks(records):
                conn.execute(insert(t), list(chunk))
        return n

    def _read(self, name: str, entity: str, run_id: str, columns: Sequence[str],
              where: Any = None, dt: Sequence[str] = ()) -> pd.DataFrame:
        t = self.tables[name]
        q = select(*[t.c[c] for c in columns]).where(t.c.entity == entity, t.c.run_id == run_id)
        if where is not None:
            q = q.where(where)
        with self._connect() as conn:
            rows = conn.execute(q.order_by(t.c.id)).all()
        return _frame(rows, columns, dt=dt)

    _SOURCE_SPEC = {"source_id": "key", "changed_at": "dt", "properties": "json",
                    "links": "json", "skip_reason": "text", "problems": "json", "raw": "json"}
    _HUBSPOT_SPEC = {"source_id": "key", "hubspot_id": "key", "matched_by": "key",
                     "properties": "json"}
    _DELTA_SPEC = {"source_id": "key", "hubspot_id": "key", "action": "key",
                   "changed_fields": "json", "before": "json", "after": "json",
                   "reason": "text", "matched_by": "key", "changed_at": "dt"}
    _OUTCOME_SPEC = {"source_id": "key", "hubspot_id": "key", "action": "key", "status": "key",
                     "category": "key", "message": "text"}

    def write_source_snapshot(self, entity: str, run_id: str, df: Rows,
                              replace: bool = True) -> int:
        """Store the run's flattened source records (columns SOURCE_SNAPSHOT_COLUMNS)."""
        return self._write("source_snapshot", entity, run_id, df, self._SOURCE_SPEC, replace)

    def read_source_snapshot(self, entity: str, run_id: str) -> pd.DataFrame:
        return self._read("source_snapshot", entity, run_id, SOURCE_SNAPSHOT_COLUMNS,
                          dt=("changed_at",))

    def write_hubspot_snapshot(self, entity: str, run_id: str, df: Rows,
                               replace: bool = True) -> int:
        """Store the HubSpot side read for the run (columns HUBSPOT_SNAPSHOT_COLUMNS)."""
        return self._write("hubspot_snapshot", entity, run_id, df, self._HUBSPOT_SPEC, replace)

    def read_hubspot_snapshot(self, entity: str, run_id: str) -> pd.DataFrame:
        return self._read("hubspot_snapshot", entity, run_id, HUBSPOT_SNAPSHOT_COLUMNS)

    def write_delta(self, entity: str, run_id: str, df: Rows, replace: bool = True) -> int:
        """Store the classified delta / dry-run plan (columns DELTA_COLUMNS)."""
        n, cols = _columns_of(df, ["action"])
        bad = sorted({a for a in cols["action"] if a not in DELTA_ACTIONS}, key=str)
        if bad:
            raise ValueError(f"unknown delta action(s) {bad}; expected one of {DELTA_ACTIONS}")
        return self._write("delta", entity, run_id, df, self._DELTA_SPEC, replace)

    def read_delta(self, entity: str, run_id: str,
                   actions: Sequence[str] | None = None) -> pd.DataFrame:
        t = self.tables["delta"]
        where = t.c.action.in_(list(actions)) if actions is not None else None
        return self._read("delta", entity, run_id, DELTA_COLUMNS, where=where, dt=("changed_at",))

    def write_load_outcomes(self, entity: str, run_id: str, rows: Rows,
                            replace: bool = True) -> int:
        """Store per-row load results (columns LOAD_OUTCOME_COLUMNS); ``replace=False`` appends."""
        return self._write("load_outcomes", entity, run_id, rows, self._OUTCOME_SPEC, replace)

    def read_load_outcomes(self, entity: str, run_id: str) -> pd.DataFrame:
        return self._read("load_outcomes", entity, run_id, LOAD_OUTCOME_COLUMNS)

    # ----------------------------------------------------------------- rejects

    def record_rejects(self, entity: str, run_id: str, rows: Rows) -> int:
        """Record rejects seen by a run; an open reject with the same (source_id, rule,
        property) is updated (times_seen + 1 once per run), never duplicated."""
        names = ["source_id", "rule", "property", "value", "reason", "source", "category"]
        n, cols = _columns_of(rows, names)
        if not n:
            return 0
        now = _now()
        incoming: dict[tuple[Any, ...], dict[str, Any]] = {}
        for vals in zip(*(cols[c] for c in names), strict=True):
            r = dict(zip(names, vals, strict=True))
            r["source_id"], r["rule"], r["property"] = (
                _key(r["source_id"]), _key(r["rule"]) or "unknown", _key(r["property"]))
            r["value"], r["reason"] = _text(r["value"]), _text(r["reason"])
            r["source"] = _key(r["source"]) or "validation"
            r["category"] = _key(r["category"])
            incoming[(r["source_id"], r["rule"], r["property"])] = r  # last one wins
        rj, ev = self.tables["rejects"], self.tables["reject_events"]
        with self._begin() as conn:
            existing: dict[tuple[Any, ...], tuple[int, str]] = {}
            ids = sorted({k[0] for k in incoming if k[0] is not None})
            conds = [rj.c.source_id.in_(list(c)) for c in _chunks(ids)]
            if any(k[0] is None for k in incoming):
                conds.append(rj.c.source_id.is_(None))
            for cond in conds:
                q = select(rj.c.id, rj.c.source_id, rj.c.rule, rj.c.property, rj.c.run_id).where(
                    rj.c.entity == entity, rj.c.resolved_at.is_(None), cond)
                for rid, sid, rule, prop, last_run in conn.execute(q):
                    existing[(sid, rule, prop)] = (rid, last_run)
            updates, inserts = [], []
            for key, r in incoming.items():
                if key in existing:
                    rid, last_run = existing[key]
                    updates.append({"_id": rid, "_run": run_id, "_value": r["value"],
                                    "_reason": r["reason"], "_source": r["source"],
                                    "_category": r["category"], "_now": now,
                                    "_inc": 0 if last_run == run_id else 1})
                else:
                    inserts.append({"entity": entity, "run_id": run_id, "first_run_id": run_id,
                                    **r, "times_seen": 1, "first_seen_at": now,
                                    "last_seen_at": now})
            if updates:
                stmt = update(rj).where(rj.c.id == bindparam("_id")).values(
                    run_id=bindparam("_run"), value=bindparam("_value"),
                    reason=bindparam("_reason"), source=bindparam("_source"),
                    category=bindparam("_category"), last_seen_at=bindparam("_now"),
                    times_seen=rj.c.times_seen + bindparam("_inc"))
                for chunk in _chunks(updates):
                    conn.execute(stmt, list(chunk))
            for chunk in _chunks(inserts):
                conn.execute(insert(rj), list(chunk))
            # Look the ids up again (portable: no RETURNING with executemany needed).
            seen: dict[tuple[Any, ...], int] = {}
            for cond in conds:
                q = select(rj.c.id, rj.c.source_id, rj.c.rule, rj.c.property).where(
                    rj.c.entity == entity, rj.c.resolved_at.is_(None), cond)
                for rid, sid, rule, prop in conn.execute(q):
                    seen[(sid, rule, prop)] = rid
            for chunk in _chunks([seen[k] for k in incoming]):
                conn.execute(delete(ev).where(ev.c.entity == entity, ev.c.run_id == run_id,
                                              ev.c.reject_id.in_(list(chunk))))
            events = [{"entity": entity, "run_id": run_id, "reject_id": seen[k],
                       "value": r["value"], "reason": r["reason"], "seen_at": now}
                      for k, r in incoming.items()]
            for chunk in _chunks(events):
                conn.execute(insert(ev), list(chunk))
        return len(incoming)

    def resolve_rejects(self, entity: str, run_id: str, source_ids: Iterable[Any],
                        keep_rules: Iterable[str] = (),
                        still_failing: Iterable[tuple[Any, Any, Any]] = ()) -> int:
        """Mark the open rejects of these records resolved (they were checked in ``run_id``);
        rejects of ``keep_rules`` (a later step decides on them) and the (source_id, rule,
        property) keys in ``still_failing`` (seen again by this run) stay open."""
        ids = sorted({k for k in (_key(s) for s in source_ids) if k is not None})
        keep = sorted(set(keep_rules))
        failing = {(_key(s), _key(r) or "unknown", _key(p)) for s, r, p in still_failing}
        rj = self.tables["rejects"]
        done = 0
        if not ids:
            return 0
        with self._begin() as conn:
            for chunk in _chunks(ids):
                cond = [rj.c.entity == entity, rj.c.resolved_at.is_(None),
                        rj.c.source_id.in_(list(chunk))]
                if keep:
                    cond.append(rj.c.rule.not_in(keep))
                conds = [cond]
                if failing:
                    found = conn.execute(select(rj.c.id, rj.c.source_id, rj.c.rule,
                                                rj.c.property).where(*cond)).all()
                    targets = [rid for rid, *key in found if tuple(key) not in failing]
                    conds = [[rj.c.id.in_(list(part))] for part in _chunks(targets)]
                for where in conds:
                    res = conn.execute(update(rj).where(*where).values(
                        resolved_at=_now(), resolved_run_id=run_id))
                    done += res.rowcount or 0
        return done

    _REJECT_DT = ("first_seen_at", "last_seen_at", "resolved_at")

    def open_rejects(self, entity: str | None = None) -> pd.DataFrame:
        """Unresolved rejects (all entities unless ``entity``), oldest first."""
        rj = self.tables["rejects"]
        q = select(*[rj.c[c] for c in REJECT_COLUMNS]).where(rj.c.resolved_at.is_(None))
        if entity is not None:
            q = q.where(rj.c.entity == entity)
        with self._connect() as conn:
            rows = conn.execute(q.order_by(rj.c.id)).all()
        return _frame(rows, REJECT_COLUMNS, dt=self._REJECT_DT, ints=("times_seen",))

    def rejects_for_run(self, entity: str, run_id: str) -> pd.DataFrame:
        """The rejects a run saw, with the value and reason of that run."""
        rj, ev = self.tables["rejects"], self.tables["reject_events"]
        cols = [ev.c.run_id if c == "run_id" else ev.c[c] if c in ("value", "reason")
                else rj.c[c] for c in REJECT_COLUMNS]
        q = (select(*cols).select_from(ev.join(rj, rj.c.id == ev.c.reject_id))
             .where(ev.c.entity == entity, ev.c.run_id == run_id).order_by(ev.c.id))
        with self._connect() as conn:
            rows = conn.execute(q).all()
        return _frame(rows, REJECT_COLUMNS, dt=self._REJECT_DT, ints=("times_seen",))

    # ----------------------------------------------------------------- id map

    def upsert_id_map(self, entity: str, hubspot_object: str, run_id: str,
                      pairs: Iterable[tuple[Any, Any]]) -> int:
        """Insert or update (source_id, hubspot_id) pairs; first_synced_run is kept."""
        latest: dict[str, str] = {}
        for source_id, hubspot_id in pairs:
            s, h = _key(source_id), _key(hubspot_id)
            if s is not None and h is not None:
                latest[s] = h
        if not latest:
            return 0
        now = _now()
        records = [{"entity": entity, "source_id": s, "hubspot_id": h,
                    "hubspot_object": hubspot_object, "first_synced_run": run_id,
                    "last_synced_run": run_id, "updated_at": now} for s, h in latest.items()]
        t = self.tables["id_map"]
        with self._begin() as conn:
            if self.dialect in ("sqlite", "postgresql"):
                if self.dialect == "sqlite":
                    from sqlalchemy.dialects.sqlite import insert as dialect_insert
                else:
                    from sqlalchemy.dialects.postgresql import insert as dialect_insert
                stmt = dialect_insert(t)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[t.c.entity, t.c.source_id],
                    set_={"hubspot_id": stmt.excluded.hubspot_id,
                          "hubspot_object": stmt.excluded.hubspot_object,
                          "last_synced_run": stmt.excluded.last_synced_run,
                          "updated_at": stmt.excluded.updated_at})
                for chunk in _chunks(records, 2_000):
                    conn.execute(stmt, list(chunk))
            else:  # any other backend: look up, then update or insert
                have: set[str] = set()
                for chunk in _chunks(list(latest)):
                    have.update(conn.execute(select(t.c.source_id).where(
                        t.c.entity == entity, t.c.source_id.in_(list(chunk)))).scalars())
                ups = [{**r, "_sid": r["source_id"]} for r in records if r["source_id"] in have]
                if ups:
                    conn.execute(update(t).where(
                        t.c.entity == entity, t.c.source_id == bindparam("_sid")).values(
                        hubspot_id=bindparam("hubspot_id"),
                        hubspot_object=bindparam("hubspot_object"),
                        last_synced_run=bindparam("last_synced_run"),
                        updated_at=bindparam("updated_at")), ups)
                new = [r for r in records if r["source_id"] not in have]
                for chunk in _chunks(new):
                    conn.execute(insert(t), list(chunk))
        return len(records)

    def id_map(self, entity: str, source_ids: Iterable[Any] | None = None) -> dict[str, str]:
        """source_id -> hubspot_id for ``entity`` (all, or just these source ids)."""
        t = self.tables["id_map"]
        base = select(t.c.source_id, t.c.hubspot_id).where(t.c.entity == entity)
        with self._connect() as conn:
            if source_ids is None:
                return dict(conn.execute(base).all())
            ids = sorted({k for k in (_key(s) for s in source_ids) if k is not None})
            out: dict[str, str] = {}
            for chunk in _chunks(ids):
                out.update(conn.execute(base.where(t.c.source_id.in_(list(chunk)))).all())
            return out

    def source_ids_for(self, entity: str, hubspot_ids: Iterable[Any]) -> dict[str, str]:
        """hubspot_id -> source_id for these HubSpot ids (those in the id map)."""
        t = self.tables["id_map"]
        ids = sorted({k for k in (_key(h) for h in hubspot_ids) if k is not None})
        out: dict[str, str] = {}
        with self._connect() as conn:
            for chunk in _chunks(ids):
                out.update(conn.execute(select(t.c.hubspot_id, t.c.source_id).where(
                    t.c.entity == entity, t.c.hubspot_id.in_(list(chunk)))).all())
        return out

    # ----------------------------------------------------------------- associations

    @staticmethod
    def _assoc_key(row: Any) -> tuple[str | None, str | None, str | None, int | None]:
        if isinstance(row, Mapping):
            vals = (row.get("source_id"), row.get("to_entity"), row.get("to_source_id"),
                    row.get("type_id"))
        else:
            vals = (*tuple(row)[:4], None, None, None, None)[:4]
        return _key(vals[0]), _key(vals[1]), _key(vals[2]), _int(vals[3])

    def add_pending_associations(self, entity: str, run_id: str, rows: Rows) -> int:
        """Queue associations whose target is not synced yet (dicts with source_id,
        to_entity, to_source_id, type_id, reason); a queued one is marked tried again."""
        names = ["source_id", "to_entity", "to_source_id", "type_id", "reason"]
        n, cols = _columns_of(rows, names)
        incoming: dict[tuple[Any, ...], str | None] = {}
        for vals in zip(*(cols[c] for c in names), strict=True):
            r = dict(zip(names, vals, strict=True))
            key = self._assoc_key(r)
            if None in key[:3]:
                raise ValueError(f"pending association needs source_id, to_entity and "
                                 f"to_source_id: {r!r}")
            incoming[key] = _text(r["reason"])
        if not incoming:
            return 0
        now = _now()
        pa = self.tables["pending_associations"]
        with self._begin() as conn:
            existing = {(r.source_id, r.to_entity, r.to_source_id, r.type_id):
                        (r.id, r.last_tried_run)
                        for r in conn.execute(select(pa).where(pa.c.entity == entity))}
            updates, inserts = [], []
            for key, reason in incoming.items():
                if key in existing:
                    rid, last = existing[key]
                    updates.append({"_id": rid, "_run": run_id, "_reason": reason, "_now": now,
                                    "_inc": 0 if last == run_id else 1})
                else:
                    inserts.append({"entity": entity, "source_id": key[0], "to_entity": key[1],
                                    "to_source_id": key[2], "type_id": key[3],
                                    "first_seen_run": run_id, "last_tried_run": run_id,
                                    "reason": reason, "attempts": 1, "updated_at": now})
            if updates:
                conn.execute(update(pa).where(pa.c.id == bindparam("_id")).values(
                    last_tried_run=bindparam("_run"), reason=bindparam("_reason"),
                    updated_at=bindparam("_now"), attempts=pa.c.attempts + bindparam("_inc")),
                    updates)
            for chunk in _chunks(inserts):
                conn.execute(insert(pa), list(chunk))
        return len(incoming)

    def pending_associations(self, entity: str) -> list[dict[str, Any]]:
        """Queued associations of ``entity``, oldest first."""
        pa = self.tables["pending_associations"]
        with self._connect() as conn:
            rows = conn.execute(select(*[pa.c[c] for c in PENDING_COLUMNS])
                                .where(pa.c.entity == entity).order_by(pa.c.id)).mappings()
            return [dict(r) for r in rows]

    def clear_pending_associations(self, entity: str, keys: Iterable[Any]) -> int:
        """Drop queued associations (dicts or (source_id, to_entity, to_source_id[, type_id])
        tuples); a key without type_id clears every type."""
        wanted = {self._assoc_key(k) for k in keys}
        if not wanted:
            return 0
        any_type = {k[:3] for k in wanted if k[3] is None}
        pa = self.tables["pending_associations"]
        with self._begin() as conn:
            ids = [r.id for r in conn.execute(select(
                pa.c.id, pa.c.source_id, pa.c.to_entity, pa.c.to_source_id, pa.c.type_id)
                .where(pa.c.entity == entity))
                if (r.source_id, r.to_entity, r.to_source_id, r.type_id) in wanted
                or (r.source_id, r.to_entity, r.to_source_id) in any_type]
            for chunk in _chunks(ids):
                conn.execute(delete(pa).where(pa.c.id.in_(list(chunk))))
        return len(ids)

    # ----------------------------------------------------------------- misc

    def counts(self, entity: str, run_id: str) -> dict[str, int]:
        """Rows per run-keyed table for one run (for reports and tests)."""
        out = {}
        with self._connect() as conn:
            for name in self._RUN_KEYED:
                t = self.tables[name]
                out[name] = conn.execute(select(func.count()).select_from(t).where(
                    and_(t.c.entity == entity, t.c.run_id == run_id))).scalar_one()
        return out


__all__ = ["Warehouse", "UTCDateTime", "to_utc", "dumps", "default_sqlite_url",
           "url_from_connection", "normalise_url", "build_tables"]

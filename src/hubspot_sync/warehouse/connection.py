"""Where the warehouse is: the Airflow connection ``sync_warehouse``, or, only when that
connection is not defined at all, the embedded SQLite file under AIRFLOW_HOME."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from hubspot_sync.warehouse.rows import dumps

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "sync_warehouse"


class WarehouseConnectionError(RuntimeError):
    """The warehouse connection exists (or may exist) but could not be read: the run stops
    instead of quietly writing to another warehouse."""


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


def settings_from_airflow(conn_id: str = DEFAULT_CONN_ID) -> tuple[str, str | None]:
    """(URL, PostgreSQL schema or None) of Airflow connection ``conn_id``.

    Only "not defined" falls back to the embedded SQLite default, with a warning naming the
    file; any other failure to read the connection raises WarehouseConnectionError.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        # Airflow reports a malformed AIRFLOW_CONN_* value as "not defined" too.
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        if os.environ.get(variable, "").strip():
            raise WarehouseConnectionError(
                f"{variable} is set but Airflow could not read it as connection {conn_id!r} "
                f"(malformed URI or JSON?); not falling back to the embedded SQLite "
                f"warehouse") from None
        url = default_sqlite_url()
        log.warning("Airflow connection %r is not defined: using the embedded SQLite "
                    "warehouse %s", conn_id, make_url(url).database)
        return url, None
    except Exception as exc:  # a secrets backend or metadata DB failure: say which, stop
        raise WarehouseConnectionError(
            f"could not read Airflow connection {conn_id!r}: {type(exc).__name__}: {exc}"
        ) from exc
    extra = getattr(conn, "extra_dejson", None) or {}
    schema = str(extra["warehouse_schema"]) if extra.get("warehouse_schema") else None
    return url_from_connection(conn), schema


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 60000")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def make_engine(url: str, engine_kwargs: Mapping[str, Any] | None = None) -> Engine:
    """An engine for the warehouse: JSON through ``dumps``; SQLite in WAL mode with a long
    busy timeout (parallel task processes), its directory created; PostgreSQL pre-pinged."""
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
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine

"""The one interface every source system implements, and the factory that picks one.

A source yields plain dict records. ``extract`` reads the records changed in a half-open
window ``[since, until)`` on the source's change-timestamp field (all records when both
bounds are None or the resource has no change field), and ``get_many`` fetches records by
id for lookups (a contract's company, a member's company...). Each source counts the
requests it makes in ``calls``, keyed by (method, route or statement kind).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from hubspot_sync.values import as_utc

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.mapping import SourceSpec

#: Passed as ``changed_at`` (the default) it means "the source's own change field";
#: an explicit None means "no change filter: read everything".
SOURCE_DEFAULT: Final = "<source default>"


class SourceError(RuntimeError):
    """A source request that failed for good (after retries, or not retryable)."""

    def __init__(self, status: int, message: str, *, route: str | None = None) -> None:
        self.status = status
        self.message = message
        self.route = route
        where = f" on {route}" if route else ""
        super().__init__(f"source error {status}{where}: {message}")


class Source(ABC):
    """A system records come from (OfficeRnD REST, any SQL database)."""

    calls: Counter[tuple[str, str]]

    def __init__(self) -> None:
        self.calls = Counter()

    @property
    def call_count(self) -> int:
        return sum(self.calls.values())

    @abstractmethod
    def extract(self, resource: str, since: datetime | None = None,
                until: datetime | None = None,
                changed_at: str | None = SOURCE_DEFAULT) -> Iterator[dict[str, Any]]:
        """Records of ``resource`` whose ``changed_at`` lies in ``[since, until)``; every
        record when both bounds are None or ``changed_at`` is None."""

    @abstractmethod
    def get_many(self, resource: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Records by id (as strings); ids that do not exist are absent from the result."""

    def list_ids(self, resource: str, id_field: str = "_id") -> set[str]:
        """The ids of every record of ``resource`` that exists now (deletion detection).
        By default a full read; a source with a cheaper id-only read overrides it."""
        return {str(r[id_field]) for r in self.extract(resource, None, None, None)
                if isinstance(r, dict) and r.get(id_field) not in (None, "")}

    def close(self) -> None:
        """Release connections (a no-op by default)."""
        return None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iso_ms(value: datetime) -> str:
    """``2025-06-01T00:00:00.000Z``: the timestamp form OfficeRnD uses and accepts."""
    utc = as_utc(value)
    if utc is None:
        raise ValueError(f"not a date-time: {value!r}")
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


DEFAULT_CONN_IDS = {"officernd": "officernd_default", "sql": "sql_source_default"}


def source_for(spec: SourceSpec) -> Source:
    """The source a mapping's ``source:`` block describes (on its Airflow connection)."""
    if spec.system == "officernd":
        from hubspot_sync.sources.officernd import OfficeRnDSource

        return OfficeRnDSource(conn_id=spec.conn_id or DEFAULT_CONN_IDS["officernd"])
    if spec.system == "sql":
        from hubspot_sync.sources.sql import SQLSource

        return SQLSource(conn_id=spec.conn_id or DEFAULT_CONN_IDS["sql"], table=spec.table,
                         query=spec.query, id_column=spec.id, changed_at=spec.changed_at,
                         name=spec.resource)
    raise ValueError(f"unknown source system {spec.system!r}")

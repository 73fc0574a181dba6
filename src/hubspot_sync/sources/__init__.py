"""Source systems records are read from: OfficeRnD Flex (REST) and any SQL database.

``source_for(mapping.source)`` returns the right one; all share :class:`Source`.
Implementations are imported lazily so this package stays cheap at DAG parse time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspot_sync.sources.base import SOURCE_DEFAULT, Source, SourceError, source_for

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.sources.officernd import OfficeRnDSource
    from hubspot_sync.sources.sql import SQLSource

__all__ = ["SOURCE_DEFAULT", "OfficeRnDSource", "SQLSource", "Source", "SourceError",
           "source_for"]


def __getattr__(name: str) -> Any:
    if name == "OfficeRnDSource":
        from hubspot_sync.sources.officernd import OfficeRnDSource

        return OfficeRnDSource
    if name == "SQLSource":
        from hubspot_sync.sources.sql import SQLSource

        return SQLSource
    raise AttributeError(name)

"""What people changed in HubSpot: records modified in a window, and property history.

The reverse direction reads HubSpot's changes by last-modified time (``lastmodifieddate``
on contacts, ``hs_lastmodifieddate`` on every other object) through search. Search stops
at 10,000 results per query, so every page is its own keyset query: sorted by
``hs_object_id`` ascending with ``hs_object_id GT <last id of the previous page>`` and no
``after`` cursor. No query therefore ever pages past the cap, however many records share
the window (or one timestamp). Search's own limit (5 requests a second) is paced by the
session. A full refresh pages the object's list endpoint instead (no cap, cheaper).

Property history (``propertiesWithHistory``) is read with batch/read, 50 inputs a call
(HubSpot's limit when history is asked for), and only for conflict candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from hubspot_sync.hubspot_client.errors import HubSpotError, response_json
from hubspot_sync.hubspot_client.reads import SEARCH_LIMIT, ObjectReads, unique_ids
from hubspot_sync.hubspot_client.session import R_BATCH, R_SEARCH
from hubspot_sync.paging import CursorGuard
from hubspot_sync.progress import Progress, advance
from hubspot_sync.values import as_utc, chunks

HISTORY_BATCH_SIZE = 50   # batch/read inputs per call when propertiesWithHistory is asked


def modified_property(object_type: str) -> str:
    """The last-modified property search filters on: ``lastmodifieddate`` for contacts,
    ``hs_lastmodifieddate`` for every other object."""
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def epoch_ms(value: datetime, *, up: bool = False) -> str:
    """A search filter value for a datetime property (epoch milliseconds), rounded down, or
    up with ``up``: HubSpot stamps whole milliseconds, so a window ``[start, end)`` is
    searched as ``[floor(start), ceil(end))`` and a change stamped in the millisecond the
    window ends in is read now (reading one twice is harmless; missing one is not)."""
    utc = as_utc(value)
    if utc is None:
        raise ValueError(f"not a date-time: {value!r}")
    micros = int(utc.timestamp() * 1_000_000)
    return str(-(-micros // 1000) if up else micros // 1000)


def window_filters(object_type: str, start: datetime | None,
                   end: datetime | None) -> list[dict[str, str]]:
    """``modified >= start`` and ``modified < end`` (either bound may be open)."""
    name = modified_property(object_type)
    filters = []
    if start is not None:
        filters.append({"propertyName": name, "operator": "GTE", "value": epoch_ms(start)})
    if end is not None:
        filters.append({"propertyName": name, "operator": "LT",
                        "value": epoch_ms(end, up=True)})
    return filters


class ObjectChanges(ObjectReads):
    """Records modified in a window; property history of chosen records."""

    def modified_between(self, object_type: str, start: datetime | None,
                         end: datetime | None, properties: Sequence[str],
                         progress: Progress | None = None) -> Iterator[dict]:
        """Every record of ``object_type`` whose last-modified time is in ``[start, end)``;
        both bounds None (a full refresh): every record, from the list endpoint."""
        props = list(dict.fromkeys([*properties, modified_property(object_type)]))
        if start is None and end is None:
            yield from self.list_objects(object_type, props, progress=progress)
            return
        window = window_filters(object_type, start, end)
        sort = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        path = {"objectType": object_type}
        guard = CursorGuard(f"HubSpot POST {R_SEARCH.format(objectType=object_type)} keyset")
        last: str | None = None
        while True:
            filters = list(window)
            if last is not None:
                filters.append({"propertyName": "hs_object_id", "operator": "GT",
                                "value": last})
            body: dict[str, Any] = {"filterGroups": [{"filters": filters}],
                                    "properties": props, "sorts": sort,
                                    "limit": SEARCH_LIMIT}
            page = response_json(self._request("POST", R_SEARCH, path, json=body))
            results = page.get("results") or []
            advance(progress, len(results))
            yield from results
            if not results or not (page.get("paging") or {}).get("next"):
                return
            last = str(results[-1].get("id")
                       or (results[-1].get("properties") or {}).get("hs_object_id"))
            guard.follow(last)  # an id seen before means no progress: stop, never loop

    def read_with_history(self, object_type: str, ids: Iterable[str],
                          history: Sequence[str],
                          properties: Sequence[str] = ()) -> dict[str, dict[str, list[dict]]]:
        """HubSpot id -> property -> its history (newest first, each entry ``value``,
        ``timestamp``, ``sourceType``...), 50 records a call. Ids not found are absent."""
        wanted = unique_ids(ids)
        out: dict[str, dict[str, list[dict]]] = {}
        if not history:
            return out
        for chunk in chunks(wanted, HISTORY_BATCH_SIZE):
            body = {"inputs": [{"id": i} for i in chunk],
                    "properties": list(dict.fromkeys([*properties, *history])),
                    "propertiesWithHistory": list(dict.fromkeys(history))}
            try:
                response = self._request("POST", R_BATCH,
                                         {"objectType": object_type, "action": "read"},
                                         json=body)
            except HubSpotError as exc:
                if exc.status != 404:
                    raise
                continue
            for record in response_json(response).get("results") or []:
                out[str(record.get("id"))] = {
                    name: list(entries or [])
                    for name, entries in (record.get("propertiesWithHistory") or {}).items()}
        return out


def changed_at(history: Sequence[dict]) -> datetime | None:
    """When a property got its current value: the newest history entry's timestamp."""
    from hubspot_sync.transforms import parse_datetime

    stamps = [parse_datetime(e.get("timestamp")) for e in history if e.get("timestamp")]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None

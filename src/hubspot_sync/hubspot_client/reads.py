"""Reading CRM objects: list paging, batch read by id or unique property, and search past
HubSpot's 10,000-result cap. Every paginator stops on a cursor it has already followed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from hubspot_sync.hubspot_client.errors import HubSpotError, response_json
from hubspot_sync.hubspot_client.session import R_BATCH, R_OBJECTS, R_SEARCH, HubSpotSession
from hubspot_sync.paging import CursorGuard
from hubspot_sync.progress import Progress, advance
from hubspot_sync.values import chunks

log = logging.getLogger(__name__)

BATCH_SIZE = 100          # inputs per object batch call
LIST_LIMIT = 100          # records per list page
SEARCH_LIMIT = 200        # records per search page
SEARCH_CAP = 10_000       # search never pages past this many results


def unique_ids(values: Iterable[Any]) -> list[str]:
    """Non-blank values as strings, first occurrence first."""
    seen: dict[str, None] = {}
    for value in values:
        if value is not None and value != "":
            seen.setdefault(str(value), None)
    return list(seen)


def next_after(body: dict) -> str | None:
    """``paging.next.after`` of a list or search page."""
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return None if after in (None, "") else str(after)


class ObjectReads(HubSpotSession):
    """List, batch read and search calls."""

    def list_objects(self, object_type: str, properties: Sequence[str],
                     archived: bool = False,
                     progress: Progress | None = None) -> Iterator[dict]:
        """Every record of an object type, 100 per page, following ``paging.next.after``;
        ``progress`` counts each page."""
        params: dict[str, Any] = {"limit": LIST_LIMIT, "archived": str(archived).lower()}
        if properties:
            params["properties"] = ",".join(properties)
        guard = CursorGuard(f"HubSpot GET {R_OBJECTS.format(objectType=object_type)}")
        while True:
            body = response_json(self._request("GET", R_OBJECTS, {"objectType": object_type},
                                               params=params))
            results = body.get("results", [])
            advance(progress, len(results))
            yield from results
            after = next_after(body)
            if not after:
                return
            params["after"] = guard.follow(after)

    def batch_read(self, object_type: str, ids: Iterable[str], properties: Sequence[str],
                   id_property: str | None = None,
                   progress: Progress | None = None, archived: bool = False) -> list[dict]:
        """Records by HubSpot id, or by a unique property (``email`` for contacts, ``domain``
        for companies, ``officernd_id``...), 100 per call. Ids not found are silently absent;
        with ``id_property`` that property is always among the returned properties.
        ``progress`` counts each call of 100 ids. ``archived``: read archived records only
        (``?archived=true``: what a person deleted in HubSpot)."""
        wanted = unique_ids(ids)
        props = list(dict.fromkeys(properties))
        if id_property and id_property not in props:
            props.append(id_property)
        path = {"objectType": object_type, "action": "read"}

        def read(chunk: list[str]) -> list[dict]:
            body_json: dict[str, Any] = {"inputs": [{"id": i} for i in chunk],
                                         "properties": props}
            if id_property:
                body_json["idProperty"] = id_property
            try:
                response = self._request("POST", R_BATCH, path,
                                         params={"archived": "true"} if archived else None,
                                         json=body_json)
            except HubSpotError as exc:
                if exc.status != 404:
                    raise
                return []
            return list(response_json(response).get("results", []))

        parts = [list(c) for c in chunks(wanted, BATCH_SIZE)]
        pages = self._dispatch(read, parts, lambda i, _: advance(progress, len(parts[i])))
        return [record for page in pages.ordered() for record in page]

    def search(self, object_type: str, filter_groups: list[dict], properties: Sequence[str],
               sorts: list[Any] | None = None) -> Iterator[dict]:
        """Records matching a search, 200 per page. Never pages past 10,000: when ``total``
        exceeds the cap, reads in keyset windows (``hs_object_id`` ascending with a ``GT``
        filter), which replaces any custom sort."""
        keyset_sort = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        body: dict[str, Any] = {"filterGroups": filter_groups, "properties": list(properties),
                                "limit": SEARCH_LIMIT, "sorts": sorts or keyset_sort}
        path = {"objectType": object_type}
        guard = CursorGuard(f"HubSpot POST {R_SEARCH.format(objectType=object_type)}")
        page = response_json(self._request("POST", R_SEARCH, path, json=body))
        total = int(page.get("total") or 0)
        if total <= SEARCH_CAP:
            while True:
                yield from page.get("results", [])
                after = next_after(page)
                if not after or (after.isdigit() and int(after) >= SEARCH_CAP):
                    return
                page = response_json(self._request(
                    "POST", R_SEARCH, path, json={**body, "after": guard.follow(after)}))
        # More than the cap: keyset windows on hs_object_id.
        if sorts:
            log.warning("search on %s matches %d records (> %d); custom sort replaced by "
                        "hs_object_id keyset paging", object_type, total, SEARCH_CAP)
            page = response_json(self._request("POST", R_SEARCH, path,
                                               json={**body, "sorts": keyset_sort}))
        body["sorts"] = keyset_sort
        while True:
            results = page.get("results", [])
            yield from results
            if not results or not (page.get("paging") or {}).get("next"):
                return
            last = str(results[-1].get("id") or results[-1]["properties"]["hs_object_id"])
            guard.follow(f"hs_object_id > {last}")  # no progress means a loop
            gt = {"propertyName": "hs_object_id", "operator": "GT", "value": last}
            groups = [{**g, "filters": [*g.get("filters", []), gt]} for g in filter_groups] \
                or [{"filters": [gt]}]
            page = response_json(self._request("POST", R_SEARCH, path,
                                               json={**body, "filterGroups": groups}))

"""OfficeRnD v2 cursor paging (``$cursorNext``), in the manner of the Singer SDK's
``BaseAPIPaginator``: ``current_value`` is the cursor to request, ``advance(body)`` reads the
next one, ``finished`` ends the loop, and a cursor seen before raises
:class:`~hubspot_sync.paging.RepeatedCursorError` instead of looping."""

from __future__ import annotations

from typing import Any

from hubspot_sync.paging import CursorGuard

PAGE_LIMIT = 50


def page_records(body: Any) -> list[Any]:
    """The records of a list page (a bare list is accepted too)."""
    if isinstance(body, dict):
        return list(body.get("results") or [])
    return list(body) if isinstance(body, list) else []


class CursorPaginator:
    """The cursors of one list read of one endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.current_value: str | None = None
        self.finished = False
        self._guard = CursorGuard(endpoint)

    def params(self, base: dict[str, Any]) -> dict[str, Any]:
        """The query of the next page."""
        params = {**base, "$limit": PAGE_LIMIT}
        if self.current_value:
            params["$cursorNext"] = self.current_value
        return params

    def advance(self, body: Any) -> None:
        """Move past a page: its ``cursorNext``, or finished on the last (or an empty) page."""
        cursor = body.get("cursorNext") if isinstance(body, dict) else None
        if not cursor or not page_records(body):
            self.finished = True
            return
        self.current_value = self._guard.follow(str(cursor))

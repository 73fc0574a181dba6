"""Cursor paging that stops instead of spinning.

A server that hands back a cursor it already gave (a bug, a cache, a proxy replaying a page)
would make a naive ``while cursor:`` loop read the same pages forever. Every paginator of
the library (OfficeRnD lists, HubSpot lists and searches, association reads) passes each
cursor through :class:`CursorGuard`, which raises :class:`RepeatedCursorError` naming the
endpoint the second time a cursor appears.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

H = TypeVar("H", bound=Hashable)


class RepeatedCursorError(RuntimeError):
    """A paginator received a cursor it had already followed: the endpoint would loop."""

    def __init__(self, endpoint: str, cursor: Hashable) -> None:
        self.endpoint = endpoint
        self.cursor = cursor
        super().__init__(f"{endpoint} returned the paging cursor {cursor!r} a second time; "
                         "stopped instead of reading the same pages forever")


class CursorGuard:
    """The cursors one paging run has followed, per endpoint (and per key, e.g. an id)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._seen: set[Hashable] = set()

    def follow(self, cursor: H) -> H:
        """Return ``cursor`` to request next; raise if it was followed before."""
        if cursor in self._seen:
            raise RepeatedCursorError(self.endpoint, cursor)
        self._seen.add(cursor)
        return cursor

"""Injected faults of the OfficeRnD sandbox's HTTP layer (the state stays correct).

``cursor_loop``: a list request that carries ``$cursorNext`` is answered with that same
cursor as ``cursorNext``, a cursor the sandbox already returned, so a client that follows
cursors without loop protection pages forever. On for every resource (``True``) or for the
named ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.officernd.errors import ApiError
from sandbox.officernd.seed import RESOURCES


class Faults:
    """Which faults are on, and how often each has been served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cursor_loop: frozenset[str] = frozenset()
        self.cursor_loops_served = 0

    def configure(self, cursor_loop: bool | Iterable[str] | None = None) -> dict[str, Any]:
        """Switch faults; ``None`` leaves a fault as it is. Returns :meth:`describe`."""
        if cursor_loop is not None:
            if isinstance(cursor_loop, bool):
                names = frozenset(RESOURCES) if cursor_loop else frozenset()
            elif isinstance(cursor_loop, str) or not all(
                    isinstance(r, str) for r in cursor_loop):
                raise ApiError(400, "cursor_loop must be true, false or a list of resources")
            else:
                names = frozenset(cursor_loop)
            unknown = sorted(names - set(RESOURCES))
            if unknown:
                raise ApiError(400, f"cursor_loop: unknown resources {unknown}")
            with self._lock:
                self.cursor_loop = names
        return self.describe()

    def loop_cursor(self, resource: str, params: Mapping[str, str], page: dict) -> dict:
        """``page`` with ``cursorNext`` set back to the request's cursor when the fault is on."""
        sent = params.get("$cursorNext")
        if not sent or resource not in self.cursor_loop:
            return page
        with self._lock:
            self.cursor_loops_served += 1
        return {**page, "cursorNext": sent}

    def clear(self) -> None:
        with self._lock:
            self.cursor_loop = frozenset()
            self.cursor_loops_served = 0

    def describe(self) -> dict[str, Any]:
        loop: bool | list[str] = (True if self.cursor_loop == frozenset(RESOURCES)
                                  else sorted(self.cursor_loop) or False)
        return {"cursor_loop": loop, "cursor_loops_served": self.cursor_loops_served}

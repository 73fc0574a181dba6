"""Injected faults of the OfficeRnD sandbox's HTTP layer (the state stays correct).

``latency_ms`` / ``latency_p95_ms`` / ``seed``: every API request (``/oauth/token`` and the
reads; not ``/_sandbox``) waits a latency, constant or drawn from a lognormal distribution
(:mod:`sandbox._latency`), as an async sleep in :class:`LatencyMiddleware`.

``cursor_loop``: a list request that carries ``$cursorNext`` is answered with that same
cursor as ``cursorNext``, a cursor the sandbox already returned, so a client that follows
cursors without loop protection pages forever. On for every resource (``True``) or for the
named ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from sandbox._latency import LatencyModel, LatencySettingsError
from sandbox.officernd.errors import ApiError
from sandbox.officernd.seed import RESOURCES


class Faults:
    """Which faults are on, and how often each has been served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cursor_loop: frozenset[str] = frozenset()
        self.cursor_loops_served = 0
        self.latency = LatencyModel()
        self._seed: Any = None

    def configure(self, cursor_loop: bool | Iterable[str] | None = None,
                  latency_ms: float | None = None, latency_p95_ms: float | None = None,
                  seed: Any = None) -> dict[str, Any]:
        """Switch faults; ``None`` leaves a fault as it is (``latency_ms`` set alone makes
        the latency constant again). Returns :meth:`describe`."""
        if latency_ms is not None or latency_p95_ms is not None or seed is not None:
            median = self.latency.median_ms if latency_ms is None else latency_ms
            try:
                self.latency.configure(median, latency_p95_ms,
                                       self._seed if seed is None else seed)
            except LatencySettingsError as exc:
                raise ApiError(400, str(exc)) from exc
            if seed is not None:
                self._seed = seed
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
        self.latency.configure(0, None, None)
        self._seed = None

    def describe(self) -> dict[str, Any]:
        loop: bool | list[str] = (True if self.cursor_loop == frozenset(RESOURCES)
                                  else sorted(self.cursor_loop) or False)
        return {"cursor_loop": loop, "cursor_loops_served": self.cursor_loops_served,
                **self.latency.describe()}


class LatencyMiddleware:
    """Pure ASGI middleware: every API request waits one drawn latency before it is
    answered (an async sleep, so concurrent requests overlap); ``/_sandbox`` never waits."""

    def __init__(self, app: Any, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox"):
            await self.faults.latency.wait()
        await self.app(scope, receive, send)

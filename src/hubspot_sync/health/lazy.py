"""An ASGI app built on its first request.

Airflow imports every plugin in every component (scheduler, DAG processor, workers), but
only the API server serves the plugin's app; building the app imports Airflow's API-server
security modules (seconds of imports), so the plugin hands Airflow this wrapper instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyApp:
    """ASGI app calling ``factory()`` once, on the first request, and delegating to it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self._app: Any = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Any:
        with self._lock:
            if self._app is None:
                self._app = self.factory()
            return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # a mounted app gets none; nothing to start anyway
            return
        await self.app(scope, receive, send)

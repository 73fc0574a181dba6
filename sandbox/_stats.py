"""Request counts by (method, route template, status): what ``GET /_sandbox/stats`` shows and
what benchmarks use to count API calls. Shared by both sandboxes."""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()

    def record(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._counts[(method, route, status)] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict:
        with self._lock:
            items = sorted(self._counts.items())
        return {"total": sum(c for _, c in items),
                "requests": [{"method": m, "route": r, "status": s, "count": c}
                             for (m, r, s), c in items]}

"""Response latency of both sandboxes, as a real API's: a distribution, not a constant.

``latency_ms`` alone: every request waits that long (0 = none). With ``latency_p95_ms``,
each request's latency is drawn from a lognormal distribution whose median is
``latency_ms`` and whose 95th percentile is ``latency_p95_ms`` (a long right tail, as
measured HTTP latencies have), from a generator seeded by the faults' ``seed`` so a seed
replays the same latencies. The generator is separate from the fault draws: setting a
latency never changes which requests fail.

The wait is an ``asyncio.sleep`` in the server's event loop, so N concurrent requests are
answered in about one latency, not N.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from typing import Any

Z95 = 1.6448536269514722  # the standard normal's 95th percentile


class LatencySettingsError(ValueError):
    """Bad latency settings (each sandbox turns it into its own 400)."""


class LatencyModel:
    """The configured latency and the seeded generator that draws it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure(0, None, None)

    def configure(self, median_ms: Any, p95_ms: Any, seed: Any) -> None:
        try:
            median = float(median_ms or 0)
            p95 = None if p95_ms in (None, "", 0) else float(p95_ms)
        except (TypeError, ValueError) as exc:
            raise LatencySettingsError("latency_ms and latency_p95_ms must be numbers") from exc
        if median < 0:
            raise LatencySettingsError("latency_ms must not be negative")
        if p95 is not None:
            if median <= 0:
                raise LatencySettingsError("latency_p95_ms needs latency_ms (the median) > 0")
            if p95 < median:
                raise LatencySettingsError("latency_p95_ms must be at least latency_ms")
        with self._lock:
            self.median_ms = median
            self.p95_ms = p95
            self._sigma = math.log(p95 / median) / Z95 if p95 else 0.0
            self._rng = random.Random(seed)

    def draw_ms(self) -> float:
        """One request's latency in milliseconds."""
        if not self.median_ms:
            return 0.0
        if not self._sigma:
            return self.median_ms
        with self._lock:
            z = self._rng.gauss(0.0, 1.0)
        return self.median_ms * math.exp(self._sigma * z)

    async def wait(self) -> None:
        """Sleep one drawn latency without blocking the event loop."""
        ms = self.draw_ms()
        if ms > 0:
            await asyncio.sleep(ms / 1000.0)

    def describe(self) -> dict[str, Any]:
        return {"latency_ms": self.median_ms, "latency_p95_ms": self.p95_ms}

"""Small retry, backoff and pacing helpers shared by the HubSpot hook and the sources.

Pure standard library (plus ``requests`` exception types): no Airflow, no pandas, so the
module is cheap to import at DAG parse time and easy to unit-test with a fake clock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests

#: Network-level failures worth retrying (the request may never have reached the server).
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

#: HTTP statuses that are retried with backoff (besides 429, which has its own rules).
RETRYABLE_STATUSES = frozenset({423, 477, 500, 502, 503, 504, 520, 521, 522, 523, 524})


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter and bounded attempts.

    ``delay(n)`` is the wait after the n-th failed attempt (n starts at 1):
    ``min(maximum, initial * factor ** (n - 1))`` scaled by a random factor in
    ``[1 - jitter, 1 + jitter]``.
    """

    attempts: int = 6
    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return max(0.0, base)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class RollingLimiter:
    """At most ``limit`` acquisitions in any rolling ``period`` seconds (per process object).

    Used for HubSpot's search limit (5 per second), which search responses do not report in
    headers, so the client paces itself instead of provoking 429s.
    """

    def __init__(self, limit: int, period: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.period = period
        self._sleep = sleep
        self._clock = clock
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a slot is free; return the seconds waited."""
        if self.limit <= 0:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self.period:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return waited
                wait = self.period - (now - self._stamps[0]) + 0.005
            self._sleep(wait)
            waited += wait

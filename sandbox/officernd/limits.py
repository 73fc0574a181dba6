"""Rolling-window rate limits: reads per minute and the token endpoint's 5 calls per minute."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

TOO_MANY = "Too many requests, please try again later"


class RollingWindow:
    """At most ``limit`` calls in any ``window`` seconds (0 = unlimited).

    ``hit()`` records a call and returns None, or returns the whole seconds to wait
    (for Retry-After) without recording it when the window is full.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = int(limit)
        self.window = float(window)
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def hit(self) -> int | None:
        if self.limit <= 0:
            return None
        with self._lock:
            now = time.monotonic()
            while self._calls and self._calls[0] <= now - self.window:
                self._calls.popleft()
            if len(self._calls) >= self.limit:
                return max(1, math.ceil(self._calls[0] + self.window - now))
            self._calls.append(now)
            return None

    def remaining(self) -> int | None:
        if self.limit <= 0:
            return None
        with self._lock:
            now = time.monotonic()
            return max(0, self.limit - sum(1 for t in self._calls if t > now - self.window))

    def set_limit(self, limit: int) -> None:
        with self._lock:
            self.limit = int(limit)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


class Limits:
    """The sandbox's two limits."""

    def __init__(self, rate_limit: int = 400, token_rate_limit: int = 5) -> None:
        self.reads = RollingWindow(rate_limit)
        self.tokens = RollingWindow(token_rate_limit)

    def clear(self) -> None:
        self.reads.clear()
        self.tokens.clear()

    def describe(self) -> dict:
        return {"rate_limit": self.reads.limit, "reads_remaining": self.reads.remaining(),
                "token_rate_limit": self.tokens.limit,
                "tokens_remaining": self.tokens.remaining()}

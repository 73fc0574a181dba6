"""Rate limits of the HubSpot sandbox (injected faults: ``faults.py``).

- burst: ``burst_limit`` requests per rolling 10 s per token (policy TEN_SECONDLY_ROLLING)
- daily: ``daily_limit`` requests per day per account (policy DAILY); resets at UTC midnight
- search: ``search_limit`` search requests per rolling second (its own 429 body, no headers)
A limit of 0 turns it off. Requests answered 429 do not use up the window.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime

BURST_WINDOW_S = 10.0
SEARCH_WINDOW_S = 1.0


class RateLimiter:
    def __init__(self, burst_limit: int = 190, search_limit: int = 5,
                 daily_limit: int = 0) -> None:
        self.burst_limit = burst_limit
        self.search_limit = search_limit
        self.daily_limit = daily_limit
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._burst: dict[str, deque[float]] = {}
            self._search: deque[float] = deque()
            self._day = self._today()
            self._daily_used = 0

    @staticmethod
    def _today() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d")

    def check(self, token: str, search: bool) -> tuple[dict | None, dict[str, str]]:
        """(429 body or None, headers to add). Counts the request when it is let through."""
        now = time.monotonic()
        with self._lock:
            today = self._today()
            if today != self._day:
                self._day, self._daily_used = today, 0
            window = self._burst.setdefault(token, deque())
            while window and window[0] <= now - BURST_WINDOW_S:
                window.popleft()
            while self._search and self._search[0] <= now - SEARCH_WINDOW_S:
                self._search.popleft()
            if self.daily_limit and self._daily_used >= self.daily_limit:
                return ({"status": "error", "message": "You have reached your daily limit.",
                         "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                         "policyName": "DAILY", "requestId": uuid.uuid4().hex},
                        {} if search else self._headers(window))
            if search:
                if self.search_limit and len(self._search) >= self.search_limit:
                    return ({"status": "error",
                             "message": "You have reached your secondly limit.",
                             "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                             "policyName": "SECONDLY",
                             "groupName": "publicapi:crm-search-secondly"}, {})
                self._search.append(now)
                self._daily_used += 1
                return None, {}
            if self.burst_limit and len(window) >= self.burst_limit:
                return ({"status": "error",
                         "message": "You have reached your ten_secondly_rolling limit.",
                         "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                         "policyName": "TEN_SECONDLY_ROLLING",
                         "groupName": "publicapi:private_app-api-calls-ten-secondly:sandbox"},
                        self._headers(window))
            window.append(now)
            self._daily_used += 1
            return None, self._headers(window)

    def _headers(self, window: deque[float]) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.burst_limit:
            headers["X-HubSpot-RateLimit-Max"] = str(self.burst_limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.burst_limit - len(window)))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(BURST_WINDOW_S * 1000))
        if self.daily_limit:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.daily_limit - self._daily_used))
        return headers


"""One request budget per HubSpot portal (per private-app token), shared by every hook of
the process, so concurrent requests use the burst limit without provoking 429s.

HubSpot's burst limit is a rolling window (e.g. 190 requests per 10 s). The budget keeps
the send times of this process's requests and hands out *slots*: a request may go at the
earliest time when this process's sends in the window plus the other processes' share stay
at least ``headroom`` under the limit. A token bucket would need a bucket small enough for
bucket + refill to fit one window (about 80 % of the limit); the rolling window reaches
~97 % and its bursts are what HubSpot counts anyway.

The other processes' share comes from the ``X-HubSpot-RateLimit-*`` headers each answer
carries (HubSpot counts every caller of the token there): ``Max - Remaining`` requests were
in the window when a request arrived, of which ours are known; the rest belong to others,
assumed to keep that share until a whole window has passed without news (each of our
answers tells it again). Until a response has told the limit, 100 per 10 s is assumed
(HubSpot's lowest tier).

Budgets are kept in a module-level registry keyed by a hash of base URL and token (the
token itself is never stored in the key or logged).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping

DEFAULT_MAX = 100          # HubSpot's lowest burst limit per 10 s, until a header tells
DEFAULT_INTERVAL = 10.0
# A slot opens this long after our old send left the window: a request may reach HubSpot
# later than its slot (a busy worker, the network), and a burst of sends one window after
# another burst must not arrive before the old one has left HubSpot's window (costs 1 %).
EXPIRY_EPSILON = 0.1
SHARED_HEADROOM_FACTOR = 4  # while others send: their requests in flight show only later
# (others "send" when their share is over twice the headroom: a few requests of ours that
# reached HubSpot out of order look like others' and must not cost a single process 10 %)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if raw.lstrip("-").isdigit() else None


class PortalBudget:
    """Send slots under one portal's burst limit (thread-safe; never sleeps itself)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.max = DEFAULT_MAX
        self.interval = DEFAULT_INTERVAL
        self.learned = False           # a response has told Max
        self._stamps: list[float] = []  # this process's send slots, ascending
        self._foreign = 0.0             # others' requests in the window when last observed
        self._foreign_at = -math.inf    # ... at this time (the observed request's slot)

    # ------------------------------------------------------------------ slots
    def reserve(self, headroom: int) -> tuple[float, float]:
        """Take the next free slot: (seconds to wait before sending, the slot's time)."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            headroom = max(0, headroom)
            if self._foreign > 2 * headroom and now < self._foreign_at + self.interval:
                # others send too, and what they have in flight shows only later
                headroom *= SHARED_HEADROOM_FACTOR
            cap = max(1, self.max - headroom)
            slot = max(now, self._stamps[-1]) if self._stamps else now
            # Ours in the window leave it one by one (step down at each expiry); others'
            # share stays until it is a window old. The slot is the first time both fit.
            span = self.interval + EXPIRY_EPSILON  # how long a send of ours counts
            window = self._stamps[bisect.bisect_right(self._stamps, slot - span):]
            ours = len(window)
            for sent in [*window, math.inf]:
                allowed = cap - 1 - ours  # others' share that still fits with ours
                expiry = sent + span
                if allowed >= 0:
                    fits = max(slot, self._foreign_fits(allowed))
                    if fits <= expiry:
                        slot = fits
                        break
                slot, ours = max(slot, expiry), ours - 1
            self._stamps.append(slot)
            return max(0.0, slot - now), slot

    def observe(self, slot: float, headers: Mapping[str, str]) -> None:
        """Learn from an answer's rate-limit headers (the request was sent at ``slot``)."""
        limit = _int_header(headers, "X-HubSpot-RateLimit-Max")
        remaining = _int_header(headers, "X-HubSpot-RateLimit-Remaining")
        interval = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        with self._lock:
            if interval and interval > 0:
                self.interval = max(0.1, interval / 1000)
            if limit and limit > 0:
                self.max, self.learned = limit, True
            if remaining is None or slot < self._foreign_at:
                return  # an older answer than one already read
            used = self.max - max(0, remaining)
            start = bisect.bisect_right(self._stamps, slot - self.interval)
            ours = bisect.bisect_right(self._stamps, slot) - start
            self._foreign = float(max(0, used - ours))
            self._foreign_at = slot

    # ------------------------------------------------------------------ state
    def _foreign_fits(self, allowed: int) -> float:
        """The first time others' share is at most ``allowed`` requests: their share is
        assumed to stay until a whole window has passed since it was seen (others that keep
        sending keep their share; every answer we get tells it again)."""
        if self._foreign <= allowed:
            return -math.inf
        return self._foreign_at + self.interval + EXPIRY_EPSILON

    def _prune(self, now: float) -> None:
        cut = bisect.bisect_right(self._stamps, now - self.interval - EXPIRY_EPSILON)
        if cut:
            del self._stamps[:cut]

    def in_window(self) -> int:
        """This process's sends in the current window (reserved future slots included)."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            return len(self._stamps)


_REGISTRY: dict[str, PortalBudget] = {}
_REGISTRY_LOCK = threading.Lock()


def portal_key(base_url: str, token: str) -> str:
    """A short, non-reversible name of a portal's token at a base URL."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\0{token}".encode()).hexdigest()[:16]


def budget_for(base_url: str, token: str) -> PortalBudget:
    """The process-wide budget of this base URL and token."""
    key = portal_key(base_url, token)
    with _REGISTRY_LOCK:
        budget = _REGISTRY.get(key)
        if budget is None:
            budget = _REGISTRY[key] = PortalBudget()
        return budget

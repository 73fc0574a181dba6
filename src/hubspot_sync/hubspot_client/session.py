"""The hook's connection, request accounting and resilience: one ``requests`` session on
the ``hubspot_default`` connection, every request counted, sent through the shared
:class:`~hubspot_sync.transport.Retrier`, paced by the portal's
:class:`~hubspot_sync.hubspot_client.budget.PortalBudget` (shared by every hook of the
process with the same token, informed by the ``X-HubSpot-RateLimit-*`` headers, which count
other processes' requests too).

Several requests in flight: batch calls hand their chunks to :meth:`HubSpotSession._dispatch`,
which sends up to ``max_in_flight`` at once (constructor argument, else
``$SYNC_HUBSPOT_MAX_IN_FLIGHT``, else the connection extra ``max_in_flight``, else 16: at
HubSpot's 200-500 ms per batch call plus the client's own work on a busy worker, 16 in
flight stay above the 19-25/s burst limits, so the budget, not the latency, sets the pace;
more in flight costs only idle threads, never more calls or 429s). Counters, 429 counts
and pacing time are kept under a lock and stay exact.

Retried: 429 (burst limit: wait for the window; search "secondly" limit: ~1 s per attempt;
daily limit: never, a clear error), 5xx, 423, 477, timeouts and connection errors. No wait
exceeds the retrier's cap (``SYNC_MAX_RETRY_WAIT_SECONDS``): a longer one is a HubSpotError
with category RETRY_WAIT_TOO_LONG.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar

import requests
from airflow.providers.http.hooks.http import HttpHook

from hubspot_sync.hubspot_client.budget import PortalBudget, budget_for
from hubspot_sync.hubspot_client.errors import (
    HubSpotError,
    error_from_response,
    is_daily_limit,
    response_json,
)
from hubspot_sync.transport import (
    RETRYABLE_STATUSES,
    Backoff,
    Dispatched,
    Retrier,
    RollingLimiter,
    TransportError,
    dispatch,
    parse_retry_after,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MAX_IN_FLIGHT_ENV = "SYNC_HUBSPOT_MAX_IN_FLIGHT"
DEFAULT_MAX_IN_FLIGHT = 16
MAX_IN_FLIGHT_CAP = 64     # also the connection pool's size

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
READ_ROUTE_SUFFIXES = ("/batch/read", "/search")

# Route templates (the keys of HubSpotSession.calls).
R_OBJECTS = "/crm/v3/objects/{objectType}"
R_BATCH = "/crm/v3/objects/{objectType}/batch/{action}"
R_SEARCH = "/crm/v3/objects/{objectType}/search"
R_PROPERTIES = "/crm/v3/properties/{objectType}"
R_GROUPS = "/crm/v3/properties/{objectType}/groups"
R_PIPELINES = "/crm/v3/pipelines/{objectType}"
R_ASSOC_BATCH = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/{action}"


class HubSpotSession(HttpHook):
    """HubSpot CRM API transport on the ``hubspot_default`` HTTP connection.

    :param hubspot_conn_id: Airflow connection: host = base URL, password = private-app token.
    :param max_attempts: sends per request before giving up (retries included).
    :param backoff: backoff schedule for 5xx / timeouts (default 0.5 s doubling, jittered).
    :param timeout: seconds per request unless the connection's extra sets ``timeout``.
    :param min_remaining: headroom kept under the burst limit: requests are paced so that
        at least this many of the window's ``X-HubSpot-RateLimit-Max`` stay unused.
    :param search_per_second: client-side pace of search requests (HubSpot allows 5/s).
    :param sleep: the sleep function (tests pass a fake).
    :param max_wait: the longest single wait (default ``$SYNC_MAX_RETRY_WAIT_SECONDS`` or 60).
    :param max_in_flight: requests sent at once by batch calls (see the module docstring).
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "http"
    hook_name = "HubSpot"

    def __init__(self, hubspot_conn_id: str = default_conn_name, *, max_attempts: int = 6,
                 backoff: Backoff | None = None, timeout: float = 30.0, min_remaining: int = 5,
                 search_per_second: int = 5, sleep: Callable[[float], None] = time.sleep,
                 max_wait: float | None = None, max_in_flight: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(method="GET", http_conn_id=hubspot_conn_id, **kwargs)
        self.hubspot_conn_id = hubspot_conn_id
        self.retrier = Retrier(max_attempts, backoff, sleep, max_wait)
        self.timeout = timeout
        self.min_remaining = min_remaining
        self._sleep = sleep
        self._search_limiter = RollingLimiter(search_per_second, 1.0, sleep=sleep)
        self._override: tuple[str, str] | None = None
        self._session: requests.Session | None = None
        self._request_timeout: float = timeout
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()
        self._max_in_flight_arg = max_in_flight
        self.max_in_flight = max(1, max_in_flight or DEFAULT_MAX_IN_FLIGHT)
        self._budget: PortalBudget = PortalBudget()  # replaced by the portal's on connect
        self._local = threading.local()  # per-thread retrier override (single attempt)
        self.slept_for_rate_limit = 0.0  # seconds paced, summed over threads
        self.rate_limited = 0  # 429 answers received (retried or not): a run metric
        # Wall time with at least one request in progress (sent, paced or between retries).
        self._active = 0
        self._pace_logged = -1e9
        self._busy_since = 0.0
        self._busy = 0.0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_url(cls, base_url: str, token: str, **kwargs: Any) -> Self:
        """A hook on an explicit base URL and token, without an Airflow connection."""
        hook = cls(**kwargs)
        hook._override = (base_url.rstrip("/"), token)
        return hook

    def _get_session(self) -> requests.Session:
        if self._session is not None:
            return self._session
        with self._lock:
            if self._session is not None:
                return self._session
            if self._override is not None:
                base_url, token = self._override
                session = requests.Session()
                if self.keep_alive_adapter is not None:
                    session.mount("http://", self.keep_alive_adapter)
                    session.mount("https://", self.keep_alive_adapter)
                self.base_url = base_url
                self._request_timeout = self.timeout
            else:
                conn = self.get_connection(self.hubspot_conn_id)
                # HttpHook builds the session: base URL from host, extras as headers/options.
                session = self.get_conn(extra_options={"check_response": False})
                self.base_url = self.base_url.rstrip("/")
                token = conn.password or ""
                self._request_timeout = float(self.merged_extra.get("timeout") or self.timeout)
            session.auth = None  # never basic auth; the token is a Bearer header
            extra_in_flight = session.headers.pop("max_in_flight", None)  # not a header
            self.max_in_flight = _resolve_in_flight(self._max_in_flight_arg, extra_in_flight)
            if self.adapter is None:  # a pool as large as the requests in flight
                from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

                adapter = TCPKeepAliveAdapter(pool_maxsize=max(10, self.max_in_flight))
                session.mount("http://", adapter)
                session.mount("https://", adapter)
            if self._sleep is time.sleep:
                self._budget = budget_for(self.base_url, token)
            # else (tests' fake sleep): a budget of its own, as its slots are reserved on a
            # clock that sleep never advances and must not delay the process's other hooks
            if token:
                session.headers["Authorization"] = f"Bearer {token}"
            session.headers.setdefault("Accept", "application/json")
            self._session = session
            return session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # ------------------------------------------------------------------ accounting
    @property
    def call_count(self) -> int:
        """Every HTTP request sent so far (retries and bisection included)."""
        return sum(self.calls.values())

    @property
    def write_call_count(self) -> int:
        """Requests that write: POST/PATCH/PUT/DELETE except batch reads and searches."""
        return sum(n for (method, route), n in self.calls.items()
                   if method in WRITE_METHODS and not route.endswith(READ_ROUTE_SUFFIXES))

    @property
    def hubspot_seconds(self) -> float:
        """Wall seconds during which at least one request of this hook was in progress
        (in flight, paced, or waiting to be retried): the time spent waiting on HubSpot."""
        with self._lock:
            if self._active:
                return self._busy + time.monotonic() - self._busy_since
            return self._busy

    @property
    def _interval(self) -> float:
        """The burst window in seconds (from ``X-HubSpot-RateLimit-Interval-Milliseconds``)."""
        return self._budget.interval

    # ------------------------------------------------------------------ pacing
    def _pace(self) -> float:
        """Wait for the portal budget's next send slot; return the slot's time."""
        wait, slot = self._budget.reserve(self.min_remaining)
        if wait > 0:
            self.retrier.check_wait(wait, "HubSpot burst limit nearly spent")
            with self._lock:
                self.slept_for_rate_limit += wait
                now = time.monotonic()
                loud = wait >= 1 and now - self._pace_logged >= 30  # one line per 30 s
                if loud:
                    self._pace_logged = now
            log.log(logging.INFO if loud else logging.DEBUG,
                    "HubSpot burst limit nearly spent; pausing %.2f s (%.0f s paced so far, "
                    "summed over the requests in flight)", wait, self.slept_for_rate_limit)
            self._sleep(wait)
        return slot

    # ------------------------------------------------------------------ concurrency
    def _dispatch(self, fn: Callable[[T], R], items: Sequence[T],
                  on_result: Callable[[int, R], None] | None = None) -> Dispatched[R]:
        """``fn(item)`` for every item with up to ``max_in_flight`` requests in flight
        (:func:`hubspot_sync.transport.dispatch`). Until a response has told the portal's
        limit, the first item goes alone."""
        self._get_session()
        items = list(items)
        if not items or self._budget.learned or self.max_in_flight <= 1:
            return dispatch(fn, items, self.max_in_flight, on_result, "hubspot")
        first = dispatch(fn, items[:1], 1, on_result)
        if first.error is not None:
            return first

        def shifted(index: int, result: R) -> None:
            if on_result is not None:
                on_result(index + 1, result)

        rest = dispatch(fn, items[1:], self.max_in_flight, shifted, "hubspot")
        return Dispatched({0: first.results[0], **{i + 1: r for i, r in rest.results.items()}},
                          rest.error, None if rest.failed_index is None
                          else rest.failed_index + 1)

    @contextmanager
    def single_attempt(self) -> Iterator[None]:
        """Requests of this thread are sent once (no retry) while inside."""
        retrier = self.retrier
        self._local.retrier = Retrier(1, retrier.backoff, retrier.sleep, retrier.max_wait)
        try:
            yield
        finally:
            self._local.retrier = None

    def _begin(self) -> None:
        with self._lock:
            if self._active == 0:
                self._busy_since = time.monotonic()
            self._active += 1

    def _end(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._busy += time.monotonic() - self._busy_since

    # ------------------------------------------------------------------ requests
    def _request(self, method: str, route: str, path: dict[str, Any] | None = None, *,
                 params: dict[str, Any] | None = None, json: Any = None) -> requests.Response:
        """Send one logical request with retries; return a 2xx/3xx response or raise
        HubSpotError (HubSpot's error, NETWORK_ERROR or RETRY_WAIT_TOO_LONG)."""
        session = self._get_session()
        path = path or {}
        url = self.base_url + route.format(**path)
        if "action" in path:  # the batch action is part of the counted route template
            route = route.replace("{action}", str(path["action"]))
        is_search = route == R_SEARCH
        where = f"{method} {route}"
        budget = self._budget

        def send() -> requests.Response:
            slot = None
            if is_search:
                self._search_limiter.acquire()
            else:
                slot = self._pace()
            with self._lock:
                self.calls[(method, route)] += 1
            response = session.request(method, url, params=params, json=json,
                                       timeout=self._request_timeout)
            if slot is not None:
                budget.observe(slot, response.headers)
            if response.status_code == 429:
                with self._lock:
                    self.rate_limited += 1
            return response

        retrier = getattr(self._local, "retrier", None) or self.retrier
        self._begin()
        try:
            response = retrier.send(send, self._retry_wait, f"HubSpot {where}")
        except TransportError as exc:
            raise HubSpotError(exc.status, exc.category, exc.message, route=where) from exc
        finally:
            self._end()
        if response.status_code >= 400:
            raise error_from_response(response, response_json(response), where)
        return response

    def _retry_wait(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the error is not retryable."""
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            body = response_json(response)
            message = str(body.get("message") or "").lower()
            if is_daily_limit(body):
                return None
            if retry_after is not None:
                return retry_after
            policy = str(body.get("policyName") or "").upper()
            if policy == "SECONDLY" or ("secondly limit" in message
                                        and "ten_secondly" not in message):
                return 1.0 * attempt
            interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
            if interval and interval.strip().isdigit():
                return max(0.1, int(interval) / 1000)
            return self._interval
        if status not in RETRYABLE_STATUSES:
            return None
        if retry_after is not None:
            return retry_after
        if status == 423:
            return max(2.0, self.retrier.backoff.delay(attempt))
        return self.retrier.backoff.delay(attempt)


def _resolve_in_flight(argument: int | None, extra: Any) -> int:
    """Requests in flight: the argument, else ``$SYNC_HUBSPOT_MAX_IN_FLIGHT``, else the
    connection extra ``max_in_flight``, else 16; between 1 and 64."""
    raw: Any = argument
    source = "max_in_flight"
    if raw is None and os.environ.get(MAX_IN_FLIGHT_ENV, "").strip():
        raw, source = os.environ[MAX_IN_FLIGHT_ENV].strip(), MAX_IN_FLIGHT_ENV
    elif raw is None and extra not in (None, ""):
        source = "connection extra max_in_flight"
        raw = extra
    if raw is None:
        return DEFAULT_MAX_IN_FLIGHT
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}={raw!r} is not a whole number of requests") from exc
    if value < 1:
        raise ValueError(f"{source}={raw!r} must be at least 1")
    return min(value, MAX_IN_FLIGHT_CAP)

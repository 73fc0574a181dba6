"""The hook's connection, request accounting and resilience: one ``requests`` session on
the ``hubspot_default`` connection, every request counted, sent through the shared
:class:`~hubspot_sync.transport.Retrier`, paced on the ``X-HubSpot-RateLimit-*`` headers.

Retried: 429 (burst limit: wait for the window; search "secondly" limit: ~1 s per attempt;
daily limit: never, a clear error), 5xx, 423, 477, timeouts and connection errors. No wait
exceeds the retrier's cap (``SYNC_MAX_RETRY_WAIT_SECONDS``): a longer one is a HubSpotError
with category RETRY_WAIT_TOO_LONG.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Self

import requests
from airflow.providers.http.hooks.http import HttpHook

from hubspot_sync.hubspot_client.errors import (
    HubSpotError,
    error_from_response,
    is_daily_limit,
    response_json,
)
from hubspot_sync.transport import (
    RETRYABLE_STATUSES,
    Backoff,
    Retrier,
    RollingLimiter,
    TransportError,
    parse_retry_after,
)

log = logging.getLogger(__name__)

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
    :param min_remaining: when ``X-HubSpot-RateLimit-Remaining`` drops to this, sleep until
        the rolling window frees a slot.
    :param search_per_second: client-side pace of search requests (HubSpot allows 5/s).
    :param sleep: the sleep function (tests pass a fake).
    :param max_wait: the longest single wait (default ``$SYNC_MAX_RETRY_WAIT_SECONDS`` or 60).
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "http"
    hook_name = "HubSpot"

    def __init__(self, hubspot_conn_id: str = default_conn_name, *, max_attempts: int = 6,
                 backoff: Backoff | None = None, timeout: float = 30.0, min_remaining: int = 5,
                 search_per_second: int = 5, sleep: Callable[[float], None] = time.sleep,
                 max_wait: float | None = None, **kwargs: Any) -> None:
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
        # Rate-limit state from the last response, and our own send times in the window.
        self._remaining: int | None = None
        self._interval = 10.0
        self._sent: deque[float] = deque()
        self.slept_for_rate_limit = 0.0
        self.rate_limited = 0  # 429 answers received (retried or not): a run metric

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

    # ------------------------------------------------------------------ pacing
    def _pace(self) -> None:
        """Sleep when the burst window is nearly spent (per the last rate-limit headers)."""
        with self._lock:
            remaining = self._remaining
            if remaining is None or remaining > self.min_remaining:
                return
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= self._interval:
                self._sent.popleft()
            need = self.min_remaining - remaining + 1
            if len(self._sent) >= need:
                wait = self._sent[need - 1] + self._interval - now
            else:  # others share the limit: wait for the whole window
                wait = self._interval
            wait = min(max(wait, 0.0), self._interval)
            self._remaining = None  # the next response tells us the truth again
        if wait > 0:
            self.retrier.check_wait(wait, f"HubSpot rate limit nearly spent ({remaining} left)")
            log.info("HubSpot rate limit nearly spent (%s left); pausing %.2f s", remaining, wait)
            self.slept_for_rate_limit += wait
            self._sleep(wait)

    def _note_headers(self, response: requests.Response) -> None:
        headers = response.headers
        remaining = headers.get("X-HubSpot-RateLimit-Remaining")
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        with self._lock:
            if remaining is not None and remaining.strip().lstrip("-").isdigit():
                self._remaining = int(remaining)
            if interval and interval.strip().isdigit():
                self._interval = max(0.1, int(interval) / 1000)

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

        def send() -> requests.Response:
            if is_search:
                self._search_limiter.acquire()
            else:
                self._pace()
            with self._lock:
                self.calls[(method, route)] += 1
                self._sent.append(time.monotonic())
                if self._remaining is not None:
                    self._remaining -= 1
            response = session.request(method, url, params=params, json=json,
                                       timeout=self._request_timeout)
            self._note_headers(response)
            if response.status_code == 429:
                with self._lock:
                    self.rate_limited += 1
            return response

        try:
            response = self.retrier.send(send, self._retry_wait, f"HubSpot {where}")
        except TransportError as exc:
            raise HubSpotError(exc.status, exc.category, exc.message, route=where) from exc
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

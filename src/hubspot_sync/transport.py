"""One retry / backoff / wait-cap implementation for every HTTP client of the library.

The HubSpot hook and the OfficeRnD source both send through :class:`Retrier`: a request is
attempted up to ``max_attempts`` times; network failures and the statuses a client calls
retryable are retried after a wait (``Retry-After``, a rate-limit window, or exponential
backoff with jitter). No wait is longer than ``max_wait`` (env
``SYNC_MAX_RETRY_WAIT_SECONDS``, default 60 s): a longer one raises :class:`TransportError`
with the reason instead of sleeping, so an Airflow task fails and frees its pool slot
rather than holding it for an hour.

The retry loop sleeps only between attempts, outside anything an attempt holds: a caller
that takes a lock inside an attempt (the OfficeRnD token file) never sleeps with it held.

Pure standard library plus ``requests`` exception types: cheap to import, tested with a fake
clock and a fake sleep.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import requests

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Network-level failures worth retrying (the request may never have reached the server).
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

#: HTTP statuses that are retried with backoff (besides 429, which has its own rules).
RETRYABLE_STATUSES = frozenset({423, 477, 500, 502, 503, 504, 520, 521, 522, 523, 524})

MAX_WAIT_ENV = "SYNC_MAX_RETRY_WAIT_SECONDS"
DEFAULT_MAX_WAIT = 60.0


def max_retry_wait() -> float:
    """The longest single wait a client may sleep: ``$SYNC_MAX_RETRY_WAIT_SECONDS`` or 60."""
    raw = os.environ.get(MAX_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_WAIT
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{MAX_WAIT_ENV}={raw!r} is not a number of seconds") from exc
    if value < 0:
        raise ValueError(f"{MAX_WAIT_ENV}={raw!r} must not be negative")
    return value


class TransportError(Exception):
    """A request that failed below the HTTP status level: the network failed on every
    attempt (``category`` NETWORK_ERROR, ``status`` 0), or the server asked for a wait
    longer than the cap (``category`` RETRY_WAIT_TOO_LONG, ``status`` the HTTP status that
    asked). Clients translate it into their own error type."""

    def __init__(self, status: int, category: str, message: str) -> None:
        self.status = status
        self.category = category
        self.message = message
        super().__init__(f"{category}: {message}")


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


@dataclass(frozen=True)
class Retry:
    """An attempt's verdict "try again after ``wait`` seconds". ``response`` is the failed
    response, returned to the caller when no attempt is left (so it raises its own error
    with the server's message); without one, running out raises :class:`TransportError`."""

    wait: float
    reason: str
    status: int = 0
    response: requests.Response | None = None


#: ``retry_wait(response, attempt)``: seconds before retrying an error response, or None.
RetryWait = Callable[[requests.Response, int], float | None]


class Retrier:
    """Attempts, waits between them, and the cap on any single wait.

    :param max_attempts: attempts per logical request (retries included).
    :param backoff: the schedule for errors without a server-given wait.
    :param sleep: the sleep function (tests pass a fake).
    :param max_wait: the longest wait slept; None reads ``$SYNC_MAX_RETRY_WAIT_SECONDS``.
    """

    def __init__(self, max_attempts: int = 6, backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 max_wait: float | None = None) -> None:
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff or Backoff(attempts=self.max_attempts)
        self.sleep = sleep
        self.max_wait = max_retry_wait() if max_wait is None else max_wait

    def check_wait(self, wait: float, reason: str, status: int = 0) -> float:
        """``wait`` if it is within the cap; else raise RETRY_WAIT_TOO_LONG with the reason."""
        if wait > self.max_wait:
            raise TransportError(
                status, "RETRY_WAIT_TOO_LONG",
                f"{reason}: asked to wait {wait:.1f} s, more than the {self.max_wait:g} s "
                f"allowed ({MAX_WAIT_ENV}); not sleeping, so the task fails and frees its slot")
        return wait

    def run(self, attempt: Callable[[int], T | Retry], what: str) -> T | requests.Response:
        """Call ``attempt(n)`` for n = 1, 2, ... until it returns something other than a
        :class:`Retry`; sleep the asked wait in between (never inside ``attempt``)."""
        n = 0
        while True:
            n += 1
            result = attempt(n)
            if not isinstance(result, Retry):
                return result
            if n >= self.max_attempts:
                if result.response is not None:
                    return result.response
                raise TransportError(result.status, "NETWORK_ERROR",
                                     f"{what}: {result.reason} after {n} attempts")
            wait = self.check_wait(result.wait, f"{what} -> {result.reason}", result.status)
            log.warning("%s -> %s; retry %d in %.2f s", what, result.reason, n, wait)
            self.sleep(wait)

    def attempt(self, send: Callable[[], requests.Response], retry_wait: RetryWait,
                n: int) -> requests.Response | Retry:
        """One send: the response, or a :class:`Retry` for a network failure (backoff) or an
        error status ``retry_wait`` finds retryable."""
        try:
            response = send()
        except TRANSIENT_EXCEPTIONS as exc:
            return Retry(self.backoff.delay(n), type(exc).__name__)
        if response.status_code < 400:
            return response
        wait = retry_wait(response, n)
        if wait is None:
            return response
        return Retry(wait, f"HTTP {response.status_code}", response.status_code, response)

    def send(self, send: Callable[[], requests.Response], retry_wait: RetryWait,
             what: str) -> requests.Response:
        """Send with retries; the final response (success, or an error not retried or out of
        attempts) is returned for the caller to judge."""
        result = self.run(lambda n: self.attempt(send, retry_wait, n), what)
        assert isinstance(result, requests.Response)
        return result


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


@dataclass
class Dispatched(Generic[T]):
    """What :func:`dispatch` did: ``results[i]`` for every item that finished, and the
    error of the first (lowest-index) item that raised, if any. Items never started after
    an error have neither."""

    results: dict[int, T]
    error: BaseException | None = None
    failed_index: int | None = None

    def ordered(self) -> list[T]:
        """The results in input order; raises the error if an item failed."""
        if self.error is not None:
            raise self.error
        return [self.results[i] for i in sorted(self.results)]


_dispatching = threading.local()


def dispatch(fn: Callable[[Any], T], items: Sequence[Any], max_in_flight: int,
             on_result: Callable[[int, T], None] | None = None,
             name: str = "dispatch") -> Dispatched[T]:
    """``fn(item)`` for every item, at most ``max_in_flight`` at once (threads: the calls
    wait on the network, not the CPU). ``on_result(index, result)`` runs on the calling
    thread as items finish (in completion order). After an item raises, no new item
    starts; the running ones finish and their results are kept, so a caller can account
    for every input that was sent. A dispatch from inside a dispatched item runs its
    items one by one, so nesting never multiplies the requests in flight."""
    items = list(items)
    out: Dispatched[T] = Dispatched({})
    if max_in_flight <= 1 or len(items) <= 1 or getattr(_dispatching, "active", False):
        for i, item in enumerate(items):
            try:
                result = fn(item)
            except Exception as exc:
                out.error, out.failed_index = exc, i
                return out
            out.results[i] = result
            if on_result is not None:
                on_result(i, result)
        return out

    def run(item: Any) -> T:
        _dispatching.active = True
        try:
            return fn(item)
        finally:
            _dispatching.active = False

    pending: dict[Future[T], int] = {}
    queue = iter(enumerate(items))
    errors: dict[int, BaseException] = {}
    workers = min(max_in_flight, len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        def submit_next() -> None:
            nxt = next(queue, None)
            if nxt is not None:
                pending[pool.submit(run, nxt[1])] = nxt[0]

        for _ in range(workers):
            submit_next()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                failure = future.exception()
                if failure is not None:
                    errors[index] = failure
                    continue
                out.results[index] = future.result()
                if on_result is not None:
                    on_result(index, out.results[index])
                if not errors:
                    submit_next()
    if errors:
        out.failed_index = min(errors)
        out.error = errors[out.failed_index]
    return out


def json_body(response: requests.Response) -> Any:
    """The response's JSON, or raise ValueError naming what came instead (HTML, truncated)."""
    try:
        return response.json()
    except ValueError as exc:
        kind = response.headers.get("Content-Type", "unknown content type")
        snippet = response.text[:120].replace("\n", " ")
        raise ValueError(f"HTTP {response.status_code} body is not JSON ({kind}): "
                         f"{snippet!r}") from exc

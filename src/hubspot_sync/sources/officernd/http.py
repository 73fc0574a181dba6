"""OfficeRnD's HTTP layer: one session, every request counted, the retry rules of the API
(429 waits for ``Retry-After``; 5xx, timeouts and connection errors back off), sent
through the shared :class:`~hubspot_sync.transport.Retrier`."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import requests

from hubspot_sync.sources.base import SourceError
from hubspot_sync.transport import Retrier, Retry, TransportError, parse_retry_after

RETRY_STATUSES = frozenset({500, 502, 503, 504})


class OfficeRnDHttp:
    """Sends single attempts; callers run them through ``retrier`` so that they decide what
    an attempt holds (the token lock) and the retrier sleeps outside it."""

    def __init__(self, calls: Counter[tuple[str, str]], retrier: Retrier,
                 timeout: float) -> None:
        self.calls = calls
        self.retrier = retrier
        self.timeout = timeout
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def _get_session(self) -> requests.Session:
        with self._lock:  # reads by id run on several threads
            if self._session is None:
                self._session = requests.Session()
                self._session.headers["Accept"] = "application/json"
            return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def retry_wait(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds before retrying an error response, or None when it is final."""
        status = response.status_code
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            return self.retrier.backoff.delay(attempt) if wait is None else wait
        if status in RETRY_STATUSES:
            return self.retrier.backoff.delay(attempt)
        return None

    def attempt(self, method: str, url: str, key: tuple[str, str], n: int, *,
                params: dict[str, Any] | None = None, data: dict[str, str] | None = None,
                token: str | None = None, json: Any = None) -> requests.Response | Retry:
        """One counted send: the response, or a Retry the caller hands to the retrier."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        def send() -> requests.Response:
            with self._lock:
                self.calls[key] += 1
            return self._get_session().request(method, url, params=params, data=data,
                                               json=json, headers=headers,
                                               timeout=self.timeout)

        return self.retrier.attempt(send, self.retry_wait, n)


def error(response: requests.Response, route: str) -> SourceError:
    """The SourceError for a final error response, with OfficeRnD's message."""
    return SourceError(response.status_code, message(response), route=route)


def transport_error(exc: TransportError, route: str) -> SourceError:
    """A network failure after every attempt, or a wait over the cap, as a SourceError."""
    return SourceError(exc.status, f"{exc.category}: {exc.message}", route=route)


def message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error_description") or body.get("error")
                   or body)[:300]
    return str(body)[:300]

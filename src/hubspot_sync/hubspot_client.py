"""HubSpotHook: the CRM v3/v4 API on top of Airflow's HTTP provider.

One hook per task. It reads the ``hubspot_default`` connection (host = base URL, password =
private-app token, sent as ``Authorization: Bearer``; the token is never logged), keeps one
``requests`` session, and offers the few calls the sync needs, each chunked to HubSpot's
limits: paging, batch read / create / update / upsert / archive, search without the
10,000-result cap, properties, pipelines and v4 associations.

Resilience: 429 (burst limit: wait for the window; search "secondly" limit: ~1 s; daily
limit: never retried, a clear error), 5xx, 423, 477, timeouts and connection errors are
retried with exponential backoff and jitter, up to ``max_attempts`` sends per request. The
``X-HubSpot-RateLimit-*`` headers are read after every call and the hook sleeps when the
window is nearly spent instead of provoking 429s; searches are paced client-side (their
responses carry no rate-limit headers).

Batch writes never lose valid inputs: every input carries ``objectWriteTraceId`` so that a
refused input is a 207 error for that input only; if HubSpot still fails a whole chunk with
a non-retryable 4xx, the chunk is bisected down to single inputs so only the bad ones end
up as :class:`RowError`. Every HTTP request sent (retries and bisection included) is
counted in :attr:`HubSpotHook.calls`.

Only ``requests`` and the HTTP provider are imported; no pandas.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook

from hubspot_sync.retry import (
    RETRYABLE_STATUSES,
    TRANSIENT_EXCEPTIONS,
    Backoff,
    RollingLimiter,
    parse_retry_after,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 100          # inputs per object batch call
LIST_LIMIT = 100          # records per list page
SEARCH_LIMIT = 200        # records per search page
SEARCH_CAP = 10_000       # search never pages past this many results
ASSOC_READ_SIZE = 1000    # inputs per associations v4 batch/read
BISECT_STATUSES = frozenset({400, 404, 409, 413, 422})
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
READ_ROUTE_SUFFIXES = ("/batch/read", "/search")

# Route templates (the keys of HubSpotHook.calls).
R_OBJECTS = "/crm/v3/objects/{objectType}"
R_BATCH = "/crm/v3/objects/{objectType}/batch/{action}"
R_SEARCH = "/crm/v3/objects/{objectType}/search"
R_PROPERTIES = "/crm/v3/properties/{objectType}"
R_GROUPS = "/crm/v3/properties/{objectType}/groups"
R_PIPELINES = "/crm/v3/pipelines/{objectType}"
R_ASSOC_BATCH = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/{action}"


class HubSpotError(Exception):
    """A HubSpot request that failed for good: a non-retryable error, the daily limit, or a
    retryable error that outlived every attempt. Carries HubSpot's category and message
    (never the token). ``outcome`` holds what a batch call achieved before it failed."""

    def __init__(self, status: int, category: str, message: str,
                 correlation_id: str | None = None, *, context: dict | None = None,
                 route: str | None = None, outcome: BatchOutcome | None = None) -> None:
        self.status = status
        self.category = category
        self.message = message
        self.correlation_id = correlation_id
        self.context = context or {}
        self.route = route
        self.outcome = outcome
        where = f" on {route}" if route else ""
        corr = f" (correlation id {correlation_id})" if correlation_id else ""
        super().__init__(f"HubSpot {status} {category}{where}: {message}{corr}")


@dataclass(frozen=True)
class RowError:
    """One input HubSpot refused. ``trace_id`` is the input's objectWriteTraceId (the caller's
    key), ``input_id`` its id (id-property value, HubSpot id, or ``from:to`` for associations),
    ``status`` the HTTP status of the response that refused it ("207" for an entry of a
    multi-status response)."""

    trace_id: str | None
    input_id: str | None
    status: str
    category: str
    message: str
    context: dict = field(default_factory=dict)


@dataclass
class BatchOutcome:
    """What a batch write did: HubSpot's results (upserts carry ``new``; each result has the
    input's ``objectWriteTraceId`` when it could be matched) and the refused inputs."""

    results: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def extend(self, other: BatchOutcome) -> None:
        self.results.extend(other.results)
        self.errors.extend(other.errors)

    @property
    def failed_trace_ids(self) -> set[str]:
        return {e.trace_id for e in self.errors if e.trace_id is not None}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _unique(values: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is not None and value != "":
            seen.setdefault(str(value), None)
    return list(seen)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return [str(value)]


def _json(response: requests.Response) -> dict:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:500]}
    return body if isinstance(body, dict) else {"results": body}


class HubSpotHook(HttpHook):
    """HubSpot CRM API client on the ``hubspot_default`` HTTP connection.

    :param hubspot_conn_id: Airflow connection: host = base URL, password = private-app token.
    :param max_attempts: sends per request before giving up (retries included).
    :param backoff: backoff schedule for 5xx / timeouts (default 0.5 s doubling, jittered).
    :param timeout: seconds per request unless the connection's extra sets ``timeout``.
    :param min_remaining: when ``X-HubSpot-RateLimit-Remaining`` drops to this, sleep until
        the rolling window frees a slot.
    :param search_per_second: client-side pace of search requests (HubSpot allows 5/s).
    :param sleep: the sleep function (tests pass a fake).
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "http"
    hook_name = "HubSpot"

    def __init__(self, hubspot_conn_id: str = default_conn_name, *, max_attempts: int = 6,
                 backoff: Backoff | None = None, timeout: float = 30.0, min_remaining: int = 5,
                 search_per_second: int = 5, sleep: Callable[[float], None] = time.sleep,
                 **kwargs: Any) -> None:
        super().__init__(method="GET", http_conn_id=hubspot_conn_id, **kwargs)
        self.hubspot_conn_id = hubspot_conn_id
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff or Backoff(attempts=self.max_attempts)
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

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_url(cls, base_url: str, token: str, **kwargs: Any) -> HubSpotHook:
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

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's "Test" button: read the contact property list with the token."""
        try:
            count = len(self.get_properties("contacts"))
        except Exception as exc:  # any failure is the answer the UI shows
            return False, str(exc)
        return True, f"HubSpot answered: {count} contact properties"

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

    # ------------------------------------------------------------------ transport
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
            log.info("HubSpot rate limit nearly spent (%s left); pausing %.2f s", remaining, wait)
            self.slept_for_rate_limit += wait
            self._sleep(wait)

    def _note_headers(self, response: requests.Response) -> None:
        headers = response.headers
        remaining = headers.get("X-HubSpot-RateLimit-Remaining")
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        with self._lock:
            if remaining is not None:
                try:
                    self._remaining = int(remaining)
                except ValueError:
                    pass
            if interval:
                try:
                    self._interval = max(0.1, int(interval) / 1000)
                except ValueError:
                    pass

    def _request(self, method: str, route: str, path: dict[str, Any] | None = None, *,
                 params: dict[str, Any] | None = None, json: Any = None) -> requests.Response:
        """Send one logical request with retries; return a 2xx/3xx response or raise."""
        session = self._get_session()
        path = path or {}
        url = self.base_url + route.format(**path)
        if "action" in path:  # the batch action is part of the counted route template
            route = route.replace("{action}", str(path["action"]))
        is_search = route == R_SEARCH
        attempt = 0
        while True:
            attempt += 1
            if is_search:
                self._search_limiter.acquire()
            else:
                self._pace()
            with self._lock:
                self.calls[(method, route)] += 1
                self._sent.append(time.monotonic())
                if self._remaining is not None:
                    self._remaining -= 1
            try:
                response = session.request(method, url, params=params, json=json,
                                           timeout=self._request_timeout)
            except TRANSIENT_EXCEPTIONS as exc:
                if attempt >= self.max_attempts:
                    raise HubSpotError(0, "NETWORK_ERROR",
                                       f"{type(exc).__name__} after {attempt} attempts",
                                       route=f"{method} {route}") from exc
                wait = self.backoff.delay(attempt)
                log.warning("HubSpot %s %s: %s; retry %d in %.2f s", method, route,
                            type(exc).__name__, attempt, wait)
                self._sleep(wait)
                continue
            self._note_headers(response)
            status = response.status_code
            if status < 400:
                return response
            body = _json(response)
            wait = self._retry_wait(response, body, attempt, route)
            if wait is None or attempt >= self.max_attempts:
                raise self._error(response, body, f"{method} {route}")
            log.warning("HubSpot %s %s -> %s %s; retry %d in %.2f s", method, route, status,
                        body.get("policyName") or body.get("category") or "", attempt, wait)
            self._sleep(wait)

    def _retry_wait(self, response: requests.Response, body: dict, attempt: int,
                    route: str) -> float | None:
        """Seconds to wait before retrying, or None when the error is not retryable."""
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            policy = str(body.get("policyName") or "").upper()
            message = str(body.get("message") or "").lower()
            if policy == "DAILY" or "daily limit" in message:
                return None
            if retry_after is not None:
                return retry_after
            if policy == "SECONDLY" or ("secondly limit" in message and "ten_secondly" not in message):
                return 1.0 * attempt
            interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
            try:
                return max(0.1, int(interval) / 1000) if interval else self._interval
            except ValueError:
                return self._interval
        if status not in RETRYABLE_STATUSES:
            return None
        if retry_after is not None:
            return retry_after
        if status == 423:
            return max(2.0, self.backoff.delay(attempt))
        return self.backoff.delay(attempt)

    @staticmethod
    def _error(response: requests.Response, body: dict, route: str) -> HubSpotError:
        status = response.status_code
        category = body.get("category") or body.get("errorType") or f"HTTP_{status}"
        message = body.get("message") or response.reason or ""
        if status == 429 and (str(body.get("policyName")).upper() == "DAILY"
                              or "daily limit" in message.lower()):
            category = "DAILY_LIMIT"
            message = (f"{message} The portal's daily API limit is spent; not retried. "
                       "Resume after the limit resets (midnight in the portal's time zone).")
        correlation = body.get("correlationId") or response.headers.get("X-HubSpot-Correlation-Id")
        return HubSpotError(status, str(category), str(message), correlation,
                            context=body.get("context") if isinstance(body.get("context"), dict)
                            else None, route=route)

    # ------------------------------------------------------------------ reads
    def list_objects(self, object_type: str, properties: Sequence[str],
                     archived: bool = False) -> Iterator[dict]:
        """Every record of an object type, 100 per page, following ``paging.next.after``."""
        params: dict[str, Any] = {"limit": LIST_LIMIT, "archived": str(archived).lower()}
        if properties:
            params["properties"] = ",".join(properties)
        after: str | None = None
        while True:
            if after:
                params["after"] = after
            body = _json(self._request("GET", R_OBJECTS, {"objectType": object_type},
                                       params=params))
            yield from body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def batch_read(self, object_type: str, ids: Iterable[str], properties: Sequence[str],
                   id_property: str | None = None) -> list[dict]:
        """Records by HubSpot id, or by a unique property (``email`` for contacts, ``domain``
        for companies, ``officernd_id``...), 100 per call. Ids not found are silently absent;
        with ``id_property`` that property is always among the returned properties."""
        wanted = _unique(ids)
        props = list(dict.fromkeys(properties))
        if id_property and id_property not in props:
            props.append(id_property)
        records: list[dict] = []
        for chunk in _chunks(wanted, BATCH_SIZE):
            body_json: dict[str, Any] = {"inputs": [{"id": i} for i in chunk],
                                         "properties": props}
            if id_property:
                body_json["idProperty"] = id_property
            try:
                response = self._request("POST", R_BATCH,
                                         {"objectType": object_type, "action": "read"},
                                         json=body_json)
            except HubSpotError as exc:
                if exc.status == 404:
                    continue
                raise
            records.extend(_json(response).get("results", []))
        return records

    def search(self, object_type: str, filter_groups: list[dict], properties: Sequence[str],
               sorts: list[Any] | None = None) -> Iterator[dict]:
        """Records matching a search, 200 per page. Never pages past 10,000: when ``total``
        exceeds the cap, reads in keyset windows (``hs_object_id`` ascending with a ``GT``
        filter), which replaces any custom sort."""
        props = list(properties)
        keyset_sort = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        body: dict[str, Any] = {"filterGroups": filter_groups, "properties": props,
                                "limit": SEARCH_LIMIT, "sorts": sorts or keyset_sort}
        path = {"objectType": object_type}
        page = _json(self._request("POST", R_SEARCH, path, json=body))
        total = int(page.get("total") or 0)
        if total <= SEARCH_CAP:
            while True:
                yield from page.get("results", [])
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after or (str(after).isdigit() and int(after) >= SEARCH_CAP):
                    return
                page = _json(self._request("POST", R_SEARCH, path, json={**body, "after": after}))
        # More than the cap: keyset windows on hs_object_id.
        if sorts:
            log.warning("search on %s matches %d records (> %d); custom sort replaced by "
                        "hs_object_id keyset paging", object_type, total, SEARCH_CAP)
            page = _json(self._request("POST", R_SEARCH, path,
                                       json={**body, "sorts": keyset_sort}))
        body["sorts"] = keyset_sort
        while True:
            results = page.get("results", [])
            yield from results
            if not results or not (page.get("paging") or {}).get("next"):
                return
            last = str(results[-1].get("id") or results[-1]["properties"]["hs_object_id"])
            gt = {"propertyName": "hs_object_id", "operator": "GT", "value": last}
            groups = [{**g, "filters": [*g.get("filters", []), gt]} for g in filter_groups] \
                or [{"filters": [gt]}]
            page = _json(self._request("POST", R_SEARCH, path,
                                       json={**body, "filterGroups": groups}))

    # ------------------------------------------------------------------ writes
    def batch_upsert(self, object_type: str, inputs: Sequence[dict], id_property: str,
                     trace_ids: Sequence[str] | None = None) -> BatchOutcome:
        """Create-or-update by a unique property, 100 per call. Each input is
        ``{"id": <id_property value>, "properties": {...}}`` (``id`` may be left out when
        ``properties`` holds the id property). Results carry ``new``."""
        prepared = []
        for i, item in enumerate(inputs):
            props = dict(item.get("properties") or {})
            key = item.get("id", props.get(id_property))
            if key is None or key == "":
                raise ValueError(f"upsert input {i} has no {id_property!r} value")
            entry = {"id": str(key), "idProperty": id_property, "properties": props,
                     "objectWriteTraceId": self._trace(item, trace_ids, i, key)}
            prepared.append(entry)
        outcome = self._batch_write(object_type, "upsert", prepared)
        self._attach_traces(outcome, prepared, key=lambda r: (r.get("properties") or {})
                            .get(id_property))
        return outcome

    def batch_update(self, object_type: str, inputs: Sequence[dict],
                     trace_ids: Sequence[str] | None = None) -> BatchOutcome:
        """Update records by HubSpot id: inputs ``[{"id": "123", "properties": {...}}]``."""
        prepared = []
        for i, item in enumerate(inputs):
            if not item.get("id"):
                raise ValueError(f"update input {i} has no HubSpot id")
            prepared.append({"id": str(item["id"]), "properties": dict(item.get("properties") or {}),
                             "objectWriteTraceId": self._trace(item, trace_ids, i, item["id"])})
        outcome = self._batch_write(object_type, "update", prepared)
        self._attach_traces(outcome, prepared, key=lambda r: r.get("id"))
        return outcome

    def batch_create(self, object_type: str, inputs: Sequence[dict],
                     trace_ids: Sequence[str] | None = None) -> BatchOutcome:
        """Create records: inputs ``[{"properties": {...}, "associations": [...]?}]``. Without a
        trace id an input is traced by its position in ``inputs``."""
        prepared = []
        for i, item in enumerate(inputs):
            entry: dict[str, Any] = {"properties": dict(item.get("properties") or {}),
                                     "associations": list(item.get("associations") or []),
                                     "objectWriteTraceId": self._trace(item, trace_ids, i, i)}
            prepared.append(entry)
        outcome = self._batch_write(object_type, "create", prepared)
        self._attach_traces(outcome, prepared, key=lambda r: None)
        return outcome

    def batch_archive(self, object_type: str, ids: Iterable[str]) -> int:
        """Archive records by HubSpot id, 100 per call; returns how many ids were sent."""
        wanted = _unique(ids)
        for chunk in _chunks(wanted, BATCH_SIZE):
            self._request("POST", R_BATCH, {"objectType": object_type, "action": "archive"},
                          json={"inputs": [{"id": i} for i in chunk]})
        return len(wanted)

    @staticmethod
    def _trace(item: dict, trace_ids: Sequence[str] | None, index: int, default: Any) -> str:
        if trace_ids is not None:
            return str(trace_ids[index])
        if item.get("objectWriteTraceId") not in (None, ""):
            return str(item["objectWriteTraceId"])
        return str(default)

    @staticmethod
    def _attach_traces(outcome: BatchOutcome, prepared: list[dict],
                       key: Callable[[dict], Any]) -> None:
        """Give each result the objectWriteTraceId of its input when HubSpot did not echo it."""
        by_key = {str(p.get("id")): p["objectWriteTraceId"] for p in prepared if p.get("id")}
        for result in outcome.results:
            if result.get("objectWriteTraceId"):
                continue
            value = key(result)
            if value is not None and str(value) in by_key:
                result["objectWriteTraceId"] = by_key[str(value)]

    def _batch_write(self, object_type: str, action: str, prepared: list[dict]) -> BatchOutcome:
        outcome = BatchOutcome()
        path = {"objectType": object_type, "action": action}
        if action in ("upsert", "update"):
            # HubSpot refuses a whole batch naming one record twice; send the first input for
            # an id and report the others instead of bisecting them one by one.
            seen: set[str] = set()
            unique = []
            for item in prepared:
                if item["id"] in seen:
                    outcome.errors.append(RowError(
                        item["objectWriteTraceId"], item["id"], "0", "DUPLICATE_INPUT",
                        f"another input of this call already writes id {item['id']}; not sent"))
                    continue
                seen.add(item["id"])
                unique.append(item)
            prepared = unique
        for chunk in _chunks(prepared, BATCH_SIZE):
            self._write_chunk(R_BATCH, path, list(chunk), outcome, _object_input_id,
                              _map_object_error)
        return outcome

    def _write_chunk(self, route: str, path: dict[str, Any], chunk: list[dict],
                     outcome: BatchOutcome, input_id: Callable[[dict], str | None],
                     map_error: Callable[[dict, list[dict], str], list[RowError]]) -> None:
        """Send one chunk; on a whole-chunk 4xx, bisect so only the bad inputs fail."""
        try:
            response = self._request("POST", route, path, json={"inputs": chunk})
        except HubSpotError as exc:
            if exc.status not in BISECT_STATUSES:
                exc.outcome = outcome
                raise
            if len(chunk) == 1:
                only = chunk[0]
                outcome.errors.append(RowError(only.get("objectWriteTraceId") or input_id(only), input_id(only),
                                               str(exc.status), exc.category, exc.message,
                                               dict(exc.context)))
                return
            log.info("HubSpot %s refused %d inputs (%s %s); bisecting", route, len(chunk),
                     exc.status, exc.category)
            mid = len(chunk) // 2
            self._write_chunk(route, path, chunk[:mid], outcome, input_id, map_error)
            self._write_chunk(route, path, chunk[mid:], outcome, input_id, map_error)
            return
        body = _json(response)
        outcome.results.extend(body.get("results") or [])
        for error in body.get("errors") or []:
            outcome.errors.extend(map_error(error, chunk, str(response.status_code)))

    # ------------------------------------------------------------------ properties
    def get_properties(self, object_type: str) -> dict[str, dict]:
        """Every property definition of an object type, by name."""
        body = _json(self._request("GET", R_PROPERTIES, {"objectType": object_type}))
        return {p["name"]: p for p in body.get("results", []) if "name" in p}

    def create_property(self, object_type: str, definition: dict) -> dict:
        """Create one custom property (``name, label, type, fieldType, groupName``...)."""
        return _json(self._request("POST", R_PROPERTIES, {"objectType": object_type},
                                   json=definition))

    def get_property_groups(self, object_type: str) -> dict[str, dict]:
        body = _json(self._request("GET", R_GROUPS, {"objectType": object_type}))
        return {g["name"]: g for g in body.get("results", []) if "name" in g}

    def ensure_property_group(self, object_type: str, name: str, label: str) -> bool:
        """Create the property group unless it exists; returns True when it was created."""
        if name in self.get_property_groups(object_type):
            return False
        try:
            self._request("POST", R_GROUPS, {"objectType": object_type},
                          json={"name": name, "label": label, "displayOrder": -1})
        except HubSpotError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def ensure_properties(self, object_type: str, definitions: Sequence[dict],
                          group_labels: dict[str, str] | None = None) -> list[str]:
        """Create the properties HubSpot lacks (their groups first); never alter an existing
        property, HubSpot-defined or custom. Returns the names created."""
        existing = self.get_properties(object_type)
        missing = [d for d in definitions if d["name"] not in existing]
        for d in definitions:
            current = existing.get(d["name"])
            if current and d.get("type") and current.get("type") not in (None, d["type"]):
                log.warning("HubSpot %s.%s is %s, the mapping expects %s; left unchanged",
                            object_type, d["name"], current.get("type"), d["type"])
        if not missing:
            return []
        groups = _unique(d.get("groupName") for d in missing)
        if groups:
            known = self.get_property_groups(object_type)
            for group in groups:
                if group in known:
                    continue
                label = (group_labels or {}).get(group) or (
                    "OfficeRnD" if group == "officernd" else group.replace("_", " ").title())
                try:
                    self._request("POST", R_GROUPS, {"objectType": object_type},
                                  json={"name": group, "label": label, "displayOrder": -1})
                except HubSpotError as exc:
                    if exc.status != 409:
                        raise
        created = []
        for definition in missing:
            try:
                self.create_property(object_type, definition)
            except HubSpotError as exc:
                if exc.status == 409:  # created meanwhile by another task
                    continue
                raise
            created.append(definition["name"])
        return created

    def get_pipelines(self, object_type: str = "deals") -> list[dict]:
        """Pipelines of an object type with their stages (``GET /crm/v3/pipelines/{type}``)."""
        return _json(self._request("GET", R_PIPELINES, {"objectType": object_type})) \
            .get("results", [])

    # ------------------------------------------------------------------ associations v4
    def associate(self, from_type: str, to_type: str, pairs: Iterable[tuple[str, str]],
                  type_id: int, category: str = "HUBSPOT_DEFINED") -> BatchOutcome:
        """Create associations (v4 ``batch/create``), 100 pairs per call. RowError input ids
        are ``"from:to"``."""
        unique_pairs = list(dict.fromkeys((str(a), str(b)) for a, b in pairs))
        spec = [{"associationCategory": category, "associationTypeId": int(type_id)}]
        prepared = [{"from": {"id": a}, "to": {"id": b}, "types": spec} for a, b in unique_pairs]
        outcome = BatchOutcome()
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "create"}
        for chunk in _chunks(prepared, BATCH_SIZE):
            self._write_chunk(R_ASSOC_BATCH, path, list(chunk), outcome, _pair_id,
                              _map_association_error)
        return outcome

    def read_associations(self, from_type: str, to_type: str,
                          ids: Iterable[str]) -> dict[str, list[str]]:
        """Associated record ids per from-id (v4 ``batch/read``, following per-input paging);
        every requested id is a key, with an empty list when it has no associations."""
        wanted = _unique(ids)
        found: dict[str, dict[str, None]] = {i: {} for i in wanted}
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "read"}
        pending: list[dict[str, str]] = [{"id": i} for i in wanted]
        while pending:
            next_round: list[dict[str, str]] = []
            for chunk in _chunks(pending, ASSOC_READ_SIZE):
                try:
                    body = _json(self._request("POST", R_ASSOC_BATCH, path,
                                               json={"inputs": list(chunk)}))
                except HubSpotError as exc:
                    if exc.status == 404:
                        continue
                    raise
                for result in body.get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    bucket = found.setdefault(from_id, {})
                    for target in result.get("to") or []:
                        to_id = target.get("toObjectId", target.get("id"))
                        if to_id is not None:
                            bucket.setdefault(str(to_id), None)
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after:
                        next_round.append({"id": from_id, "after": str(after)})
            pending = next_round
        return {k: list(v) for k, v in found.items()}

    def archive_associations(self, from_type: str, to_type: str,
                             pairs: Iterable[tuple[str, str]]) -> None:
        """Remove every association between each pair (v4 ``batch/archive``)."""
        grouped: dict[str, dict[str, None]] = {}
        for a, b in pairs:
            grouped.setdefault(str(a), {})[str(b)] = None
        inputs = [{"from": {"id": a}, "to": [{"id": b} for b in tos]}
                  for a, tos in grouped.items()]
        path = {"fromObjectType": from_type, "toObjectType": to_type, "action": "archive"}
        for chunk in _chunks(inputs, BATCH_SIZE):
            self._request("POST", R_ASSOC_BATCH, path, json={"inputs": list(chunk)})


# ---------------------------------------------------------------------- error mapping
def _object_input_id(item: dict) -> str | None:
    value = item.get("id")
    return None if value is None else str(value)


def _pair_id(item: dict) -> str:
    return f"{item['from']['id']}:{item['to']['id']}"


def _error_parts(error: dict) -> tuple[str, str, dict]:
    context = error.get("context") if isinstance(error.get("context"), dict) else {}
    category = str(error.get("category") or error.get("subCategory") or "ERROR")
    message = str(error.get("message") or "")
    return category, message, context


def _map_object_error(error: dict, chunk: list[dict], status: str) -> list[RowError]:
    """Map one 207 error entry back to the inputs it names (by trace id, else by id)."""
    category, message, context = _error_parts(error)
    traces = _as_list(context.get("objectWriteTraceId")) + _as_list(error.get("objectWriteTraceId"))
    ids = _as_list(context.get("ids")) + _as_list(context.get("id")) + _as_list(error.get("id"))
    by_trace = {str(i.get("objectWriteTraceId")): i for i in chunk}
    by_id: dict[str, dict] = {}
    for item in chunk:
        if item.get("id") is not None:
            by_id.setdefault(str(item["id"]), item)
    rows: list[RowError] = []
    if traces:
        for trace in dict.fromkeys(traces):
            item = by_trace.get(trace)
            input_id = _object_input_id(item) if item else (ids[0] if len(ids) == 1 else None)
            rows.append(RowError(trace, input_id, status, category, message, context))
    elif ids:
        for value in dict.fromkeys(ids):
            item = by_id.get(value)
            rows.append(RowError(item.get("objectWriteTraceId") if item else None, value,
                                 status, category, message, context))
    else:
        rows.append(RowError(None, None, status, category, message, context))
    return rows


def _map_association_error(error: dict, chunk: list[dict], status: str) -> list[RowError]:
    """Map a v4 association 207 error to the pairs whose ids its context names."""
    category, message, context = _error_parts(error)
    named = set()
    for values in context.values():
        named.update(_as_list(values) if not isinstance(values, dict) else [])
    hits = [item for item in chunk
            if item["from"]["id"] in named and (item["to"]["id"] in named or len(named) == 1)]
    if not hits:
        hits = [item for item in chunk if item["from"]["id"] in named or item["to"]["id"] in named]
    if not hits:
        return [RowError(None, None, status, category, message, context)]
    return [RowError(_pair_id(i), _pair_id(i), status, category, message, context) for i in hits]

"""OfficeRnD Flex API v2 as a source: resources read in ``modifiedAt`` windows with cursor
paging, records by id, on the authenticator and the shared retrier."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from hubspot_sync.progress import Progress
from hubspot_sync.sources.base import SOURCE_DEFAULT, Source, SourceError, iso_ms
from hubspot_sync.sources.officernd.authenticator import (
    OfficeRnDAuthenticator,
    SharedTokenFile,
    default_token_cache_dir,
)
from hubspot_sync.sources.officernd.http import OfficeRnDHttp, error, transport_error
from hubspot_sync.sources.officernd.paginator import CursorPaginator, page_records
from hubspot_sync.transport import (
    Backoff,
    Retrier,
    Retry,
    TransportError,
    dispatch,
    json_body,
)

DEFAULT_TOKEN_URL = "https://identity.officernd.com/oauth/token"
GET_MANY_THRESHOLD = 40      # above this many ids, scan the resource once instead
MAX_IN_FLIGHT = 4            # reads by id at once: ~16/s at 250 ms, OfficeRnD allows ~400/min


class OfficeRnDSource(Source):
    """Reads OfficeRnD Flex resources (members, companies, plans, contracts...).

    :param conn_id: Airflow connection (see the package docstring).
    :param max_attempts: sends per request before giving up.
    :param get_many_threshold: ``get_many`` fetches ids one by one up to this many,
        above it pages through the whole resource once.
    :param token_cache_dir: where the token shared by this machine's processes is kept
        (default ``$SYNC_TOKEN_CACHE_DIR`` or ``$AIRFLOW_HOME/.cache``; None: this process only).
    :param max_wait: the longest single wait (default ``$SYNC_MAX_RETRY_WAIT_SECONDS`` or 60).
    :param max_in_flight: reads by id sent at once by ``get_many`` (one token, shared).
    """

    def __init__(self, conn_id: str = "officernd_default", *, max_attempts: int = 6,
                 backoff: Backoff | None = None, timeout: float = 30.0,
                 get_many_threshold: int = GET_MANY_THRESHOLD,
                 sleep: Callable[[float], None] = time.sleep,
                 token_cache_dir: Path | None | bool = True,
                 max_wait: float | None = None, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        super().__init__()
        self.max_in_flight = max(1, max_in_flight)
        # True: the default shared directory (if any); None/False: this process only.
        directory = default_token_cache_dir() if token_cache_dir is True else (
            token_cache_dir or None)
        self.conn_id = conn_id
        self.get_many_threshold = get_many_threshold
        self.http = OfficeRnDHttp(self.calls, Retrier(max_attempts, backoff, sleep, max_wait),
                                  timeout)
        shared = SharedTokenFile(Path(directory)) if directory else None
        self.auth = OfficeRnDAuthenticator(self.http, self._config, shared)
        self._settings: dict[str, str] | None = None
        self._cache: dict[str, dict[str, dict]] = {}
        self._scanned: set[str] = set()

    @classmethod
    def from_url(cls, base_url: str, client_id: str, client_secret: str, org_slug: str,
                 token_url: str | None = None, scopes: str | Iterable[str] | None = None,
                 **kwargs: Any) -> OfficeRnDSource:
        """A source on explicit settings, without an Airflow connection."""
        source = cls(**kwargs)
        source._settings = _settings(base_url, client_id, client_secret, org_slug,
                                     token_url or f"{base_url.rstrip('/')}/oauth/token", scopes)
        return source

    # ------------------------------------------------------------------ settings
    def _config(self) -> dict[str, str]:
        if self._settings is None:
            from airflow.providers.common.compat.sdk import BaseHook

            conn = BaseHook.get_connection(self.conn_id)
            extra = conn.extra_dejson or {}
            host = conn.host or "https://app.officernd.com"
            if "://" not in host:
                host = f"{conn.schema or 'https'}://{host}"
            if conn.port:
                host = f"{host}:{conn.port}"
            org = extra.get("org_slug") or extra.get("org")
            if not org:
                raise SourceError(0, f"connection {self.conn_id!r} needs extra.org_slug")
            self._settings = _settings(host, conn.login or "", conn.password or "", org,
                                       extra.get("token_url") or DEFAULT_TOKEN_URL,
                                       extra.get("scopes"))
            if "timeout" in extra:
                self.http.timeout = float(extra["timeout"])
        return self._settings

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ requests
    def _get(self, path: str, route: str,
             params: dict[str, Any] | None = None) -> requests.Response:
        """One authorized GET with retries; 404 is returned to the caller, other 4xx raise.
        A 401 refreshes the token once (a refresh is not a failed attempt)."""
        url = f"{self._config()['api_base']}{path}"
        key = ("GET", route)
        token = self.auth.token()
        refreshed = False

        def attempt(n: int) -> requests.Response | Retry:
            nonlocal token, refreshed
            got = self.http.attempt("GET", url, key, n, params=params, token=token)
            if isinstance(got, requests.Response) and got.status_code == 401 and not refreshed:
                refreshed = True
                token = self.auth.token(stale=token)
                got = self.http.attempt("GET", url, key, n, params=params, token=token)
            return got

        try:
            response = self.http.retrier.run(attempt, f"OfficeRnD GET {route}")
        except TransportError as exc:
            raise transport_error(exc, route) from exc
        assert isinstance(response, requests.Response)
        if response.status_code >= 400 and response.status_code != 404:
            raise error(response, route)
        return response

    @staticmethod
    def _body(response: requests.Response, route: str) -> Any:
        try:
            return json_body(response)
        except ValueError as exc:
            raise SourceError(response.status_code, str(exc), route=route) from exc

    def _pages(self, resource: str, params: dict[str, Any], label: str) -> Iterator[dict]:
        """Every record of a list read; ``label`` names it in the progress lines (the total
        is not known: counting it would cost another request)."""
        route = f"/{resource}"
        paginator = CursorPaginator(f"OfficeRnD GET {route}")
        progress = Progress(label, unit="page")
        while not paginator.finished:
            response = self._get(route, route, paginator.params(params))
            if response.status_code == 404:
                raise SourceError(404, f"unknown resource {resource!r}", route=route)
            body = self._body(response, route)
            records = page_records(body)
            progress.advance(len(records))
            yield from records
            paginator.advance(body)
        progress.done()

    # ------------------------------------------------------------------ Source API
    def extract(self, resource: str, since: datetime | None = None,
                until: datetime | None = None,
                changed_at: str | None = SOURCE_DEFAULT) -> Iterator[dict[str, Any]]:
        """Records of ``resource`` modified in ``[since, until)`` (``modifiedAt[$gte]`` /
        ``modifiedAt[$lt]``); all records when ``changed_at`` is None (plans) or both
        bounds are None."""
        field = "modifiedAt" if changed_at == SOURCE_DEFAULT else changed_at
        params: dict[str, Any] = {}
        if field:
            if since is not None:
                params[f"{field}[$gte]"] = iso_ms(since)
            if until is not None:
                params[f"{field}[$lt]"] = iso_ms(until)
        for record in self._pages(resource, params, f"{resource} extract"):
            self._remember(resource, record)
            yield record

    def get_many(self, resource: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Records by ``_id``: one GET each for a handful (404 -> absent), one scan of the
        whole resource past ``get_many_threshold``; cached per source instance."""
        wanted = list(dict.fromkeys(str(i) for i in ids if i not in (None, "")))
        cache = self._cache.setdefault(resource, {})
        missing = [i for i in wanted if i not in cache]
        if missing and resource not in self._scanned:
            if len(missing) > self.get_many_threshold:
                for record in self._pages(resource, {}, f"{resource} scan for lookups"):
                    self._remember(resource, record)
                self._scanned.add(resource)
            else:
                route = f"/{resource}/{{id}}"

                def fetch(rid: str) -> Any:
                    response = self._get(f"/{resource}/{rid}", route)
                    return None if response.status_code == 404 else \
                        self._body(response, route)

                # by id, several in flight (a list read's cursors are sequential; these not)
                for record in dispatch(fetch, missing, self.max_in_flight,
                                       name="officernd").ordered():
                    if record is not None:
                        self._remember(resource, record)
        return {i: cache[i] for i in wanted if i in cache}

    def list_ids(self, resource: str, id_field: str = "_id") -> set[str]:
        """Every record's id with ``$select=_id`` (50 ids a page, a few bytes each): the
        cheap scan that finds records deleted in OfficeRnD, which has no deleted-records
        feed."""
        return {str(r[id_field]) for r in self._pages(resource, {"$select": id_field},
                                                      f"{resource} id scan")
                if isinstance(r, dict) and r.get(id_field) not in (None, "")}

    def _remember(self, resource: str, record: Any) -> None:
        if isinstance(record, dict) and record.get("_id") is not None:
            self._cache.setdefault(resource, {})[str(record["_id"])] = record


def _settings(base_url: str, client_id: str, client_secret: str, org_slug: str,
              token_url: str, scopes: str | Iterable[str] | None) -> dict[str, str]:
    base = base_url.rstrip("/")
    api_base = base if "/api/v2/organizations/" in base else \
        f"{base}/api/v2/organizations/{org_slug}"
    scope_text = scopes if isinstance(scopes, str) else " ".join(scopes or ())
    return {"api_base": api_base, "client_id": client_id, "client_secret": client_secret,
            "token_url": token_url, "scopes": scope_text, "org_slug": org_slug}

"""OfficeRnD Flex API v2 as a source: OAuth2 client credentials, cursor paging, modifiedAt windows.

Connection ``officernd_default`` (type http): host = API base (``https://app.officernd.com``
or the sandbox), login = client id, password = client secret, extra
``{"org_slug": "...", "token_url": "https://identity.officernd.com/oauth/token",
"scopes": "flex.community.members.read ..."}`` (scopes optional: none asks for the app's
grants).

The token endpoint allows 5 calls a minute, so tokens live in a process-wide cache keyed
by (token_url, client_id, scopes) until shortly before they expire, backed by a file under
``$AIRFLOW_HOME/.cache`` (mode 0600, ``flock``-guarded) so that the task processes of a
machine share one token: six entity DAGs starting at the same minute fetch one token, not
six. A 401 refreshes the token once. 429 responses (token
endpoint or reads) wait for ``Retry-After``; 5xx, timeouts and connection errors are
retried with exponential backoff.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from hubspot_sync.retry import TRANSIENT_EXCEPTIONS, Backoff, parse_retry_after
from hubspot_sync.sources.base import SOURCE_DEFAULT, Source, SourceError, iso_ms

log = logging.getLogger(__name__)

DEFAULT_TOKEN_URL = "https://identity.officernd.com/oauth/token"
PAGE_LIMIT = 50
TOKEN_MARGIN = 60.0          # refresh this many seconds before the token expires
GET_MANY_THRESHOLD = 40      # above this many ids, scan the resource once instead
RETRY_STATUSES = frozenset({500, 502, 503, 504})

# Process-wide token cache: (token_url, client_id, scopes) -> (access_token, expires_at monotonic)
_TOKENS: dict[tuple[str, str, str], tuple[str, float]] = {}
_TOKEN_LOCK = threading.Lock()


def clear_token_cache() -> None:
    """Forget every cached token of this process (tests); the shared file is left alone."""
    with _TOKEN_LOCK:
        _TOKENS.clear()


def default_token_cache_dir() -> Path | None:
    """``$SYNC_TOKEN_CACHE_DIR``, else ``$AIRFLOW_HOME/.cache``; None when neither is set."""
    explicit = os.environ.get("SYNC_TOKEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    home = os.environ.get("AIRFLOW_HOME")
    return Path(home) / ".cache" if home else None


class SharedTokenFile:
    """Tokens shared by the processes of one machine: a JSON file, locked while in use.

    Entries are keyed by a hash of (token_url, client_id, scopes) and expire by wall clock.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "officernd-tokens.json"

    @staticmethod
    def key(parts: tuple[str, ...]) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The file's entries, exclusively; changes to the dict are written back."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                text = handle.read()
                try:
                    entries = json.loads(text) if text.strip() else {}
                except ValueError:
                    entries = {}  # a torn or foreign file is only a cache: start afresh
                before = dict(entries)
                yield entries
                if entries != before:
                    now = time.time()
                    entries = {k: v for k, v in entries.items()
                               if v.get("expires_at", 0) > now}
                    handle.seek(0)
                    handle.truncate()
                    handle.write(json.dumps(entries))
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class OfficeRnDSource(Source):
    """Reads OfficeRnD Flex resources (members, companies, plans, contracts...).

    :param conn_id: Airflow connection (see the module docstring).
    :param max_attempts: sends per request before giving up.
    :param get_many_threshold: ``get_many`` fetches ids one by one up to this many,
        above it pages through the whole resource once.
    :param token_cache_dir: where the token shared by this machine's processes is kept
        (default ``$SYNC_TOKEN_CACHE_DIR`` or ``$AIRFLOW_HOME/.cache``; None: this process only).
    """

    def __init__(self, conn_id: str = "officernd_default", *, max_attempts: int = 6,
                 backoff: Backoff | None = None, timeout: float = 30.0,
                 get_many_threshold: int = GET_MANY_THRESHOLD,
                 sleep: Callable[[float], None] = time.sleep,
                 token_cache_dir: Path | None | bool = True) -> None:
        super().__init__()
        # True: the default shared directory (if any); None/False: this process only.
        directory = default_token_cache_dir() if token_cache_dir is True else (
            token_cache_dir or None)
        self._shared = SharedTokenFile(Path(directory)) if directory else None
        self.conn_id = conn_id
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff or Backoff(attempts=self.max_attempts)
        self.timeout = timeout
        self.get_many_threshold = get_many_threshold
        self._sleep = sleep
        self._settings: dict[str, str] | None = None
        self._session: requests.Session | None = None
        self._cache: dict[str, dict[str, dict]] = {}
        self._scanned: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, base_url: str, client_id: str, client_secret: str, org_slug: str,
                 token_url: str | None = None, scopes: str | Iterable[str] | None = None,
                 **kwargs: Any) -> OfficeRnDSource:
        """A source on explicit settings, without an Airflow connection."""
        source = cls(**kwargs)
        source._settings = _settings(base_url, client_id, client_secret, org_slug,
                                     token_url or f"{base_url.rstrip('/')}/oauth/token", scopes)
        return source

    # ------------------------------------------------------------------ settings, session
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
                self.timeout = float(extra["timeout"])
        return self._settings

    def _get_session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
            self._session.headers["Accept"] = "application/json"
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # ------------------------------------------------------------------ token
    def _token_key(self) -> tuple[str, str, str]:
        cfg = self._config()
        return cfg["token_url"], cfg["client_id"], cfg["scopes"]

    def _token(self, refresh: bool = False, stale: str | None = None) -> str:
        key = self._token_key()
        with _TOKEN_LOCK:
            cached = _TOKENS.get(key)
            if cached and (refresh and cached[0] == stale):
                _TOKENS.pop(key, None)
                cached = None
            if cached and cached[1] > time.monotonic():
                return cached[0]
            if self._shared is None:
                token, lifetime = self._fetch_token()
            else:
                token, lifetime = self._shared_token(key, stale if refresh else None)
            _TOKENS[key] = (token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN))
            return token

    def _shared_token(self, key: tuple[str, str, str], stale: str | None) -> tuple[str, float]:
        """The machine's shared token, fetched by whichever process finds none valid."""
        assert self._shared is not None
        name = SharedTokenFile.key(key)
        with self._shared.locked() as entries:
            entry = entries.get(name)
            remaining = (entry or {}).get("expires_at", 0) - time.time()
            if entry and entry.get("token") != stale and remaining > TOKEN_MARGIN:
                return entry["token"], remaining
            token, lifetime = self._fetch_token()
            entries[name] = {"token": token, "expires_at": time.time() + lifetime}
            return token, lifetime

    def _fetch_token(self) -> tuple[str, float]:
        cfg = self._config()
        form = {"grant_type": "client_credentials", "client_id": cfg["client_id"],
                "client_secret": cfg["client_secret"]}
        if cfg["scopes"]:
            form["scope"] = cfg["scopes"]
        response = self._send("POST", cfg["token_url"], ("POST", "/oauth/token"), data=form,
                              authorized=False)
        body = response.json()
        token = body.get("access_token")
        if not token:
            raise SourceError(response.status_code, "token response without access_token",
                              route="/oauth/token")
        return str(token), float(body.get("expires_in") or 3600)

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, url: str, key: tuple[str, str], *,
              params: dict[str, Any] | None = None, data: dict[str, str] | None = None,
              authorized: bool = True) -> requests.Response:
        """One request with retries; 404 is returned to the caller, other 4xx raise."""
        session = self._get_session()
        attempt = 0
        refreshed = False
        token = self._token() if authorized else None
        while True:
            attempt += 1
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            with self._lock:
                self.calls[key] += 1
            try:
                response = session.request(method, url, params=params, data=data,
                                           headers=headers, timeout=self.timeout)
            except TRANSIENT_EXCEPTIONS as exc:
                if attempt >= self.max_attempts:
                    raise SourceError(0, f"{type(exc).__name__} after {attempt} attempts",
                                      route=key[1]) from exc
                self._sleep(self.backoff.delay(attempt))
                continue
            status = response.status_code
            if status < 400 or status == 404:
                return response
            if status == 401 and authorized and not refreshed:
                refreshed = True
                attempt -= 1  # a refresh is not a failed attempt
                token = self._token(refresh=True, stale=token)
                continue
            if status == 429:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                wait = self.backoff.delay(attempt) if wait is None else wait
            elif status in RETRY_STATUSES:
                wait = self.backoff.delay(attempt)
            else:
                wait = None
            if wait is None or attempt >= self.max_attempts:
                raise SourceError(status, _message(response), route=key[1])
            log.warning("OfficeRnD %s %s -> %s; retry %d in %.2f s", method, key[1], status,
                        attempt, wait)
            self._sleep(wait)

    def _url(self, path: str) -> str:
        cfg = self._config()
        return f"{cfg['api_base']}{path}"

    def _pages(self, resource: str, params: dict[str, Any]) -> Iterator[dict]:
        params = {**params, "$limit": PAGE_LIMIT}
        cursor: str | None = None
        while True:
            if cursor:
                params["$cursorNext"] = cursor
            response = self._send("GET", self._url(f"/{resource}"), ("GET", f"/{resource}"),
                                  params=params)
            if response.status_code == 404:
                raise SourceError(404, f"unknown resource {resource!r}", route=f"/{resource}")
            body = response.json()
            records = body.get("results", []) if isinstance(body, dict) else body
            yield from records
            cursor = body.get("cursorNext") if isinstance(body, dict) else None
            if not cursor or not records:
                return

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
        for record in self._pages(resource, params):
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
                for record in self._pages(resource, {}):
                    self._remember(resource, record)
                self._scanned.add(resource)
            else:
                for rid in missing:
                    response = self._send("GET", self._url(f"/{resource}/{rid}"),
                                          ("GET", f"/{resource}/{{id}}"))
                    if response.status_code != 404:
                        self._remember(resource, response.json())
        return {i: cache[i] for i in wanted if i in cache}

    def _remember(self, resource: str, record: Any) -> None:
        if isinstance(record, dict) and record.get("_id") is not None:
            self._cache.setdefault(resource, {})[str(record["_id"])] = record


def _settings(base_url: str, client_id: str, client_secret: str, org_slug: str,
              token_url: str, scopes: str | Iterable[str] | None) -> dict[str, str]:
    base = base_url.rstrip("/")
    api_base = base if "/api/v2/organizations/" in base else \
        f"{base}/api/v2/organizations/{org_slug}"
    if scopes and not isinstance(scopes, str):
        scopes = " ".join(scopes)
    return {"api_base": api_base, "client_id": client_id, "client_secret": client_secret,
            "token_url": token_url, "scopes": scopes or "", "org_slug": org_slug}


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error_description") or body.get("error")
                   or body)[:300]
    return str(body)[:300]

"""OfficeRnD OAuth2 client credentials, with a token shared by a machine's processes.

The token endpoint allows 5 calls a minute, so tokens live in a process-wide cache keyed
by (token_url, client_id, scopes) until shortly before they expire, backed by a file under
``$AIRFLOW_HOME/.cache`` (mode 0600, ``flock``-guarded, hashed keys) so that the task
processes of a machine share one token: six entity DAGs starting at the same minute fetch
one token, not six.

No lock is held while sleeping: each attempt takes the locks, re-reads the caches (another
process may have fetched a token meanwhile), sends at most one token request and releases
them; a wait before the next attempt (429 ``Retry-After``, backoff) happens outside.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from hubspot_sync.sources.base import SourceError
from hubspot_sync.sources.officernd.http import OfficeRnDHttp, error, transport_error
from hubspot_sync.transport import Retry, TransportError, json_body

TOKEN_MARGIN = 60.0          # refresh this many seconds before the token expires
TOKEN_ROUTE = "/oauth/token"

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
                    # Written out before the lock goes: the next process must read it.
                    handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


Fetched = tuple[str, float]  # (access token, lifetime in seconds)


class OfficeRnDAuthenticator:
    """Bearer tokens for one set of credentials (``config()`` gives token_url, client_id,
    client_secret, scopes)."""

    def __init__(self, http: OfficeRnDHttp, config: Callable[[], dict[str, str]],
                 shared: SharedTokenFile | None) -> None:
        self.http = http
        self.config = config
        self.shared = shared

    def token(self, stale: str | None = None) -> str:
        """A valid token; ``stale`` is one the API just refused (never returned again)."""
        cfg = self.config()
        key = (cfg["token_url"], cfg["client_id"], cfg["scopes"])

        def attempt(n: int) -> str | Retry:
            with _TOKEN_LOCK:
                cached = _TOKENS.get(key)
                if cached and cached[0] != stale and cached[1] > time.monotonic():
                    return cached[0]
                got = self._fetch(n) if self.shared is None else \
                    self._shared_token(key, stale, n)
                if isinstance(got, Retry):
                    return got  # the locks are released before the retrier sleeps
                token, lifetime = got
                _TOKENS[key] = (token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN))
                return token

        try:
            result = self.http.retrier.run(attempt, f"OfficeRnD POST {TOKEN_ROUTE}")
        except TransportError as exc:
            raise transport_error(exc, TOKEN_ROUTE) from exc
        if isinstance(result, requests.Response):  # retryable to the last attempt
            raise error(result, TOKEN_ROUTE)
        return result

    def _shared_token(self, key: tuple[str, str, str], stale: str | None,
                      n: int) -> Fetched | Retry:
        """The machine's shared token, fetched by whichever process finds none valid."""
        assert self.shared is not None
        name = SharedTokenFile.key(key)
        with self.shared.locked() as entries:
            entry = entries.get(name)
            remaining = (entry or {}).get("expires_at", 0) - time.time()
            if entry and entry.get("token") != stale and remaining > TOKEN_MARGIN:
                return entry["token"], remaining
            got = self._fetch(n)
            if not isinstance(got, Retry):
                entries[name] = {"token": got[0], "expires_at": time.time() + got[1]}
            return got

    def _fetch(self, n: int) -> Fetched | Retry:
        """One token request (attempt ``n``)."""
        cfg = self.config()
        form = {"grant_type": "client_credentials", "client_id": cfg["client_id"],
                "client_secret": cfg["client_secret"]}
        if cfg["scopes"]:
            form["scope"] = cfg["scopes"]
        response = self.http.attempt("POST", cfg["token_url"], ("POST", TOKEN_ROUTE), n,
                                     data=form)
        if isinstance(response, Retry):
            return response
        if response.status_code >= 400:
            raise error(response, TOKEN_ROUTE)
        try:
            body = json_body(response)
        except ValueError as exc:
            raise SourceError(response.status_code, str(exc), route=TOKEN_ROUTE) from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise SourceError(response.status_code, "token response without access_token",
                              route=TOKEN_ROUTE)
        return str(token), float(body.get("expires_in") or 3600)

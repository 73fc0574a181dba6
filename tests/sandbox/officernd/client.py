"""A small OfficeRnD Flex API v2 client written the way the reference documents it.

OAuth2 client credentials (form POST to /oauth/token), Bearer token cached ~1 h and
refreshed once on 401, cursor paging with ``$limit`` 50 and ``$cursorNext`` until null,
429 handled by sleeping Retry-After. Used by the contract tests; deliberately independent
of the sandbox's code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests


class OfficeRnDClient:
    def __init__(self, root_url: str, org: str, client_id: str, client_secret: str,
                 scopes: list[str] | None = None, max_retry_sleep: float = 5.0) -> None:
        self.token_url = f"{root_url}/oauth/token"
        self.base = f"{root_url}/api/v2/organizations/{org}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.max_retry_sleep = max_retry_sleep
        self.session = requests.Session()
        self._token: str | None = None
        self._token_expires = 0.0
        self.calls = 0

    def token(self, force: bool = False) -> str:
        if force or self._token is None or time.monotonic() >= self._token_expires - 60:
            data = {"client_id": self.client_id, "client_secret": self.client_secret,
                    "grant_type": "client_credentials"}
            if self.scopes:
                data["scope"] = " ".join(self.scopes)
            resp = self.session.post(self.token_url, data=data, timeout=10)
            resp.raise_for_status()
            body = resp.json()
            self._token = body["access_token"]
            self._token_expires = time.monotonic() + body["expires_in"]
        return self._token

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        refreshed = False
        for _ in range(10):
            self.calls += 1
            resp = self.session.get(f"{self.base}/{path}", params=params, timeout=30,
                                    headers={"Authorization": f"Bearer {self.token()}"})
            if resp.status_code == 401 and not refreshed:
                self.token(force=True)
                refreshed = True
                continue
            if resp.status_code == 429:
                time.sleep(min(float(resp.headers.get("Retry-After", "1")), self.max_retry_sleep))
                continue
            resp.raise_for_status()
            return resp.json()
        raise RuntimeError(f"gave up on {path}")

    def pages(self, resource: str, params: dict[str, Any] | None = None,
              limit: int = 50) -> Iterator[dict]:
        params = dict(params or {})
        params["$limit"] = limit
        while True:
            page = self.get(resource, params)
            yield page
            if page["cursorNext"] is None:
                return
            params["$cursorNext"] = page["cursorNext"]

    def iter(self, resource: str, params: dict[str, Any] | None = None,
             limit: int = 50) -> Iterator[dict]:
        for page in self.pages(resource, params, limit):
            yield from page["results"]

    def all(self, resource: str, params: dict[str, Any] | None = None) -> list[dict]:
        return list(self.iter(resource, params))

    def count(self, resource: str, params: dict[str, Any] | None = None) -> dict:
        return self.get(f"{resource}/count", params)

    def modified_between(self, resource: str, start: str, end: str) -> list[dict]:
        return self.all(resource, {"modifiedAt[$gte]": start, "modifiedAt[$lt]": end})

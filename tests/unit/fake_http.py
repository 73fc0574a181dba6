"""An in-memory ``requests`` transport for unit tests: no socket, no thread.

``FakeHTTP(handler)`` is a transport adapter; mount it on a client's session and every
request goes to ``handler(method, path, query, body) -> (status, headers, payload)``
instead of the network. ``payload`` is JSON-encoded unless it is ``bytes`` (sent as is, for
HTML or truncated bodies); a handler may raise ``requests`` exceptions (ConnectionError,
ReadTimeout) to stand for network failures. Requests are recorded like a server log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Reply = tuple[int, dict[str, str], Any]
Handler = Callable[[str, str, dict, Any], Reply]


class FakeHTTP(BaseAdapter):
    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[dict] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        raw = request.body or b""
        text = raw.decode() if isinstance(raw, bytes) else raw
        content_type = request.headers.get("Content-Type", "")
        if "json" in content_type:
            body: Any = json.loads(text) if text else None
        else:
            body = parse_qs(text) if text else None
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append({"method": request.method, "path": parts.path, "query": query,
                              "body": body, "headers": dict(request.headers)})
        status, headers, payload = self.handler(request.method or "GET", parts.path, query,
                                                body)
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        if isinstance(payload, bytes):
            response._content = payload
        else:
            response._content = b"" if payload is None else json.dumps(payload).encode()
            response.headers.setdefault("Content-Type", "application/json")
        response.url = request.url or ""
        response.request = request
        response.reason = "fake"
        return response

    def close(self) -> None:
        return None

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)


class Sleeps(list):
    """A fake sleep that records the waits asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def scripted(replies: list[Reply], then: Reply = (200, {}, {"results": []})) -> Handler:
    """Reply from a queue, then always ``then``."""
    queue = list(replies)

    def handler(method: str, path: str, query: dict, body: Any) -> Reply:
        return queue.pop(0) if queue else then

    return handler

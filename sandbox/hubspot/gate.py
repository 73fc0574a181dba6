"""What HubSpot does in front of the CRM, as an outer ASGI app around the FastAPI routes:
bearer-token auth, rate limits and their headers, injected faults, and request statistics
by route template. ``/_sandbox/*`` skips all of that.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.routing import Match

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSandbox

AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview")


class SandboxGate:
    """Outer ASGI app: auth, rate limits, faults and stats around the FastAPI routes."""

    def __init__(self, app: FastAPI, sb: HubSpotSandbox) -> None:
        self.app = app
        self.sb = sb

    def _route(self, scope: dict) -> str:
        partial = None
        for route in self.app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", scope["path"])
            if match == Match.PARTIAL and partial is None:
                partial = getattr(route, "path", None)
        return partial or scope["path"]

    async def _send_json(self, send: Any, status: int, body: Any,
                         headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        raw = [(b"content-type", b"application/json;charset=utf-8"),
               (b"content-length", str(len(data)).encode())]
        raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        sb = self.sb
        method = scope["method"]
        route = self._route(scope)

        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token or token != sb.token:
            sb._stats.record(method, route, 401)
            await self._send_json(send, 401, {
                "status": "error", "message": AUTH_MESSAGE,
                "correlationId": _uuid(), "category": "INVALID_AUTHENTICATION"},
                {"X-HubSpot-Auth-Failure": "401 Unauthorized"})
            return

        is_search = method == "POST" and route.endswith("/search")
        limited, rl_headers = sb.limiter.check(token, is_search)
        if limited is not None:
            sb._stats.record(method, route, 429)
            await self._send_json(send, 429, limited, rl_headers)
            return

        faults = sb.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        action, status = faults.decide()
        if action == "drop":
            sb._stats.record(method, route, 0)
            await _drop_connection(send)
            return
        if action == "error":
            sb._stats.record(method, route, status)
            await self._send_json(send, status, {
                "status": "error", "message": "Injected fault: the sandbox answered "
                f"{status} on purpose", "correlationId": _uuid(),
                "category": "SANDBOX_FAULT"}, rl_headers)
            return

        seen: dict[str, int] = {}
        extra = [(k.encode(), v.encode()) for k, v in rl_headers.items()]

        async def wrapped_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                if extra:
                    message = dict(message)
                    message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            sb._stats.record(method, route, seen.get("status", 500))


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


async def _drop_connection(send: Any) -> None:
    """Close the client connection without any response (uvicorn's transport)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: connection dropped")
    transport.abort()
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True
    for _ in range(3):
        await asyncio.sleep(0)

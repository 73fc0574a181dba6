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

from sandbox.hubspot.faults import LOST_HTML_STATUS, LOST_KINDS
from sandbox.hubspot.models.errors import HubSpotError

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
        await _send(send, status, json.dumps(body).encode(), b"application/json;charset=utf-8",
                    [(k.encode(), v.encode()) for k, v in (headers or {}).items()])

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
            await self._send_json(
                send, 401, HubSpotError(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE).body(),
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
            await faults.latency.wait()  # an async sleep: concurrent requests overlap
        kind, status = faults.decide()
        if kind == "drop":
            faults.count(kind)
            sb._stats.record(method, route, 0)
            await _drop_connection(send)
            return
        if kind == "error":
            faults.count(kind)
            sb._stats.record(method, route, status)
            await self._send_json(send, status, _fault_body(status, applied=False), rl_headers)
            return

        extra = [(k.encode(), v.encode()) for k, v in rl_headers.items()]
        if kind is not None:
            await self._after_route(kind, status, scope, receive, send, extra, route)
            return

        seen: dict[str, int] = {}

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

    async def _after_route(self, kind: str, status: int | None, scope: dict, receive: Any,
                           send: Any, extra: list[tuple[bytes, bytes]], route: str) -> None:
        """Run the route (a write is applied), then lose, hold or cut its answer."""
        sb, method = self.sb, scope["method"]
        start: dict[str, Any] = {}
        body = bytearray()

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        except Exception:
            sb._stats.record(method, route, 500)  # uvicorn answers 500 (nothing was sent)
            raise
        answered = int(start.get("status", 500))
        if kind in LOST_KINDS:
            sb.faults.count(kind)
            code = 0 if kind == "lost_drop" else int(status or LOST_HTML_STATUS)
            sb._stats.record(method, route, code)
            if kind == "lost_drop":
                await _drop_connection(send)
            elif kind == "lost_html":
                await _send(send, code, GATEWAY_PAGE, b"text/html; charset=utf-8", extra)
            else:
                await self._send_json(send, code, _fault_body(code, applied=True),
                                      {k.decode(): v.decode() for k, v in extra})
            return
        if kind == "hang":
            sb.faults.count(kind)
            await _hold(receive, sb.faults.hang_s)
        elif kind == "truncate" and 200 <= answered < 300 and body:
            # only a 2xx with a body can be cut; any other answer goes out whole, uncounted
            sb.faults.count(kind)
            del body[max(1, len(body) // 2):]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        sb._stats.record(method, route, answered)
        await send({"type": "http.response.start", "status": answered, "headers": headers
                    + extra + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": bytes(body)})


# What a gateway in front of HubSpot (Cloudflare) answers when the origin's answer is lost.
GATEWAY_PAGE = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>"
                b"\r\n</body>\r\n</html>\r\n")


def _fault_body(status: int, *, applied: bool) -> dict:
    when = "after applying the request" if applied else "on purpose"
    return HubSpotError(status, "SANDBOX_FAULT",
                        f"Injected fault: the sandbox answered {status} {when}").body()


async def _send(send: Any, status: int, data: bytes, content_type: bytes,
                extra: list[tuple[bytes, bytes]]) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw + extra})
    await send({"type": "http.response.body", "body": data})


async def _hold(receive: Any, seconds: float) -> None:
    """Wait ``seconds`` before answering, or less if the client gives up (it timed out: no
    one is left to answer, and a stopping server need not wait for the full hang)."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            continue

    waiter = asyncio.ensure_future(disconnected())
    await asyncio.wait({waiter}, timeout=seconds)
    waiter.cancel()


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

"""FastAPI routes of the OfficeRnD sandbox: translation between HTTP and :mod:`state` only.

Errors are raised as :class:`ApiError` and rendered by the one handler that
``install_error_handler`` registers, so no route catches them itself.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox._errors import install_error_handler
from sandbox._stats import RequestStats
from sandbox.officernd.collection import to_json
from sandbox.officernd.errors import ApiError
from sandbox.officernd.faults import Faults, LatencyMiddleware
from sandbox.officernd.limits import TOO_MANY, Limits
from sandbox.officernd.state import State

API = "/api/v2/organizations/{slug}"


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(payload).encode("utf-8"), status_code=status,
                    media_type="application/json", headers=headers)


class _StatsMiddleware:
    def __init__(self, app: Any, stats: RequestStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            self.stats.record(scope["method"], getattr(route, "path", "<unmatched>"),
                              status["code"])


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "body must be JSON") from exc


async def _body_json(request: Request) -> dict:
    data = await _body(request)
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def create_app(state: State, limits: Limits, faults: Faults) -> FastAPI:
    """The sandbox's ASGI app over ``state`` with ``limits`` and injected ``faults``."""
    app = FastAPI(title="OfficeRnD Flex API v2 sandbox", docs_url="/_sandbox/docs",
                  openapi_url="/_sandbox/openapi.json", redoc_url=None)
    stats = RequestStats()
    app.state.sandbox_state = state
    app.state.limits = limits
    app.state.faults = faults
    app.state.stats = stats
    app.add_middleware(_StatsMiddleware, stats=stats)
    app.add_middleware(LatencyMiddleware, faults=faults)  # outermost: waits before the stats
    install_error_handler(app)

    def guarded_read(request: Request, slug: str, resource: str) -> None:
        token = state.auth.authenticate(request.headers.get("authorization"))
        retry = limits.reads.hit()
        if retry is not None:
            raise ApiError(429, TOO_MANY, headers={"Retry-After": str(retry)})
        state.check_org(slug)
        state.coll(resource)
        state.auth.authorize(token, resource)

    def guarded_write(request: Request, slug: str, resource: str, action: str) -> None:
        token = state.auth.authenticate(request.headers.get("authorization"))
        retry = limits.reads.hit()  # v2 limits "read and write operations" alike
        if retry is not None:
            raise ApiError(429, TOO_MANY, headers={"Retry-After": str(retry)})
        state.check_org(slug)
        state.check_writable(resource, request.method)
        state.auth.authorize(token, resource, action)

    # ---------------------------------------------------------------- OAuth
    @app.post("/oauth/token")
    async def token(request: Request) -> Response:
        retry = limits.tokens.hit()
        if retry is not None:
            raise ApiError(429, TOO_MANY, headers={"Retry-After": str(retry)},
                           body={"message": TOO_MANY})
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"),
                              keep_blank_values=True))
        granted = state.auth.issue(form.get("client_id"), form.get("client_secret"),
                                   form.get("grant_type"), form.get("scope"))
        return _json(granted, headers={"Cache-Control": "no-store"})

    # ---------------------------------------------------------------- reads
    @app.get(API + "/{resource}")
    def list_records(request: Request, slug: str, resource: str) -> Response:
        guarded_read(request, slug, resource)
        params = dict(request.query_params)
        return _json(faults.loop_cursor(resource, params, state.list(resource, params)))

    @app.get(API + "/{resource}/count")
    def count_records(request: Request, slug: str, resource: str) -> Response:
        guarded_read(request, slug, resource)
        return _json(state.count(resource, dict(request.query_params)))

    @app.get(API + "/{resource}/{rid}")
    def get_record(request: Request, slug: str, resource: str, rid: str) -> Response:
        guarded_read(request, slug, resource)
        return _json(state.get(resource, rid, request.query_params.get("$select")))

    @app.get(API + "/resources/{rid}/status")
    def resource_status(request: Request, slug: str, rid: str) -> Response:
        guarded_read(request, slug, "resources")
        state.get("resources", rid)
        return _json({"_id": rid, "status": "available", "ownStatus": "available"})

    # ---------------------------------------------------------------- writes
    @app.post(API + "/{resource}")
    async def create_record(request: Request, slug: str, resource: str) -> Response:
        guarded_write(request, slug, resource, "create")
        return _json(state.api_create(resource, await _body_json(request)), 201)

    @app.put(API + "/{resource}/{rid}")
    async def put_record(request: Request, slug: str, resource: str, rid: str) -> Response:
        guarded_write(request, slug, resource, "update")
        return _json(state.api_update(resource, rid, await _body_json(request)))

    @app.patch(API + "/{resource}/{rid}")
    async def patch_api_record(request: Request, slug: str, resource: str,
                               rid: str) -> Response:
        guarded_write(request, slug, resource, "update")
        return _json(state.api_update(resource, rid, await _body_json(request)))

    # ---------------------------------------------------------------- sandbox control
    @app.post("/_sandbox/mutate")
    async def mutate(request: Request) -> Response:
        body = await _body_json(request)
        return _json(state.mutate(
            resource=body.get("resource", "members"), update=body.get("update", 0),
            create=body.get("create", 0), delete=body.get("delete", 0),
            seed=body.get("seed")))

    @app.patch("/_sandbox/records/{resource}/{rid}")
    async def patch_record(request: Request, resource: str, rid: str) -> Response:
        return _json(state.patch_record(resource, rid, await _body_json(request)))

    @app.post("/_sandbox/records/{resource}")
    async def insert_record(request: Request, resource: str) -> Response:
        return _json(state.insert_record(resource, await _body_json(request)), 201)

    @app.post("/_sandbox/records/{resource}/raw")
    async def insert_raw(request: Request, resource: str) -> Response:
        body = await _body(request)
        records = body if isinstance(body, list) else [body]
        if not all(isinstance(r, dict) for r in records):
            raise ApiError(400, "body must be a JSON object or a list of JSON objects")
        return _json({"keys": state.insert_raw(resource, records)}, 201)

    @app.delete("/_sandbox/records/{resource}/{rid}")
    def delete_record(resource: str, rid: str) -> Response:
        state.delete_record(resource, rid)
        return _json({"deleted": [rid]})

    @app.get("/_sandbox/clock")
    def get_clock() -> Response:
        return _json({"now": state.now_str()})

    @app.post("/_sandbox/clock")
    async def clock(request: Request) -> Response:
        body = await _body_json(request)
        if body.get("set") is not None:
            try:
                now = state.set_clock(str(body["set"]))
            except ValueError as exc:
                raise ApiError(400, f"invalid date: {body['set']!r}") from exc
        elif body.get("advance_seconds") is not None:
            try:
                now = state.advance_clock(float(body["advance_seconds"]))
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "advance_seconds must be a number") from exc
        else:
            now = state.now_str()
        return _json({"now": now})

    @app.get("/_sandbox/stats")
    def get_stats() -> Response:
        return _json({**stats.snapshot(), "writes": state.write_counts,
                      "records": state.record_counts(),
                      "now": state.now_str(), "limits": limits.describe(),
                      "tokens": len(state.tokens)})

    @app.post("/_sandbox/stats/reset")
    def reset_stats() -> Response:
        stats.reset()
        state.write_counts.clear()
        return _json({"ok": True})

    @app.post("/_sandbox/reset")
    def reset() -> Response:
        state.reset()
        limits.clear()
        faults.clear()
        return _json({"ok": True, "now": state.now_str(), "records": state.record_counts()})

    @app.get("/_sandbox/anomalies")
    def anomalies() -> Response:
        return _json(state.anomalies())

    @app.post("/_sandbox/tokens/expire")
    def expire_tokens() -> Response:
        return _json({"expired": state.expire_tokens()})

    @app.get("/_sandbox/faults")
    def get_faults() -> Response:
        return _json(faults.describe())

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> Response:
        body = await _body_json(request)
        return _json(faults.configure(
            cursor_loop=body.get("cursor_loop"), latency_ms=body.get("latency_ms"),
            latency_p95_ms=body.get("latency_p95_ms"), seed=body.get("seed")))

    @app.post("/_sandbox/limits")
    async def set_limits(request: Request) -> Response:
        body = await _body_json(request)
        if "rate_limit" in body:
            limits.reads.set_limit(int(body["rate_limit"]))
        if "token_rate_limit" in body:
            limits.tokens.set_limit(int(body["token_rate_limit"]))
        if body.get("clear"):
            limits.clear()
        return _json(limits.describe())

    return app

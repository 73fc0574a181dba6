"""HTTP layer of the HubSpot sandbox: FastAPI routes that translate HTTP <-> state calls.

Model errors (``HubSpotError``) reach HTTP through the one handler of ``sandbox._errors``;
no route catches them. Auth, rate limits, faults and stats are done in front of these
routes by :class:`sandbox.hubspot.gate.SandboxGate`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox._errors import install_error_handler
from sandbox.hubspot.faults import FaultSettingsError
from sandbox.hubspot.models.errors import validation_error

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSandbox

def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def _body(request: Request, default: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if default is not None:
            return default
        raise validation_error("Invalid input JSON: request body is empty")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise validation_error(f"Invalid input JSON on line 1: {exc}") from exc


def _list_param(request: Request, name: str) -> list[str] | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    out = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return out


def _bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise validation_error(f"Invalid value for {name}: {raw}") from exc


def create_app(sb: HubSpotSandbox) -> FastAPI:
    app = FastAPI(title="HubSpot CRM sandbox", docs_url="/_sandbox/docs",
                  openapi_url="/_sandbox/openapi.json", redoc_url=None)
    state = sb.state

    install_error_handler(app)

    def refuse():
        return sb.faults.refusal if sb.faults.refuse_rules else None

    # ------------------------------------------------------------------ sandbox control

    @app.get("/_sandbox/stats")
    async def stats() -> Response:
        return _json(200, sb.stats())

    @app.post("/_sandbox/reset")
    async def reset() -> Response:
        sb.reset()
        return _json(200, {"status": "reset"})

    @app.get("/_sandbox/faults")
    async def get_faults() -> Response:
        return _json(200, sb.faults.describe())

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> Response:
        try:
            cfg = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise FaultSettingsError(f"body is not JSON: {exc}") from exc
        if not isinstance(cfg, dict):
            raise FaultSettingsError("body must be a JSON object")
        return _json(200, sb.faults.configure(cfg))

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> Response:
        sb.faults.clear()
        return Response(status_code=204)

    @app.get("/_sandbox/faults/injected")
    async def faults_injected() -> Response:
        return _json(200, sb.faults.injected())

    @app.delete("/_sandbox/faults/injected")
    async def reset_faults_injected() -> Response:
        sb.faults.reset_counts()
        return Response(status_code=204)

    # a person's edits in the HubSpot UI (history sourceType CRM_UI), for tests
    @app.post("/_sandbox/user-edit/{objectType}/{objectId}")
    async def user_edit(objectType: str, objectId: str, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise validation_error('Invalid input JSON: {"properties": {...}} is required')
        return _json(200, sb.user_edit(objectType, objectId, body["properties"]))

    @app.post("/_sandbox/user-create/{objectType}")
    async def user_create(objectType: str, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON")
        return _json(201, sb.user_create(objectType, body.get("properties") or {},
                                         body.get("associations") or []))

    @app.get("/_sandbox/health")
    async def health() -> Response:
        return _json(200, {"status": "ok"})

    # ------------------------------------------------------------------ objects

    base = "/crm/v3/objects/{objectType}"

    @app.get(base)
    async def list_objects(objectType: str, request: Request) -> Response:
        return _json(200, state.list_objects(
            objectType, limit=_int_param(request, "limit", 10),
            after=request.query_params.get("after") or None,
            properties=_list_param(request, "properties"),
            archived=_bool_param(request, "archived"),
            associations=_list_param(request, "associations"),
            base_url=str(request.base_url).rstrip("/"),
            properties_with_history=_list_param(request, "propertiesWithHistory")))

    @app.post(base)
    async def create_object(objectType: str, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON")
        return _json(201, state.create_object(objectType, body.get("properties") or {},
                                              body.get("associations") or []))

    @app.post(base + "/search")
    async def search(objectType: str, request: Request) -> Response:
        return _json(200, state.search(objectType, await _body(request, {})))

    @app.post(base + "/merge")
    async def merge(objectType: str, request: Request) -> Response:
        body = await _body(request)
        return _json(200, state.merge(objectType, str(body.get("primaryObjectId", "")),
                                      str(body.get("objectIdToMerge", ""))))

    @app.post(base + "/batch/read")
    async def batch_read(objectType: str, request: Request) -> Response:
        status, out = state.batch_read(objectType, await _body(request),
                                       archived=_bool_param(request, "archived"))
        return _json(status, out)

    @app.post(base + "/batch/create")
    async def batch_create(objectType: str, request: Request) -> Response:
        status, out = state.batch_create(objectType, await _body(request), refuse())
        return _json(status, out)

    @app.post(base + "/batch/update")
    async def batch_update(objectType: str, request: Request) -> Response:
        status, out = state.batch_update(objectType, await _body(request), refuse())
        return _json(status, out)

    @app.post(base + "/batch/upsert")
    async def batch_upsert(objectType: str, request: Request) -> Response:
        status, out = state.batch_upsert(objectType, await _body(request), refuse())
        return _json(status, out)

    @app.post(base + "/batch/archive")
    async def batch_archive(objectType: str, request: Request) -> Response:
        state.batch_archive(objectType, await _body(request))
        return Response(status_code=204)

    @app.get(base + "/{objectId}")
    async def get_object(objectType: str, objectId: str, request: Request) -> Response:
        return _json(200, state.get_object(
            objectType, objectId, id_property=request.query_params.get("idProperty") or None,
            properties=_list_param(request, "properties"),
            archived=_bool_param(request, "archived"),
            associations=_list_param(request, "associations"),
            properties_with_history=_list_param(request, "propertiesWithHistory")))

    @app.patch(base + "/{objectId}")
    async def update_object(objectType: str, objectId: str, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON")
        return _json(200, state.update_object(
            objectType, objectId, body.get("properties") or {},
            id_property=request.query_params.get("idProperty") or None))

    @app.delete(base + "/{objectId}")
    async def archive_object(objectType: str, objectId: str) -> Response:
        state.archive_object(objectType, objectId)
        return Response(status_code=204)

    # ------------------------------------------------------------------ properties

    pbase = "/crm/v3/properties/{objectType}"

    @app.get(pbase)
    async def list_properties(objectType: str, request: Request) -> Response:
        out = state.list_properties(objectType, archived=_bool_param(request, "archived"))
        wanted = _list_param(request, "properties")
        if wanted:
            out["results"] = [p for p in out["results"] if p["name"] in wanted]
        return _json(200, out)

    @app.post(pbase)
    async def create_property(objectType: str, request: Request) -> Response:
        out = state.create_property(objectType, await _body(request))
        return _json(201, out, {"Location": f"{request.url.path}/{out['name']}"})

    @app.post(pbase + "/batch/read")
    async def batch_read_properties(objectType: str, request: Request) -> Response:
        status, out = state.batch_read_properties(objectType, await _body(request))
        return _json(status, out)

    @app.post(pbase + "/batch/create")
    async def batch_create_properties(objectType: str, request: Request) -> Response:
        status, out = state.batch_create_properties(objectType, await _body(request))
        return _json(status, out)

    @app.post(pbase + "/batch/archive")
    async def batch_archive_properties(objectType: str, request: Request) -> Response:
        state.batch_archive_properties(objectType, await _body(request))
        return Response(status_code=204)

    @app.get(pbase + "/groups")
    async def list_groups(objectType: str) -> Response:
        return _json(200, state.list_groups(objectType))

    @app.post(pbase + "/groups")
    async def create_group(objectType: str, request: Request) -> Response:
        return _json(201, state.create_group(objectType, await _body(request)))

    @app.get(pbase + "/groups/{groupName}")
    async def get_group(objectType: str, groupName: str) -> Response:
        return _json(200, state.get_group(objectType, groupName))

    @app.patch(pbase + "/groups/{groupName}")
    async def update_group(objectType: str, groupName: str, request: Request) -> Response:
        return _json(200, state.update_group(objectType, groupName, await _body(request)))

    @app.delete(pbase + "/groups/{groupName}")
    async def archive_group(objectType: str, groupName: str) -> Response:
        state.archive_group(objectType, groupName)
        return Response(status_code=204)

    @app.get(pbase + "/{propertyName}")
    async def get_property(objectType: str, propertyName: str, request: Request) -> Response:
        return _json(200, state.get_property(objectType, propertyName,
                                             archived=_bool_param(request, "archived")))

    @app.patch(pbase + "/{propertyName}")
    async def update_property(objectType: str, propertyName: str, request: Request) -> Response:
        return _json(200, state.update_property(objectType, propertyName, await _body(request)))

    @app.delete(pbase + "/{propertyName}")
    async def archive_property(objectType: str, propertyName: str) -> Response:
        state.archive_property(objectType, propertyName)
        return Response(status_code=204)

    # ------------------------------------------------------------------ pipelines

    @app.get("/crm/v3/pipelines/{objectType}")
    async def list_pipelines(objectType: str) -> Response:
        return _json(200, state.list_pipelines(objectType))

    @app.get("/crm/v3/pipelines/{objectType}/{pipelineId}")
    async def get_pipeline(objectType: str, pipelineId: str) -> Response:
        return _json(200, state.get_pipeline(objectType, pipelineId))

    @app.get("/crm/v3/pipelines/{objectType}/{pipelineId}/stages")
    async def list_stages(objectType: str, pipelineId: str) -> Response:
        return _json(200, {"results": state.get_pipeline(objectType, pipelineId)["stages"]})

    # ------------------------------------------------------------------ associations v4

    abase = "/crm/v4/associations/{fromObjectType}/{toObjectType}"

    @app.post(abase + "/batch/create")
    async def assoc_batch_create(fromObjectType: str, toObjectType: str,
                                 request: Request) -> Response:
        status, out = state.assoc_batch_create(fromObjectType, toObjectType,
                                               await _body(request))
        return _json(status, out)

    @app.post(abase + "/batch/associate/default")
    async def assoc_batch_default(fromObjectType: str, toObjectType: str,
                                  request: Request) -> Response:
        status, out = state.assoc_batch_default(fromObjectType, toObjectType,
                                                await _body(request))
        return _json(status, out)

    @app.post(abase + "/batch/read")
    async def assoc_batch_read(fromObjectType: str, toObjectType: str,
                               request: Request) -> Response:
        status, out = state.assoc_batch_read(fromObjectType, toObjectType, await _body(request))
        return _json(status, out)

    @app.post(abase + "/batch/archive")
    async def assoc_batch_archive(fromObjectType: str, toObjectType: str,
                                  request: Request) -> Response:
        state.assoc_batch_archive(fromObjectType, toObjectType, await _body(request))
        return Response(status_code=204)

    @app.post(abase + "/batch/labels/archive")
    async def assoc_batch_labels_archive(fromObjectType: str, toObjectType: str,
                                         request: Request) -> Response:
        state.assoc_batch_labels_archive(fromObjectType, toObjectType, await _body(request))
        return Response(status_code=204)

    @app.get(abase + "/labels")
    async def assoc_labels(fromObjectType: str, toObjectType: str) -> Response:
        return _json(200, state.assoc_labels(fromObjectType, toObjectType))

    obase = "/crm/v4/objects/{objectType}/{objectId}/associations"

    @app.put(obase + "/default/{toObjectType}/{toObjectId}")
    async def assoc_put_default(objectType: str, objectId: str, toObjectType: str,
                                toObjectId: str) -> Response:
        return _json(200, state.assoc_put_default(objectType, objectId, toObjectType,
                                                  toObjectId))

    @app.get(obase + "/{toObjectType}")
    async def assoc_list(objectType: str, objectId: str, toObjectType: str,
                         request: Request) -> Response:
        return _json(200, state.assoc_list(
            objectType, objectId, toObjectType, limit=_int_param(request, "limit", 500),
            after=request.query_params.get("after") or None))

    @app.put(obase + "/{toObjectType}/{toObjectId}")
    async def assoc_put_labels(objectType: str, objectId: str, toObjectType: str,
                               toObjectId: str, request: Request) -> Response:
        return _json(201, state.assoc_put_labels(objectType, objectId, toObjectType,
                                                 toObjectId, await _body(request)))

    @app.delete(obase + "/{toObjectType}/{toObjectId}")
    async def assoc_delete(objectType: str, objectId: str, toObjectType: str,
                           toObjectId: str) -> Response:
        state.assoc_delete(objectType, objectId, toObjectType, toObjectId)
        return Response(status_code=204)

    return app

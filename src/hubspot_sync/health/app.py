"""The sync-health FastAPI app that the Airflow plugin (``plugins/sync_health.py``) mounts
on Airflow's own API server, behind Airflow's login and permissions.

Who may see what is Airflow's decision, taken with Airflow's own dependencies:

- every route requires the user Airflow's UI is logged in with: the JWT of the
  ``Authorization: Bearer`` header or of the ``_token`` cookie the UI sets at login (the
  cookie is what the iframe of the Airflow UI sends); no or an expired token is a 401, which
  the HTML pages turn into a redirect to Airflow's login page;
- every route requires read access to DAG runs (``requires_access_dag("GET", RUN)``, the
  dependency Airflow's own DAG-run routes use), a 403 otherwise;
- each entity is shown only when the user may read the runs of its DAG (``sync_<entity>``);
  the drill-down pages of another entity are a 403.

The warehouse is read through the ``sync_warehouse`` connection, as the tasks write it.
"""

import threading
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from hubspot_sync.health.page import render_index, render_page
from hubspot_sync.health.queries import HealthQueries
from hubspot_sync.health.report import collect, dag_id_of

URL_PREFIX = "/sync-health"
_lock = threading.Lock()
_warehouses: dict[tuple[str, str | None], Any] = {}


def queries_for(conn_id: str = "sync_warehouse") -> tuple[HealthQueries, str]:
    """Queries over the warehouse of ``conn_id`` (one engine per URL and process), and the
    URL to show (password hidden)."""
    from hubspot_sync.warehouse import Warehouse
    from hubspot_sync.warehouse.connection import settings_from_airflow

    url, schema = settings_from_airflow(conn_id)
    with _lock:
        wh = _warehouses.get((url, schema))
        if wh is None:
            wh = _warehouses[(url, schema)] = Warehouse(url, schema=schema)
    return HealthQueries.of(wh), wh.engine.url.render_as_string(hide_password=True)


def create_app() -> FastAPI:
    """The app; imports Airflow's API-server modules, so it is built on the first request
    (see :class:`hubspot_sync.health.lazy.LazyApp`), not when a plugin is loaded."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )
    from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag

    # (No `from __future__ import annotations` in this module: FastAPI reads the routes'
    # annotations, and GetUserDep is local to this function.)
    app = FastAPI(title="Sync health", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])

    @app.exception_handler(HTTPException)
    async def _denied(request: Request, exc: HTTPException) -> Any:
        api = request.url.path.startswith(f"{request.scope.get('root_path', '')}/api")
        if exc.status_code == 401 and not api:
            login = get_auth_manager().get_url_login(next_url=str(request.url))
            return RedirectResponse(login, status_code=303)
        if exc.status_code == 403 and not api:
            return HTMLResponse(f"<h1>Forbidden</h1><p>{exc.detail}</p>", status_code=403)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    def readable(user: Any) -> Any:
        def can_read(dag_id: str) -> bool:
            return bool(get_auth_manager().is_authorized_dag(
                method="GET", access_entity=DagAccessEntity.RUN,
                details=DagDetails(id=dag_id), user=user))
        return can_read

    def checked(queries: HealthQueries, entity: str, user: Any) -> str:
        entities = queries.entities()
        if entity not in entities:
            raise HTTPException(404, f"no runs of entity {entity!r} in the warehouse")
        runs = queries.last_runs(entity, 1)
        dag_id = dag_id_of(queries, entity, entities, runs[0]["run_id"] if runs else None)
        if not readable(user)(dag_id):
            raise HTTPException(403, f"you may not read the runs of DAG {dag_id}")
        return dag_id

    def health(user: Any) -> tuple[dict[str, Any], str, bool]:
        queries, where = queries_for()
        data = collect(queries, can_read=readable(user))
        hidden = len(data["entities"]) < len(queries.entities())
        return data, where, hidden

    @app.get("/", response_class=HTMLResponse)
    def index(user: GetUserDep) -> HTMLResponse:
        data, where, hidden = health(user)
        return HTMLResponse(render_index(data, warehouse=where, hidden=hidden))

    @app.get("/api/health")
    def health_json(user: GetUserDep) -> JSONResponse:
        data, where, _ = health(user)
        return JSONResponse(jsonable_encoder({**data, "warehouse": where}))

    def rejects_data(user: Any, entity: str, rule: str, after: int | None,
                     before: int | None, limit: int) -> tuple[Any, HealthQueries]:
        queries, _ = queries_for()
        checked(queries, entity, user)
        return queries.rejects_page(entity, rule, after=after, before=before,
                                    limit=limit), queries

    @app.get("/rejects", response_class=HTMLResponse)
    def rejects(user: GetUserDep, entity: str, rule: str, after: int | None = None,
                before: int | None = None, limit: int = Query(50, ge=1, le=200)) -> Any:
        page, queries = rejects_data(user, entity, rule, after, before, limit)
        total = dict(queries.open_reject_counts(entity)).get(rule, 0)
        return HTMLResponse(render_page(
            heading=f"{entity}: open rejects of rule {rule}",
            subheading=f"{total:,} open, oldest first, {limit} a page",
            columns=["source_id", "property", "reason", "source", "category", "times_seen",
                     "first_seen_at", "last_seen_at"],
            page=page, params={"entity": entity, "rule": rule, "limit": limit}))

    @app.get("/api/rejects")
    def rejects_json(user: GetUserDep, entity: str, rule: str, after: int | None = None,
                     before: int | None = None,
                     limit: int = Query(50, ge=1, le=200)) -> JSONResponse:
        page, _ = rejects_data(user, entity, rule, after, before, limit)
        return JSONResponse(jsonable_encoder(page))

    @app.get("/pending", response_class=HTMLResponse)
    def pending(user: GetUserDep, entity: str, after: int | None = None,
                before: int | None = None, limit: int = Query(50, ge=1, le=200)) -> Any:
        queries, _ = queries_for()
        checked(queries, entity, user)
        page = queries.pending_page(entity, after=after, before=before, limit=limit)
        return HTMLResponse(render_page(
            heading=f"{entity}: pending associations",
            subheading="associations waiting for their target, oldest first",
            columns=["source_id", "to_entity", "to_source_id", "reason", "attempts",
                     "first_seen_run", "last_tried_run"],
            page=page, params={"entity": entity, "limit": limit}))

    @app.get("/plan", response_class=HTMLResponse)
    def plan(user: GetUserDep, entity: str, after: int | None = None,
             before: int | None = None, limit: int = Query(25, ge=1, le=200)) -> Any:
        queries, _ = queries_for()
        checked(queries, entity, user)
        run = queries.latest_dry_run(entity)
        if run is None:
            raise HTTPException(404, f"{entity} has no dry run")
        page = queries.plan_page(entity, run["run_id"], after=after, before=before,
                                 limit=limit)
        return HTMLResponse(render_page(
            heading=f"{entity}: plan of dry run {run['run_id']}",
            subheading="what a real run would write, field by field (HubSpot now → after)",
            columns=["source_id", "hubspot_id", "action", "changes"],
            page=page, params={"entity": entity, "limit": limit}))

    return app

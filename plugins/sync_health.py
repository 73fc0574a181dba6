"""Airflow plugin: the "Sync health" view in Airflow's own navigation.

Airflow's API server mounts the view's FastAPI app under ``/sync-health`` and the UI shows
it in an iframe (``external_views``); both go through Airflow's login and permissions (see
``hubspot_sync.health.app``). Airflow imports this file in every component, so it imports
only the small lazy wrapper; the app is built on its first request.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from hubspot_sync.health.lazy import LazyApp


def _create_app():  # noqa: ANN202 - the FastAPI app; its import is the expensive part
    from hubspot_sync.health.app import create_app

    return create_app()


class SyncHealthPlugin(AirflowPlugin):
    name = "sync_health"
    fastapi_apps = [{"app": LazyApp(_create_app), "url_prefix": "/sync-health",
                     "name": "Sync health"}]
    # No leading slash: relative to the UI's base URL, so it works behind a path prefix.
    external_views = [{"name": "Sync health", "href": "sync-health/", "destination": "nav",
                       "url_route": "sync-health"}]

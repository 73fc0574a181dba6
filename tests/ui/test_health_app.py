"""The sync-health app as Airflow's API server mounts it (the real create_app with the
plugins folder of this repository), through Starlette's TestClient: who gets in, who is
sent to the login page, and what each user may see."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

W1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def client(airflow_db) -> Iterator[object]:
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    purge_cached_app()
    app = create_app(apps="core")
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client
    purge_cached_app()


def token(role: str = "viewer", username: str = "ann") -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture
def warehouse(warehouse_url) -> Iterator[object]:
    from hubspot_sync.warehouse import Warehouse

    wh = Warehouse(warehouse_url)
    for entity in ("companies", "members"):
        wh.start_run(entity, "scheduled__1", window_start=W1 - timedelta(hours=1),
                     window_end=W1)
        wh.finish_run(entity, "scheduled__1", "success", {"extracted": 4, "rejected": 2})
    wh.add_pending_associations("members", "scheduled__1", [
        {"source_id": "m7", "to_entity": "companies", "to_source_id": "c1",
         "reason": "c1 is not synced to HubSpot yet"}])
    wh.start_run("members", "manual__dry", window_end=W1, dry_run=True)
    wh.write_delta("members", "manual__dry", [
        {"source_id": "m8", "hubspot_id": "8", "action": "update", "changed_fields": ["phone"],
         "before": {"phone": "+44 1"}, "after": {"phone": "+44 2"}}])
    wh.finish_run("members", "manual__dry", "success", {})
    wh.record_rejects("members", "scheduled__1", [
        {"source_id": f"m{i}", "rule": "email", "property": "email", "value": "x",
         "reason": "not an email address"} for i in range(2)])
    try:
        yield wh
    finally:
        wh.dispose()


def test_no_login_is_sent_to_airflows_login_page_or_refused(client, warehouse):
    page = client.get("/sync-health/", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login?next=")
    assert "sync-health" in page.headers["location"]
    assert client.get("/sync-health/api/health").status_code == 401
    assert client.get("/sync-health/rejects", params={"entity": "members", "rule": "email"},
                      follow_redirects=False).status_code == 303
    bad = client.get("/sync-health/api/health", headers={"Authorization": "Bearer forged"})
    assert bad.status_code in (401, 403)


def test_the_ui_cookie_or_a_bearer_token_gets_the_figures(client, warehouse):
    jwt = token()
    by_cookie = client.get("/sync-health/api/health", cookies={"_token": jwt})
    assert by_cookie.status_code == 200
    figures = {e["entity"]: e for e in by_cookie.json()["entities"]}
    assert set(figures) == {"companies", "members"}
    assert figures["members"]["open_rejects"] == 2
    assert figures["members"]["watermark"].startswith("2026-11-01T10:00:00")
    by_header = client.get("/sync-health/api/health", headers={"Authorization": f"Bearer {jwt}"})
    assert [(e["entity"], e["open_rejects"], e["watermark"]) for e in by_header.json()[
        "entities"]] == [(e["entity"], e["open_rejects"], e["watermark"])
                         for e in by_cookie.json()["entities"]]
    html = client.get("/sync-health/", cookies={"_token": jwt})
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert 'href="../dags/sync_members/runs/scheduled__1"' in html.text
    pending = client.get("/sync-health/pending", cookies={"_token": jwt},
                         params={"entity": "members"})
    assert pending.status_code == 200 and "c1 is not synced to HubSpot yet" in pending.text
    plan = client.get("/sync-health/plan", cookies={"_token": jwt}, params={"entity": "members"})
    assert plan.status_code == 200 and "manual__dry" in plan.text
    assert "+44 1" in plan.text and "+44 2" in plan.text
    assert client.get("/sync-health/plan", cookies={"_token": jwt},
                      params={"entity": "companies"}).status_code == 404
    rejects = client.get("/sync-health/api/rejects", cookies={"_token": jwt},
                         params={"entity": "members", "rule": "email", "limit": 1})
    assert [r["source_id"] for r in rejects.json()["rows"]] == ["m0"]
    assert rejects.json()["next_after"] is not None


def test_each_entity_needs_read_access_to_its_dags_runs(client, warehouse, monkeypatch):
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    original = SimpleAuthManager.is_authorized_dag
    seen = []

    def only_companies(self, *, method, user, access_entity=None, details=None):
        seen.append((user.get_name(), details.id if details else None,
                     str(access_entity) if access_entity else None))
        if user.get_name() == "nobody":
            return False
        if details is not None and details.id == "sync_members":
            return False
        return original(self, method=method, user=user, access_entity=access_entity,
                        details=details)

    monkeypatch.setattr(SimpleAuthManager, "is_authorized_dag", only_companies)
    jwt = token(username="carl")
    figures = client.get("/sync-health/api/health", cookies={"_token": jwt}).json()
    assert [e["entity"] for e in figures["entities"]] == ["companies"]
    assert ("carl", "sync_members", "DagAccessEntity.RUN") in seen
    members = client.get("/sync-health/api/rejects", cookies={"_token": jwt},
                         params={"entity": "members", "rule": "email"})
    assert members.status_code == 403
    assert client.get("/sync-health/rejects", cookies={"_token": jwt},
                      params={"entity": "members", "rule": "email"}).status_code == 403
    nobody = token(username="nobody")
    assert client.get("/sync-health/api/health", cookies={"_token": nobody}).status_code == 403
    assert client.get("/sync-health/", cookies={"_token": nobody}).status_code == 403


def test_the_view_is_in_airflows_navigation(client):
    jwt = token()
    plugins = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {jwt}"}).json()
    mine = next(p for p in plugins["plugins"] if p["name"] == "sync_health")
    assert mine["external_views"] == [{"name": "Sync health", "href": "sync-health/",
                                       "destination": "nav", "url_route": "sync-health",
                                       "category": None, "icon": None, "icon_dark_mode": None,
                                       "nav_top_level": False}]
    assert mine["fastapi_apps"][0]["url_prefix"] == "/sync-health"

"""Wire shapes the client does not expose: faults, stats, limits headers, control routes."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.cli import parser

AUTH = {"Authorization": "Bearer sandbox-token"}
UPSERT = "/crm/v3/objects/{objectType}/batch/upsert"


def upsert(http, url, emails):
    return http.post(f"{url}/crm/v3/objects/contacts/batch/upsert", json={"inputs": [
        {"id": e, "idProperty": "email", "properties": {"email": e}} for e in emails]})


def test_stats_count_by_route_template(hs, http):
    upsert(http, hs.url, ["a@x.com"])
    upsert(http, hs.url, ["b@x.com"])
    http.get(f"{hs.url}/crm/v3/objects/contacts/123")
    requests.get(f"{hs.url}/_sandbox/stats")
    stats = requests.get(f"{hs.url}/_sandbox/stats").json()
    assert stats["total"] == 3
    assert {"method": "POST", "route": UPSERT, "status": 200, "count": 2} in stats["requests"]
    assert {"method": "GET", "route": "/crm/v3/objects/{objectType}/{objectId}",
            "status": 404, "count": 1} in stats["requests"]
    assert stats["objects"]["contacts"] == 2
    assert hs.stats() == stats


def test_reset_endpoint_clears_everything(hs, http):
    upsert(http, hs.url, ["a@x.com"])
    http.post(f"{hs.url}/crm/v3/properties/contacts", json={
        "name": "x1", "label": "X", "type": "string", "fieldType": "text",
        "groupName": "contactinformation"})
    requests.post(f"{hs.url}/_sandbox/faults", json={"latency_ms": 1})
    assert requests.post(f"{hs.url}/_sandbox/reset").status_code == 200
    stats = requests.get(f"{hs.url}/_sandbox/stats").json()
    assert stats["total"] == 0 and stats["objects"]["contacts"] == 0
    assert http.get(f"{hs.url}/crm/v3/properties/contacts/x1").status_code == 404
    assert requests.get(f"{hs.url}/_sandbox/faults").json()["latency_ms"] == 0


def test_error_rate_fault(hs, http):
    r = requests.post(f"{hs.url}/_sandbox/faults",
                      json={"error_rate": 0.5, "statuses": [502, 503], "seed": 1})
    assert r.status_code == 200
    codes = [http.get(f"{hs.url}/crm/v3/objects/contacts").status_code for _ in range(40)]
    assert set(codes) == {200, 502, 503}
    assert 8 <= codes.count(200) <= 32
    stats = hs.stats()
    assert stats["total"] == 40
    # the same seed replays the same sequence
    requests.post(f"{hs.url}/_sandbox/faults",
                  json={"error_rate": 0.5, "statuses": [502, 503], "seed": 1})
    again = [http.get(f"{hs.url}/crm/v3/objects/contacts").status_code for _ in range(40)]
    assert again == codes
    assert requests.delete(f"{hs.url}/_sandbox/faults").status_code == 204
    assert all(http.get(f"{hs.url}/crm/v3/objects/contacts").status_code == 200
               for _ in range(10))


def test_empty_body_clears_faults(hs, http):
    requests.post(f"{hs.url}/_sandbox/faults", json={"error_rate": 1.0, "statuses": [503]})
    assert http.get(f"{hs.url}/crm/v3/objects/contacts").status_code == 503
    requests.post(f"{hs.url}/_sandbox/faults", json={})
    assert http.get(f"{hs.url}/crm/v3/objects/contacts").status_code == 200


def test_bad_fault_config(hs):
    r = requests.post(f"{hs.url}/_sandbox/faults", json={"error_rate": 2})
    assert r.status_code == 400
    r = requests.post(f"{hs.url}/_sandbox/faults", json={"typo": 1})
    assert r.status_code == 400


def test_drop_fault_closes_connection(hs, http):
    requests.post(f"{hs.url}/_sandbox/faults", json={"drop_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        http.get(f"{hs.url}/crm/v3/objects/contacts", timeout=5)
    requests.delete(f"{hs.url}/_sandbox/faults")
    assert requests.get(f"{hs.url}/crm/v3/objects/contacts", headers=AUTH).status_code == 200


def test_latency_fault(hs, http):
    requests.post(f"{hs.url}/_sandbox/faults", json={"latency_ms": 120})
    started = time.perf_counter()
    http.get(f"{hs.url}/crm/v3/objects/contacts")
    assert time.perf_counter() - started >= 0.1
    started = time.perf_counter()
    requests.get(f"{hs.url}/_sandbox/stats")
    assert time.perf_counter() - started < 0.1  # control routes are never delayed


def test_refuse_fault_fails_one_input(hs, http):
    requests.post(f"{hs.url}/_sandbox/faults", json={
        "refuse": [{"property": "email", "equals": "bad@example.com"}]})
    r = http.post(f"{hs.url}/crm/v3/objects/contacts/batch/upsert", json={"inputs": [
        {"id": "ok@example.com", "idProperty": "email", "properties": {},
         "objectWriteTraceId": "ok"},
        {"id": "bad@example.com", "idProperty": "email",
         "properties": {"email": "bad@example.com"}, "objectWriteTraceId": "bad"}]})
    assert r.status_code == 207
    body = r.json()
    assert [x["properties"]["email"] for x in body["results"]] == ["ok@example.com"]
    (err,) = body["errors"]
    assert err["category"] == "VALIDATION_ERROR"
    assert err["context"]["ids"] == ["bad@example.com"]
    assert err["context"]["objectWriteTraceId"] == ["bad"]
    assert hs.state.counts()["contacts"] == 1


def test_rate_limit_headers_on_crm_responses(hs, http):
    r = http.get(f"{hs.url}/crm/v3/objects/contacts")
    # the shared sandbox runs with limits off: no burst headers
    assert "X-HubSpot-RateLimit-Max" not in r.headers
    with HubSpotSandbox(port=0, burst_limit=5, daily_limit=100) as sb:
        r = requests.get(f"{sb.url}/crm/v3/objects/contacts", headers=AUTH)
        assert r.headers["X-HubSpot-RateLimit-Max"] == "5"
        assert r.headers["X-HubSpot-RateLimit-Remaining"] == "4"
        assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert r.headers["X-HubSpot-RateLimit-Daily"] == "100"
        assert r.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "99"
        s = requests.post(f"{sb.url}/crm/v3/objects/contacts/search", headers=AUTH, json={})
        assert s.status_code == 200
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in s.headers)


def test_search_secondly_limit():
    with HubSpotSandbox(port=0, search_limit=2, burst_limit=0) as sb:
        url = f"{sb.url}/crm/v3/objects/contacts/search"
        codes = [requests.post(url, headers=AUTH, json={}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = requests.post(url, headers=AUTH, json={})
        assert r.json()["message"] == "You have reached your secondly limit."
        assert r.json()["errorType"] == "RATE_LIMIT"
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in r.headers)
        # other endpoints are not affected
        assert requests.get(f"{sb.url}/crm/v3/objects/contacts", headers=AUTH).ok
        time.sleep(1.05)
        assert requests.post(url, headers=AUTH, json={}).status_code == 200


def test_daily_limit():
    with HubSpotSandbox(port=0, daily_limit=2, burst_limit=0) as sb:
        url = f"{sb.url}/crm/v3/objects/contacts"
        assert [requests.get(url, headers=AUTH).status_code for _ in range(3)] == [200, 200, 429]
        body = requests.get(url, headers=AUTH).json()
        assert body["policyName"] == "DAILY"
        assert body["message"] == "You have reached your daily limit."
        sb.reset()
        assert requests.get(url, headers=AUTH).status_code == 200


def test_auth_missing_header_and_sandbox_routes_open(hs):
    r = requests.get(f"{hs.url}/crm/v3/objects/contacts")
    assert r.status_code == 401
    assert r.headers["X-HubSpot-Auth-Failure"] == "401 Unauthorized"
    assert r.json()["category"] == "INVALID_AUTHENTICATION"
    assert requests.get(f"{hs.url}/_sandbox/stats").status_code == 200


def test_list_paging_link_and_comma_properties(hs, http):
    hs.state.seed("contacts", ({"email": f"l{i}@x.com", "city": "Rome", "zip": "1"}
                               for i in range(3)))
    r = http.get(f"{hs.url}/crm/v3/objects/contacts",
                 params={"limit": 2, "properties": "city,zip"}).json()
    assert r["paging"]["next"]["link"].startswith(hs.url)
    assert {"city", "zip"} <= set(r["results"][0]["properties"])
    r2 = http.get(r["paging"]["next"]["link"]).json()
    assert len(r2["results"]) == 1 and "paging" not in r2


def test_http_status_codes(hs, http):
    c = http.post(f"{hs.url}/crm/v3/objects/contacts",
                  json={"properties": {"email": "s@x.com"}, "associations": []})
    assert c.status_code == 201
    cid = c.json()["id"]
    assert http.patch(f"{hs.url}/crm/v3/objects/contacts/s@x.com?idProperty=email",
                      json={"properties": {"city": "Bern"}}).status_code == 200
    assert http.delete(f"{hs.url}/crm/v3/objects/contacts/{cid}").status_code == 204
    assert http.post(f"{hs.url}/crm/v3/objects/contacts/batch/archive",
                     json={"inputs": [{"id": cid}]}).status_code == 204
    p = http.post(f"{hs.url}/crm/v3/properties/deals", json={
        "name": "contract_no", "label": "Contract", "type": "string", "fieldType": "text",
        "groupName": "dealinformation"})
    assert p.status_code == 201
    assert p.headers["Location"].endswith("/crm/v3/properties/deals/contract_no")
    dup = http.post(f"{hs.url}/crm/v3/properties/deals", json={
        "name": "contract_no", "label": "Contract", "type": "string", "fieldType": "text",
        "groupName": "dealinformation"})
    assert dup.status_code == 409
    assert http.delete(f"{hs.url}/crm/v3/properties/deals/contract_no").status_code == 204
    bad = http.post(f"{hs.url}/crm/v3/objects/contacts", data="{not json",
                    headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    assert http.get(f"{hs.url}/crm/v3/objects/tickets").status_code == 400
    pipe = http.get(f"{hs.url}/crm/v3/pipelines/deals/default").json()
    assert pipe["stages"][0]["id"] == "appointmentscheduled"
    labels = http.get(f"{hs.url}/crm/v4/associations/contacts/companies/labels").json()
    assert {x["typeId"] for x in labels["results"]} == {279, 1}


def test_search_lag_over_http():
    with HubSpotSandbox(port=0, search_lag_ms=300, burst_limit=0, search_limit=0) as sb:
        requests.post(f"{sb.url}/crm/v3/objects/contacts", headers=AUTH,
                      json={"properties": {"email": "lag@x.com"}})
        body = {"filterGroups": [{"filters": [
            {"propertyName": "email", "operator": "EQ", "value": "lag@x.com"}]}]}
        url = f"{sb.url}/crm/v3/objects/contacts/search"
        assert requests.post(url, headers=AUTH, json=body).json()["total"] == 0
        time.sleep(0.35)
        assert requests.post(url, headers=AUTH, json=body).json()["total"] == 1


def test_state_file_over_http(tmp_path):
    path = tmp_path / "s.sqlite"
    with HubSpotSandbox(port=0, state_file=path) as sb:
        requests.post(f"{sb.url}/crm/v3/objects/companies", headers=AUTH,
                      json={"properties": {"name": "Kept"}})
    with HubSpotSandbox(port=0, state_file=path) as sb:
        r = requests.get(f"{sb.url}/crm/v3/objects/companies", headers=AUTH).json()
        assert [c["properties"]["name"] for c in r["results"]] == ["Kept"]


def test_cli_defaults_and_flags():
    args = parser().parse_args([])
    assert (args.host, args.port, args.token, args.burst_limit, args.search_limit,
            args.daily_limit, args.search_lag_ms, args.state) == (
        "127.0.0.1", 8091, "sandbox-token", 190, 5, 0, 0, None)
    args = parser().parse_args(["--port", "9000", "--burst-limit", "0", "--state", "x.db",
                                "--search-lag-ms", "500", "--token", "t", "--daily-limit",
                                "1000"])
    assert (args.port, args.burst_limit, args.state, args.search_lag_ms, args.token,
            args.daily_limit) == (9000, 0, "x.db", 500, "t", 1000)


def test_cli_serves(tmp_path):
    import subprocess
    import sys

    from sandbox._server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "hubspot", "--port", str(port),
                             "--token", "cli-token", "--state", str(tmp_path / "cli.sqlite")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/crm/v3/objects/contacts",
                                 headers={"Authorization": "Bearer cli-token"}, timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert r.status_code == 200 and r.json() == {"results": []}
    finally:
        proc.terminate()
        proc.wait(10)

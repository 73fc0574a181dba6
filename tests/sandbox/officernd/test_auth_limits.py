"""OAuth client credentials, Bearer checks, scopes and the two rate limits."""

from __future__ import annotations

import requests

from sandbox.officernd import OfficeRnDSandbox
from sandbox.officernd.limits import RollingWindow
from tests.sandbox.officernd.conftest import ANCHOR, make_client

CREDS = {"client_id": "sandbox-client", "client_secret": "sandbox-secret",
         "grant_type": "client_credentials"}


def _token(sb, **extra):
    return requests.post(f"{sb.url}/oauth/token", data={**CREDS, **extra}, timeout=5)


def _get(sb, path, token=None, headers=None, **params):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    return requests.get(f"{sb.api_url}/{path}", headers=h, params=params, timeout=5)


def test_token_response_shape(sandbox):
    r = _token(sandbox, scope="flex.community.members.read flex.community.companies.read")
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["scope"] == "flex.community.members.read flex.community.companies.read"
    assert body["access_token"]
    default = _token(sandbox).json()["scope"].split()
    for scope in ("flex.community.members.read", "flex.community.companies.read",
                  "flex.billing.plans.read", "flex.space.resources.read",
                  "flex.space.locations.read", "flex.community.contracts.read",
                  "flex.community.memberships.read", "flex.community.opportunities.read",
                  "flex.community.opportunityStatuses.read", "flex.community.fees.read"):
        assert scope in default


def test_token_errors(sandbox):
    r = _token(sandbox, client_secret="wrong")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = _token(sandbox, client_id="someone-else")
    assert r.status_code == 401
    r = _token(sandbox, scope="flex.community.members.read flex.nope.read")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = _token(sandbox, scope="flex.community.members.update")  # a read/write app: granted
    assert r.status_code == 200 and r.json()["scope"] == "flex.community.members.update"
    r = _token(sandbox, grant_type="password")
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_missing_wrong_and_malformed_token_is_401(sandbox):
    assert _get(sandbox, "members").status_code == 401
    assert _get(sandbox, "members", token="not-a-token").status_code == 401
    assert _get(sandbox, "members", headers={"Authorization": "Basic abc"}).status_code == 401
    assert _get(sandbox, "members/count").status_code == 401
    member = sandbox.state.records("members")[0]["_id"]
    assert _get(sandbox, f"members/{member}").status_code == 401


def test_expired_token_is_401_and_client_refreshes(sandbox):
    token = _token(sandbox).json()["access_token"]
    assert _get(sandbox, "members", token).status_code == 200
    sandbox.state.expire_tokens()
    r = _get(sandbox, "members", token)
    assert r.status_code == 401
    token = _token(sandbox).json()["access_token"]
    assert requests.post(f"{sandbox.url}/_sandbox/tokens/expire", timeout=5).json()["expired"] >= 1
    assert _get(sandbox, "members", token).status_code == 401
    client = make_client(sandbox)
    client.token()
    sandbox.state.expire_tokens()
    assert len(client.get("members")["results"]) == 50  # refreshed after the 401


def test_scope_missing_is_403(sandbox):
    token = _token(sandbox, scope="flex.community.members.read").json()["access_token"]
    assert _get(sandbox, "members", token).status_code == 200
    for path in ("companies", "companies/count", "plans", "contracts", "opportunity-statuses",
                 "fees", "resources", "locations", "memberships", "opportunities"):
        r = _get(sandbox, path, token)
        assert r.status_code == 403, path
    token = _token(sandbox, scope="flex.billing.plans.read").json()["access_token"]
    assert _get(sandbox, "plans", token).status_code == 200
    assert _get(sandbox, "members", token).status_code == 403


def test_token_endpoint_limited_to_5_per_minute_failed_calls_included(fresh_sandbox):
    sb = fresh_sandbox
    codes = [_token(sb).status_code for _ in range(4)]
    codes.append(_token(sb, client_secret="wrong").status_code)
    assert codes == [200, 200, 200, 200, 401]
    r = _token(sb)
    assert r.status_code == 429
    assert r.json()["message"] == "Too many requests, please try again later"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_read_rate_limit_429_with_retry_after():
    with OfficeRnDSandbox(port=0, seed=1, scale=50, anchor=ANCHOR, rate_limit=3) as sb:
        token = _token(sb).json()["access_token"]
        assert [_get(sb, "members", token).status_code for _ in range(3)] == [200] * 3
        r = _get(sb, "members", token)
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert _get(sb, "companies/count", token).status_code == 429
        stats = requests.get(f"{sb.url}/_sandbox/stats", timeout=5).json()
        assert any(e["status"] == 429 for e in stats["requests"])
        requests.post(f"{sb.url}/_sandbox/limits", json={"rate_limit": 0}, timeout=5)
        assert _get(sb, "members", token).status_code == 200


def test_rate_limit_off_when_zero():
    with OfficeRnDSandbox(port=0, seed=1, scale=20, anchor=ANCHOR, rate_limit=0,
                          token_rate_limit=0) as sb:
        for _ in range(8):
            assert _token(sb).status_code == 200


def test_rolling_window_frees_up(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("sandbox.officernd.limits.time.monotonic", lambda: clock[0])
    w = RollingWindow(2, window=60)
    assert w.hit() is None and w.hit() is None
    assert w.hit() == 60
    clock[0] += 30
    assert w.hit() == 30
    clock[0] += 30.5
    assert w.hit() is None

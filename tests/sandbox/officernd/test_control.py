"""The /_sandbox endpoints, the Python API, persistence and the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests

from sandbox._server import free_port
from sandbox.officernd import OfficeRnDSandbox
from sandbox.officernd.cli import build_parser
from sandbox.officernd.times import fmt_ts, parse_ts
from tests.sandbox.officernd.conftest import ANCHOR, make_client


@pytest.fixture
def sb():
    with OfficeRnDSandbox(port=0, seed=11, scale=300, anchor=ANCHOR, rate_limit=0,
                          token_rate_limit=0) as s:
        yield s


def test_clock_set_and_advance(sb):
    now = parse_ts(requests.get(f"{sb.url}/_sandbox/clock", timeout=5).json()["now"])
    assert ANCHOR <= now < ANCHOR + timedelta(seconds=30)
    r = requests.post(f"{sb.url}/_sandbox/clock", json={"set": "2027-01-01T00:00:00Z"}, timeout=5)
    assert r.json()["now"].startswith("2027-01-01T00:00:0")
    r = requests.post(f"{sb.url}/_sandbox/clock", json={"advance_seconds": 3600}, timeout=5)
    assert r.json()["now"].startswith("2027-01-01T01:00:0")
    sb.set_clock(ANCHOR + timedelta(days=1))
    assert sb.advance_clock(60).startswith(fmt_ts(ANCHOR + timedelta(days=1, seconds=60))[:16])
    assert requests.post(
        f"{sb.url}/_sandbox/clock", json={"set": "nope"}, timeout=5).status_code == 400


def test_mutate_members_stamps_and_changes(sb):
    before = {r["_id"]: r for r in sb.state.records("members")}
    sb.set_clock(ANCHOR + timedelta(hours=2))
    out = requests.post(f"{sb.url}/_sandbox/mutate", json={
        "resource": "members", "update": 10, "create": 5, "delete": 2, "seed": 7}, timeout=5).json()
    assert len(out["updated"]) == 10 and len(out["created"]) == 5 and len(out["deleted"]) == 2
    after = {r["_id"]: r for r in sb.state.records("members")}
    stamp = fmt_ts(ANCHOR + timedelta(hours=2))[:16]
    for i in out["updated"]:
        assert after[i]["modifiedAt"][:16] == stamp
        diff = {k for k in after[i] if after[i][k] != before[i][k]} - {"modifiedAt", "modifiedBy"}
        assert diff and diff <= {"name", "email", "phone", "status"}
        assert after[i]["createdAt"] == before[i]["createdAt"]
    for i in out["created"]:
        assert after[i]["createdAt"][:16] == stamp and after[i]["name"]
    for i in out["deleted"]:
        assert i not in after
    client = make_client(sb)
    window = client.modified_between("members", fmt_ts(ANCHOR + timedelta(hours=1)),
                                     fmt_ts(ANCHOR + timedelta(hours=3)))
    assert {r["_id"] for r in window} == set(out["updated"]) | set(out["created"])


def test_mutate_is_deterministic_with_seed():
    results = []
    for _ in range(2):
        with OfficeRnDSandbox(port=0, seed=5, scale=200, anchor=ANCHOR) as s:
            s.set_clock(ANCHOR + timedelta(hours=1))  # new _ids embed the clock's second
            out = s.mutate("contracts", update=5, create=2, delete=1, seed=99)
            recs = {i: s.state.get("contracts", i) for i in out["updated"]}
            results.append(
                (out, {i: (r["plans"], r["endDate"], r["baseTotal"]) for i, r in recs.items()}))
    assert results[0] == results[1]


@pytest.mark.parametrize(("resource", "fields"), [
    ("members", {"name", "email", "phone", "status"}),
    ("companies", {"name", "url", "description", "status"}),
    ("contracts", {"baseTotal", "total", "plansTotal", "endDate", "plans", "isRolling"}),
    ("opportunities", {"status", "dealSize", "probability"}),
    ("plans", {"price", "name"}),
    ("resources", {"price", "name"}),
])
def test_mutate_changes_the_documented_fields(sb, resource, fields):
    before = {r["_id"]: r for r in sb.state.records(resource)}
    out = sb.mutate(resource, update=8, create=1, seed=3)
    changed = set()
    for i in out["updated"]:
        new = sb.state.get(resource, i)
        changed |= {k for k in new if new[k] != before[i].get(k)}
    assert changed - {"modifiedAt", "modifiedBy"}
    assert changed - {"modifiedAt", "modifiedBy"} <= fields
    assert len(out["created"]) == 1
    new = sb.state.get(resource, out["created"][0])
    assert set(new) >= set(next(iter(before.values()))) - {"address"}


def test_contract_totals_stay_consistent_after_mutation(sb):
    out = sb.mutate("contracts", update=30, seed=1)
    for i in out["updated"]:
        c = sb.state.get("contracts", i)
        assert c["baseTotal"] == round(sum(e["count"] * e["price"] for e in c["plans"]), 2)


def test_patch_and_insert_records(sb):
    contract = sb.state.records("contracts")[0]
    sb.set_clock(ANCHOR + timedelta(days=2))
    plans = [{"id": contract["plans"][0]["id"], "count": 3, "price": 10.0, "steps": []}]
    r = requests.patch(f"{sb.url}/_sandbox/records/contracts/{contract['_id']}",
                       json={"plans": plans, "baseTotal": 30.0}, timeout=5)
    assert r.status_code == 200
    got = sb.state.get("contracts", contract["_id"])
    assert got["plans"] == plans and got["baseTotal"] == 30.0
    assert got["modifiedAt"].startswith(fmt_ts(ANCHOR + timedelta(days=2))[:13])
    assert requests.patch(f"{sb.url}/_sandbox/records/contracts/{'f' * 24}", json={},
                          timeout=5).status_code == 404
    r = requests.post(f"{sb.url}/_sandbox/records/members",
                      json={"name": "New Person", "email": "new@example.com", "status": "active"},
                      timeout=5)
    assert r.status_code == 201
    rec = r.json()
    assert len(rec["_id"]) == 24 and rec["createdAt"] == rec["modifiedAt"]
    assert make_client(sb).get(f"members/{rec['_id']}")["email"] == "new@example.com"
    plan = requests.post(f"{sb.url}/_sandbox/records/plans", json={"name": "P", "price": 1},
                         timeout=5).json()
    assert "modifiedAt" not in plan
    assert requests.delete(f"{sb.url}/_sandbox/records/plans/{plan['_id']}", timeout=5).ok


def test_anomalies_endpoint_tracks_mutations(sb):
    a = requests.get(f"{sb.url}/_sandbox/anomalies", timeout=5).json()
    assert a == sb.anomalies()
    for resource, keys in {
        "members": ["invalid_email", "missing_email", "duplicate_email", "unnormalised_email",
                    "unicode_name", "single_word_name", "missing_phone"],
        "companies": ["shared_domain"], "plans": ["negative_price", "many_decimals"],
        "resources": ["non_numeric_price"], "contracts": ["no_end_date", "dates_out_of_range"],
        "opportunities": ["unmapped_status"],
    }.items():
        for key in keys:
            assert a[resource][key], (resource, key)
    bad = a["members"]["invalid_email"][0]
    sb.state.patch_record("members", bad, {"email": "fixed.now@example.com"})
    assert bad not in sb.anomalies()["members"]["invalid_email"]


def test_stats_and_reset(sb):
    client = make_client(sb)
    client.get("members")
    client.count("members")
    stats = requests.get(f"{sb.url}/_sandbox/stats", timeout=5).json()
    routes = {(e["method"], e["route"], e["status"]): e["count"] for e in stats["requests"]}
    assert routes[("GET", "/api/v2/organizations/{slug}/{resource}", 200)] >= 1
    assert routes[("GET", "/api/v2/organizations/{slug}/{resource}/count", 200)] >= 1
    assert routes[("POST", "/oauth/token", 200)] >= 1
    assert stats["records"]["members"] == 300
    original = sb.state.records("members")
    sb.mutate("members", update=5, create=3, delete=4)
    sb.advance_clock(86400)
    r = requests.post(f"{sb.url}/_sandbox/reset", timeout=5).json()
    assert r["records"]["members"] == 300
    assert sb.state.records("members") == original
    assert parse_ts(r["now"]) < ANCHOR + timedelta(minutes=5)


def test_state_file_survives_restart(tmp_path):
    path = tmp_path / "officernd.sqlite"
    with OfficeRnDSandbox(port=0, seed=9, scale=100, anchor=ANCHOR, state_file=path) as s1:
        s1.advance_clock(7200)
        out = s1.mutate("members", update=3, create=2, delete=1, seed=1)
        members = s1.state.records("members")
        stamped = s1.state.get("members", out["updated"][0])["modifiedAt"]
    with OfficeRnDSandbox(port=0, seed=1234, scale=5, state_file=path) as s2:
        assert s2.state.records("members") == members
        assert s2.state.now_str() >= stamped
        new = s2.mutate("members", update=0, create=1)["created"][0]
        assert new not in {m["_id"] for m in members}
        assert new > max(m["_id"] for m in members)
        assert client_ok(s2)


def client_ok(sb) -> bool:
    return len(make_client(sb).all("members")) == len(sb.state.records("members"))


def test_cli_defaults_and_serving(tmp_path):
    args = build_parser().parse_args([])
    assert (args.port, args.host, args.seed, args.scale, args.org, args.rate_limit) == (
        8092, "127.0.0.1", 42, 500, "sandbox", 400)
    assert (args.client_id, args.client_secret, args.state) == (
        "sandbox-client", "sandbox-secret", None)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "officernd", "--port", str(port), "--scale", "50",
         "--anchor", "2026-11-02T10:00:00Z", "--org", "acme", "--state",
         str(tmp_path / "s.sqlite")], stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.post(f"http://127.0.0.1:{port}/oauth/token", data={
                    "client_id": "sandbox-client", "client_secret": "sandbox-secret",
                    "grant_type": "client_credentials"}, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        token = r.json()["access_token"]
        page = requests.get(f"http://127.0.0.1:{port}/api/v2/organizations/acme/members",
                            headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        assert len(page["results"]) == 50
    finally:
        proc.terminate()
        proc.wait(10)
    assert (tmp_path / "s.sqlite").exists()

"""Contract tests: a client written the way the reference documents reads the sandbox."""

from __future__ import annotations

import base64
import re
import threading
import time
from datetime import timedelta

import pytest
import requests

from sandbox.officernd import OfficeRnDSandbox
from sandbox.officernd.times import fmt_ts
from tests.sandbox.officernd.conftest import ANCHOR, RESOURCES, make_client

HEX24 = re.compile(r"^[0-9a-f]{24}$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.mark.parametrize("resource", RESOURCES)
def test_reads_every_resource_completely(sandbox, client, resource):
    pages = list(client.pages(resource))
    rows = [r for p in pages for r in p["results"]]
    expected = sandbox.state.records(resource)
    assert [r["_id"] for r in rows] == [r["_id"] for r in expected]
    assert rows == expected
    assert all(len(p["results"]) <= 50 for p in pages)
    assert pages[-1]["cursorNext"] is None
    assert all(p["cursorNext"] for p in pages[:-1])
    assert pages[0]["cursorPrev"] is None and pages[0]["rangeStart"] == 1
    assert pages[-1]["rangeEnd"] == len(expected)
    for r in rows:
        assert HEX24.match(r["_id"])
        for f in ("createdAt", "modifiedAt"):
            if f in r:
                assert TS.match(r[f])
    one = client.get(f"{resource}/{rows[0]['_id']}")
    assert one == rows[0]


def test_limit_default_and_cap(client):
    assert len(client.get("members")["results"]) == 50
    assert len(client.get("members", {"$limit": 500})["results"]) == 50
    assert len(client.get("members", {"$limit": 7})["results"]) == 7


def test_cursor_is_opaque_base64(client):
    cursor = client.get("members")["cursorNext"]
    assert base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def test_cursor_prev_goes_back(client):
    p1 = client.get("members", {"$limit": 10})
    p2 = client.get("members", {"$limit": 10, "$cursorNext": p1["cursorNext"]})
    p3 = client.get("members", {"$limit": 10, "$cursorNext": p2["cursorNext"]})
    back = client.get("members", {"$limit": 10, "$cursorPrev": p3["cursorPrev"]})
    assert back["results"] == p2["results"]
    assert (back["rangeStart"], back["rangeEnd"]) == (11, 20)
    first = client.get("members", {"$limit": 10, "$cursorPrev": back["cursorPrev"]})
    assert first["results"] == p1["results"] and first["cursorPrev"] is None
    assert (p3["rangeStart"], p3["rangeEnd"]) == (21, 30)


@pytest.mark.parametrize("sort", ["name", "-name", '{"modifiedAt": -1}', "email", "status"])
def test_sort_traversal_complete_and_ordered(sandbox, client, sort):
    rows = client.all("members", {"$sort": sort})
    assert sorted(r["_id"] for r in rows) == [r["_id"] for r in sandbox.state.records("members")]
    field = sort.strip("-{}").split('"')[1] if sort.startswith("{") else sort.lstrip("-")
    desc = sort.startswith("-") or "-1" in sort
    keys = [(r[field] is not None, r[field] or "") for r in rows]
    assert keys == sorted(keys, reverse=desc)


def test_select_keeps_id(client):
    rows = client.get("members", {"$select": "name", "$limit": 5})["results"]
    assert all(set(r) == {"_id", "name"} for r in rows)
    rows = client.get("companies", {"$select": "name,_id,url", "$limit": 5})["results"]
    assert all(set(r) == {"_id", "name", "url"} for r in rows)


def _scan(sandbox, resource, pred):
    return sorted(r["_id"] for r in sandbox.state.records(resource) if pred(r))


@pytest.mark.parametrize("resource", ["members", "companies", "contracts", "opportunities",
                                      "memberships", "fees", "resources"])
def test_modified_windows_partition_everything(sandbox, client, resource):
    start = ANCHOR - timedelta(days=31)
    seen: list[str] = []
    for day in range(32):
        lo = fmt_ts(start + timedelta(days=day))
        hi = fmt_ts(start + timedelta(days=day + 1))
        ids = [r["_id"] for r in client.modified_between(resource, lo, hi)]
        assert ids == _scan(sandbox, resource, lambda r, lo=lo, hi=hi: lo <= r["modifiedAt"] < hi)
        assert client.count(
            resource, {"modifiedAt[$gte]": lo, "modifiedAt[$lt]": hi})["total"] == len(ids)
        seen += ids
    assert sorted(seen) == [r["_id"] for r in sandbox.state.records(resource)]


def test_filtered_counts_agree_with_scan(sandbox, client):
    members = sandbox.state.records("members")
    total = client.count("members")
    assert total["total"] == len(members) and total["groups"] == []
    by_status = client.count("members", {"$countBy": "status"})
    assert {g["key"]: g["count"] for g in by_status["groups"]} == {
        s: sum(1 for m in members if m["status"] == s) for s in {m["status"] for m in members}}
    for status in ("active", "former", "lead"):
        want = _scan(sandbox, "members", lambda r, s=status: r["status"] == s)
        assert client.count("members", {"status": status})["total"] == len(want)
        assert sorted(r["_id"] for r in client.all("members", {"status": status})) == want
    want = _scan(sandbox, "members", lambda r: r["status"] in ("active", "pending"))
    assert client.count("members", {"status[$in]": "active,pending"})["total"] == len(want)
    assert sorted(
        r["_id"] for r in client.all("members", {"status[$in]": "active,pending"})) == want
    cut = fmt_ts(ANCHOR - timedelta(days=10))
    for op, f in (("$gt", lambda r: r["modifiedAt"] > cut),
                  ("$gte", lambda r: r["modifiedAt"] >= cut),
                  ("$lt", lambda r: r["modifiedAt"] < cut),
                  ("$lte", lambda r: r["modifiedAt"] <= cut)):
        want = _scan(sandbox, "contracts", f)
        got = client.all("contracts", {f"modifiedAt[{op}]": cut})
        assert sorted(r["_id"] for r in got) == want
        assert client.count("contracts", {f"modifiedAt[{op}]": cut})["total"] == len(want)
    want = _scan(sandbox, "companies", lambda r: r["createdAt"] >= cut)
    assert client.count("companies", {"createdAt[$gte]": cut})["total"] == len(want)
    # the combination with a non-Z offset date
    want = _scan(sandbox, "members", lambda r: r["status"] == "active" and r["modifiedAt"] >= cut)
    got = client.all("members", {"status": "active",
                                 "modifiedAt[$gte]": (ANCHOR - timedelta(days=10)).isoformat()})
    assert sorted(r["_id"] for r in got) == want


def test_reference_filters(sandbox, client):
    company = next(c for c in sandbox.state.records("companies"))
    members = client.all("members", {"company": company["_id"]})
    assert members and all(m["company"] == company["_id"] for m in members)
    loc = sandbox.state.records("locations")[0]["_id"]
    assert client.count("members", {"location": loc})["total"] == len(
        _scan(sandbox, "members", lambda r: r["location"] == loc))
    m = members[0]
    assert client.get("members", {"email": m["email"]})["results"][0]["_id"] == m["_id"]
    assert client.get("members", {"name": m["name"]})["results"]
    assert [r["_id"] for r in client.get("members", {"_id": m["_id"]})["results"]] == [m["_id"]]
    fees = client.all("fees", {"member": sandbox.state.records("fees")[0]["member"]})
    assert fees
    contracts = client.all("contracts", {"company": company["_id"]})
    assert contracts and all(c["company"] == company["_id"] for c in contracts)


def test_plans_ignore_modified_filter(sandbox, client):
    plans = client.all("plans", {"modifiedAt[$gte]": fmt_ts(ANCHOR)})
    assert len(plans) == len(sandbox.state.records("plans"))
    code = plans[0]["code"]
    assert [p["code"] for p in client.all("plans", {"code": code})] == [code]


def test_unknown_slug_resource_and_id_are_404(sandbox, client):
    token = client.token()
    h = {"Authorization": f"Bearer {token}"}
    r = requests.get(f"{sandbox.url}/api/v2/organizations/nope/members", headers=h, timeout=5)
    assert r.status_code == 404
    r = requests.get(f"{sandbox.api_url}/members/{'0' * 24}", headers=h, timeout=5)
    assert r.status_code == 404 and r.json()["statusCode"] == 404
    r = requests.get(f"{sandbox.api_url}/floors", headers=h, timeout=5)
    assert r.status_code == 404
    r = requests.get(f"{sandbox.api_url}/members", params={"$cursorNext": "garbage!"},
                     headers=h, timeout=5)
    assert r.status_code == 400


def test_traversal_under_concurrent_mutation():
    """10,000 members paged while /_sandbox/mutate updates, creates and deletes alongside."""
    with OfficeRnDSandbox(port=0, seed=3, scale=10_000, anchor=ANCHOR, rate_limit=0,
                          token_rate_limit=0) as sb:
        initial = {r["_id"] for r in sb.state.records("members")}
        client = make_client(sb)
        changed: set[str] = set()
        deleted: set[str] = set()
        created: set[str] = set()
        stop = threading.Event()
        calls = []

        def churn() -> None:
            session = requests.Session()
            i = 0
            while not stop.is_set():
                i += 1
                out = session.post(f"{sb.url}/_sandbox/mutate", json={
                    "resource": "members", "update": 15, "create": 5, "delete": 5, "seed": i},
                    timeout=10).json()
                changed.update(out["updated"])
                deleted.update(out["deleted"])
                created.update(out["created"])
                calls.append(i)
                time.sleep(0.002)

        worker = threading.Thread(target=churn)
        worker.start()
        try:
            seen: list[str] = []
            for page in client.pages("members"):
                seen += [r["_id"] for r in page["results"]]
                time.sleep(0.001)
        finally:
            stop.set()
            worker.join()
        assert len(calls) >= 5, "the mutations did not run alongside the traversal"
        assert deleted and changed and created
        assert len(seen) == len(set(seen)), "a record was repeated"
        stable = initial - changed - deleted
        missing = stable - set(seen)
        assert not missing, f"{len(missing)} unchanged records skipped"
        assert set(seen) <= initial | created
        assert min(created) > max(initial), "new records get later ids (ObjectId-like)"

"""Malformed data and paging faults the real API can produce, served over HTTP.

``POST /_sandbox/records/{resource}/raw`` stores records exactly as given;
``POST /_sandbox/faults`` switches the cursor loop on and off.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from sandbox.officernd import OfficeRnDSandbox
from sandbox.officernd.times import fmt_ts
from tests.sandbox.officernd.conftest import ANCHOR, make_client

LONG_ID = "a" * 300
IN_WINDOW = fmt_ts(ANCHOR + timedelta(minutes=30))
BAD_MEMBERS = [
    {"_id": None, "name": "No Id", "email": "no.id@example.com", "modifiedAt": IN_WINDOW},
    {"_id": "bad000000000000000000001", "name": "Bad Date", "modifiedAt": "yesterday"},
    {"_id": "bad000000000000000000002", "name": "Nul\x00Bell\x07Esc\x1b\x85",
     "modifiedAt": IN_WINDOW},
    {"_id": "bad000000000000000000003", "name": {"first": "A", "last": "B"},
     "email": ["a@example.com", "b@example.com"], "modifiedAt": IN_WINDOW},
    {"_id": LONG_ID, "name": "Long Id", "modifiedAt": IN_WINDOW},
    {"name": "Missing Id", "modifiedAt": {"$date": 1}},
]


@pytest.fixture
def sb():
    with OfficeRnDSandbox(port=0, seed=3, scale=120, anchor=ANCHOR, rate_limit=0,
                          token_rate_limit=0) as s:
        yield s


def _insert_raw(sb: OfficeRnDSandbox, resource: str, body: object) -> requests.Response:
    return requests.post(f"{sb.url}/_sandbox/records/{resource}/raw", json=body, timeout=5)


def test_raw_records_are_served_exactly_as_given(sb):
    r = _insert_raw(sb, "members", BAD_MEMBERS)
    assert r.status_code == 201
    keys = r.json()["keys"]
    assert keys == ["~raw-000001", "bad000000000000000000001", "bad000000000000000000002",
                    "bad000000000000000000003", LONG_ID, "~raw-000002"]
    served = make_client(sb).all("members")
    assert len(served) == 120 + len(BAD_MEMBERS)
    for bad in BAD_MEMBERS:
        assert served.count(bad) == 1, bad
    # non-string ids sort after every hex id, in insertion order
    assert served[-2:] == [BAD_MEMBERS[0], BAD_MEMBERS[5]]
    client = make_client(sb)
    assert client.get(f"members/{LONG_ID}") == BAD_MEMBERS[4]
    nul = client.session.get(f"{client.base}/members/bad000000000000000000002",
                             headers={"Authorization": f"Bearer {client.token()}"}, timeout=5)
    assert "\\u0000" in nul.text and nul.json()["name"] == BAD_MEMBERS[2]["name"]
    # "null" matches a null or missing value; $select adds no _id a record lacks
    picked = client.all("members", {"$select": "name", "_id[$in]": "null"})
    assert picked == [{"_id": None, "name": "No Id"}, {"name": "Missing Id"}]


def test_malformed_dates_are_served_by_every_window(sb):
    _insert_raw(sb, "members", BAD_MEMBERS)
    client = make_client(sb)
    start = fmt_ts(ANCHOR + timedelta(minutes=10))
    window = client.modified_between("members", start, fmt_ts(ANCHOR + timedelta(hours=1)))
    names = [m["name"] for m in window]
    assert names == ["Long Id", "Bad Date", "Nul\x00Bell\x07Esc\x1b\x85",
                     {"first": "A", "last": "B"}, "No Id", "Missing Id"]
    later = client.modified_between("members", fmt_ts(ANCHOR + timedelta(days=1)),
                                    fmt_ts(ANCHOR + timedelta(days=2)))
    assert [m["name"] for m in later] == ["Bad Date", "Missing Id"]


def test_raw_records_survive_mutate_sort_count_anomalies_and_delete(sb):
    keys = _insert_raw(sb, "members", BAD_MEMBERS).json()["keys"]
    out = requests.post(f"{sb.url}/_sandbox/mutate", json={
        "resource": "members", "update": 110, "create": 2, "delete": 8, "seed": 1},
        timeout=5).json()
    assert not set(keys) & set(out["updated"] + out["deleted"])
    assert (len(out["updated"]), len(out["deleted"])) == (110, 8)  # 120 regular members
    assert [sb.state.get("members", k) for k in keys] == BAD_MEMBERS
    client = make_client(sb)
    by_name = client.all("members", {"$sort": "-name"})
    assert len(by_name) == 120 + 2 - 8 + len(BAD_MEMBERS)
    assert client.count("members", {"$countBy": "name"})["total"] == len(by_name)
    anomalies = requests.get(f"{sb.url}/_sandbox/anomalies", timeout=5).json()
    assert None in anomalies["members"]["missing_phone"]
    assert "bad000000000000000000003" in anomalies["members"]["invalid_email"]
    r = requests.delete(f"{sb.url}/_sandbox/records/members/~raw-000001", timeout=5)
    assert r.status_code == 200
    assert BAD_MEMBERS[0] not in client.all("members")
    assert _insert_raw(sb, "members", {"name": "again"}).json()["keys"] == ["~raw-000003"]


def test_raw_insert_replaces_a_string_id_and_takes_one_object(sb):
    first = sb.state.records("companies")[0]
    r = _insert_raw(sb, "companies", {"_id": first["_id"], "name": None, "url": 42})
    assert r.status_code == 201 and r.json() == {"keys": [first["_id"]]}
    assert make_client(sb).get(f"companies/{first['_id']}") == {
        "_id": first["_id"], "name": None, "url": 42}


@pytest.mark.parametrize("body", [[1, 2], "text", [{"_id": "x"}, None]])
def test_raw_insert_needs_objects(sb, body):
    assert _insert_raw(sb, "members", body).status_code == 400
    assert requests.post(f"{sb.url}/_sandbox/records/nope/raw", json={},
                         timeout=5).status_code == 404


def test_unencodable_strings_are_served_as_json_escapes(sb):
    # a lone surrogate cannot be UTF-8 encoded: the page falls back to \\u escapes
    body = '{"_id": "bad000000000000000000009", "name": "half \\ud800 pair"}'
    r = requests.post(f"{sb.url}/_sandbox/records/members/raw", data=body,
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 201
    client = make_client(sb)
    resp = client.session.get(f"{client.base}/members/bad000000000000000000009",
                              headers={"Authorization": f"Bearer {client.token()}"}, timeout=5)
    assert resp.status_code == 200 and "\\ud800" in resp.text
    assert json.loads(resp.text)["name"] == "half \ud800 pair"


def test_raw_records_persist_with_their_keys(tmp_path):
    path = tmp_path / "officernd.sqlite"
    with OfficeRnDSandbox(port=0, seed=3, scale=40, anchor=ANCHOR, state_file=path) as s1:
        keys = s1.insert_raw("members", BAD_MEMBERS)
    with OfficeRnDSandbox(port=0, state_file=path) as s2:
        assert [s2.state.get("members", k) for k in keys] == BAD_MEMBERS
        out = s2.mutate("members", update=100, seed=2)
        assert not set(keys) & set(out["updated"])
        assert s2.insert_raw("members", [{"_id": None}]) == ["~raw-000003"]


def _pages(sb: OfficeRnDSandbox, resource: str, max_pages: int) -> list[dict]:
    client = make_client(sb)
    params: dict = {"$limit": 20}
    pages = []
    for _ in range(max_pages):
        page = client.get(resource, params)
        pages.append(page)
        if page["cursorNext"] is None:
            break
        params["$cursorNext"] = page["cursorNext"]
    return pages


def test_cursor_loop_fault_repeats_a_cursor_until_switched_off(sb):
    r = requests.post(f"{sb.url}/_sandbox/faults", json={"cursor_loop": ["members"]}, timeout=5)
    assert r.json() == {"cursor_loop": ["members"], "cursor_loops_served": 0,
                        "latency_ms": 0.0, "latency_p95_ms": None}
    pages = _pages(sb, "members", 6)
    assert len(pages) == 6
    cursors = [p["cursorNext"] for p in pages]
    assert cursors[1:] == [cursors[0]] * 5  # the first page's cursor, over and over
    assert pages[1]["results"] == pages[2]["results"]
    assert len(_pages(sb, "companies", 10)) == 2  # other resources page normally
    stats = requests.get(f"{sb.url}/_sandbox/faults", timeout=5).json()
    assert stats["cursor_loops_served"] == 5

    requests.post(f"{sb.url}/_sandbox/faults", json={"cursor_loop": False}, timeout=5)
    assert len(_pages(sb, "members", 10)) == 6  # 120 members, 20 a page
    assert sb.set_faults(cursor_loop=True)["cursor_loop"] is True
    assert len(_pages(sb, "companies", 5)) == 5
    requests.post(f"{sb.url}/_sandbox/reset", timeout=5)
    assert requests.get(f"{sb.url}/_sandbox/faults", timeout=5).json() == {
        "cursor_loop": False, "cursor_loops_served": 0, "latency_ms": 0.0,
        "latency_p95_ms": None}


@pytest.mark.parametrize("value", ["members", ["nope"], [1]])
def test_cursor_loop_rejects_bad_settings(sb, value):
    r = requests.post(f"{sb.url}/_sandbox/faults", json={"cursor_loop": value}, timeout=5)
    assert r.status_code == 400 and r.json()["statusCode"] == 400
    assert sb.faults.describe()["cursor_loop"] is False

"""The seed generator: determinism, shapes, scaling and the shares of messy data."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from sandbox.officernd.seed import RESOURCES, SHARES, TIMESTAMPED, detect_anomalies, generate
from sandbox.officernd.times import parse_ts
from tests.sandbox.officernd.conftest import ANCHOR

HEX24 = re.compile(r"^[0-9a-f]{24}$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MIDNIGHT = re.compile(r"^\d{4}-\d\d-\d\dT00:00:00\.000Z$")


@pytest.fixture(scope="module")
def data():
    return generate(seed=42, scale=2000, anchor=ANCHOR)


def test_deterministic_for_seed_scale_anchor(data):
    again = generate(seed=42, scale=2000, anchor=ANCHOR)
    assert json.dumps(again.records, sort_keys=True) == json.dumps(data.records, sort_keys=True)
    other = generate(seed=43, scale=2000, anchor=ANCHOR)
    assert json.dumps(other.records["members"]) != json.dumps(data.records["members"])


def test_counts_scale_with_members(data):
    c = data.counts()
    assert c["members"] == 2000
    assert 3 <= c["locations"] <= 6
    assert c["companies"] == 400
    assert 20 <= c["plans"] <= 40
    assert c["resources"] == 200
    assert 400 <= c["contracts"] <= 520
    assert c["opportunities"] == 200
    assert 6 <= c["opportunity-statuses"] <= 8
    assert c["fees"] > 0 and c["memberships"] > 0
    assert generate(seed=42, scale=20_000, anchor=ANCHOR).counts()["plans"] == c["plans"]


def test_ids_unique_24_hex_and_sorted(data):
    seen = set()
    for name in RESOURCES:
        ids = [r["_id"] for r in data.records[name]]
        assert ids == sorted(ids)
        for i in ids:
            assert HEX24.match(i)
        seen.update(ids)
    assert len(seen) == sum(data.counts().values())


def test_timestamps_within_30_days_before_anchor(data):
    lo = ANCHOR - timedelta(days=30)
    for name in TIMESTAMPED:
        for r in data.records[name]:
            assert TS.match(r["createdAt"]) and TS.match(r["modifiedAt"])
            assert r["createdAt"] <= r["modifiedAt"]
            assert lo <= parse_ts(r["createdAt"]) <= ANCHOR
            assert parse_ts(r["modifiedAt"]) <= ANCHOR
    for name in ("plans", "locations", "opportunity-statuses"):
        assert all("modifiedAt" not in r for r in data.records[name])


def test_members_and_companies(data):
    companies = {c["_id"]: c for c in data.records["companies"]}
    members = data.records["members"]
    without = sum(1 for m in members if m["company"] is None)
    assert without == round(0.2 * len(members))
    for m in members:
        assert m["company"] is None or m["company"] in companies
    with_members = {m["company"] for m in members if m["company"]}
    assert with_members == set(companies)
    statuses = {m["status"] for m in members}
    assert statuses <= {"active", "former", "pending", "contact", "not_approved", "drop-in", "lead"}


def test_plans_resources_locations(data):
    plans = data.records["plans"]
    assert {p["type"] for p in plans} == {"office", "desk", "hotdesk", "service"}
    assert {p["intervalLength"] for p in plans} == {"month", "once"}
    assert any(p["code"] == "HD-M" for p in plans)
    assert all("createdAt" not in p for p in plans)
    types = {r["type"] for r in data.records["resources"]}
    assert types == {"meeting_room", "team_room", "desk", "desk_tr", "hotdesk"}
    loc_ids = {loc["_id"] for loc in data.records["locations"]}
    assert all(r["location"] in loc_ids for r in data.records["resources"])
    for loc in data.records["locations"]:
        assert loc["timezone"] and loc["code"]


def test_contracts(data):
    contracts = data.records["contracts"]
    plans = {p["_id"] for p in data.records["plans"]}
    members = {m["_id"]: m for m in data.records["members"]}
    numbers = [c["number"] for c in contracts]
    assert len(set(numbers)) == len(numbers)
    assert all(re.match(r"^CON-\d+$", n) for n in numbers)
    for c in contracts:
        assert c["status"] in {"signed", "draft", "terminated", "not_signed", "canceled"}
        assert c["stage"] in {"terminated", "served_notice", "active", "up_for_renewal",
                              "not_renewed", "expired", "rolling"}
        assert c["type"] in {"renewal", "expansion", "new"}
        assert 1 <= len(c["plans"]) <= 3
        for e in c["plans"]:
            assert e["id"] in plans and e["count"] >= 1 and e["steps"]
        assert c["baseTotal"] == round(sum(e["count"] * e["price"] for e in c["plans"]), 2)
        assert MIDNIGHT.match(c["startDate"])
        assert c["endDate"] is None or MIDNIGHT.match(c["endDate"])
        if c["member"]:
            assert members[c["member"]]["company"] == c["company"]
    companies = {c["company"] for c in contracts}
    assert len(companies) == data.counts()["companies"]


def test_opportunities(data):
    statuses = {s["_id"]: s for s in data.records["opportunity-statuses"]}
    names = {s["description"]: s["probability"] for s in statuses.values()}
    assert names["Open"] == 50 and names["Proposal"] == 60 and names["Won"] == 100
    assert names["Lost"] == 0 and "On hold" in names
    for o in data.records["opportunities"]:
        assert o["status"] in statuses
        assert o["probability"] == statuses[o["status"]]["probability"]
        assert o["company"] or o["member"]
        assert isinstance(o["dealSize"], int | float)


# messy data ------------------------------------------------------------------------------

def _share(anoms, resource, key, total):
    return len(anoms[resource][key]) / total


@pytest.mark.parametrize(("key", "share"), [
    ("invalid_email", SHARES["members.invalid_email"]),
    ("missing_email", SHARES["members.missing_email"]),
    ("duplicate_email", SHARES["members.duplicate_email"]),
    ("unnormalised_email", SHARES["members.unnormalised_email"]),
    ("unicode_name", SHARES["members.unicode_name"]),
    ("single_word_name", 0.03),
    ("missing_phone", SHARES["members.missing_phone"]),
])
def test_member_anomaly_shares(data, key, share):
    assert _share(data.anomalies(), "members", key, 2000) == pytest.approx(share, abs=0.003)


def test_other_anomaly_shares(data):
    a = data.anomalies()
    c = data.counts()
    assert _share(a, "companies", "shared_domain", c["companies"]) == pytest.approx(0.05, abs=0.005)
    assert _share(a, "contracts", "no_end_date", c["contracts"]) == pytest.approx(0.10, abs=0.005)
    assert _share(a, "contracts", "dates_out_of_range", c["contracts"]) == pytest.approx(
        0.02, abs=0.005)
    assert _share(a, "opportunities", "unmapped_status", c["opportunities"]) == pytest.approx(
        0.10, abs=0.005)
    assert len(a["plans"]["negative_price"]) == 2
    assert len(a["plans"]["many_decimals"]) == 3
    assert len(a["resources"]["non_numeric_price"]) == 1
    assert a["resources"]["many_decimals"]


def test_anomalies_are_what_they_claim(data):
    a = data.anomalies()
    members = {m["_id"]: m for m in data.records["members"]}
    for i in a["members"]["invalid_email"]:
        e = members[i]["email"].strip().lower()
        assert not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", e)
    for i in a["members"]["unnormalised_email"]:
        e = members[i]["email"]
        assert e != e.strip().lower()
    for i in a["members"]["duplicate_email"]:
        e = members[i]["email"].strip().lower()
        earlier = [m for m in data.records["members"] if m["_id"] < i
                   and isinstance(m["email"], str) and m["email"].strip().lower() == e]
        assert earlier
    assert any(not members[i]["name"].isascii() and " " not in members[i]["name"]
               for i in a["members"]["unicode_name"])  # CJK names
    resources = {r["_id"]: r for r in data.records["resources"]}
    assert resources[a["resources"]["non_numeric_price"][0]]["price"] == "TBD"
    contracts = {c["_id"]: c for c in data.records["contracts"]}
    for i in a["contracts"]["dates_out_of_range"]:
        c = contracts[i]
        assert (c["endDate"] < c["startDate"] or c["startDate"].startswith("1899")
                or c["endDate"].startswith("2999"))


def test_anomalies_recomputed_from_records(data):
    records = {k: [dict(r) for r in v] for k, v in data.records.items()}
    first = records["members"][0]
    first["email"] = "broken@"
    first["phone"] = None
    a = detect_anomalies(records)
    assert first["_id"] in a["members"]["invalid_email"]
    assert first["_id"] in a["members"]["missing_phone"]


def test_generation_is_fast():
    import time
    t = time.perf_counter()
    generate(seed=1, scale=10_000, anchor=ANCHOR)
    assert time.perf_counter() - t < 10

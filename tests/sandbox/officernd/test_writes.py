"""Contract of the OfficeRnD sandbox's write endpoints, over HTTP: create and update of
members, companies and opportunities, write scopes, validation errors, ``modifiedAt``
stamping seen through the ``modifiedAt`` window a forward sync reads, custom fields."""

from __future__ import annotations

import pytest
import requests

from sandbox.officernd import OfficeRnDSandbox
from tests.sandbox.officernd.conftest import ANCHOR

CREDS = {"client_id": "sandbox-client", "client_secret": "sandbox-secret",
         "grant_type": "client_credentials"}
READ = ("flex.community.members.read flex.community.companies.read "
        "flex.community.opportunities.read flex.community.opportunityStatuses.read")
WRITE = ("flex.community.members.create flex.community.members.update "
         "flex.community.companies.create flex.community.companies.update "
         "flex.community.opportunities.create flex.community.opportunities.update")


@pytest.fixture(scope="module")
def sb():
    with OfficeRnDSandbox(port=0, seed=11, scale=60, anchor=ANCHOR, rate_limit=0,
                          token_rate_limit=0) as box:
        yield box


def _token(sb: OfficeRnDSandbox, scope: str) -> str:
    r = requests.post(f"{sb.url}/oauth/token", data={**CREDS, "scope": scope}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def auth(sb):
    return {"Authorization": f"Bearer {_token(sb, READ + ' ' + WRITE)}"}


def _call(sb, method: str, path: str, headers: dict, **kw) -> requests.Response:
    return requests.request(method, f"{sb.api_url}/{path}", headers=headers, timeout=10, **kw)


def _first(sb, resource: str, **match) -> dict:
    return next(r for r in sb.state.records(resource)
                if all(r.get(k) == v for k, v in match.items()))


def test_update_changes_only_the_fields_passed_and_stamps_modified_at(sb, auth):
    member = _first(sb, "members", status="active")
    sb.advance_clock(60)
    before = sb.state.now_str()
    r = _call(sb, "PUT", f"members/{member['_id']}", auth,
              json={"phone": "+44 20 7946 0000",
                    "address": {"street": "1 New St", "city": "London", "zip": "N1",
                                "country": "United Kingdom", "state": None}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["phone"] == "+44 20 7946 0000" and body["address"]["street"] == "1 New St"
    for untouched in ("name", "email", "status", "company", "createdAt", "properties"):
        assert body[untouched] == member[untouched]
    assert member["modifiedAt"] < before <= body["modifiedAt"] <= sb.state.now_str()
    assert _call(sb, "GET", f"members/{member['_id']}", auth).json() == body
    # PATCH is the same partial update
    r = _call(sb, "PATCH", f"members/{member['_id']}", auth, json={"status": "former"})
    assert r.status_code == 200 and r.json()["status"] == "former"
    assert r.json()["phone"] == "+44 20 7946 0000"


def test_writes_are_seen_by_the_modified_at_window(sb, auth):
    sb.advance_clock(3600)
    window_start = sb.state.now_str()
    company = _first(sb, "companies")
    assert company["modifiedAt"] < window_start
    r = _call(sb, "PUT", f"companies/{company['_id']}", auth, json={"name": "Renamed Ltd"})
    assert r.status_code == 200
    created = _call(sb, "POST", "companies", auth,
                    json={"name": "Brand New Co", "status": "lead"}).json()
    r = _call(sb, "GET", "companies", auth, params={"modifiedAt[$gte]": window_start})
    ids = {c["_id"] for c in r.json()["results"]}
    assert ids == {company["_id"], created["_id"]}
    assert created["createdAt"] == created["modifiedAt"] >= window_start


def test_create_each_resource(sb, auth):
    location = sb.state.records("locations")[0]["_id"]
    company = _call(sb, "POST", "companies", auth,
                    json={"name": "Acme Two", "location": location, "url": "acme2.io",
                          "properties": {"hubspot_company_id": "123"}})
    assert company.status_code == 201, company.text
    co = company.json()
    assert len(co["_id"]) == 24 and co["properties"] == {"hubspot_company_id": "123"}
    member = _call(sb, "POST", "members", auth,
                   json={"name": "Ada Lovelace", "email": "ada@acme2.io", "company": co["_id"],
                         "location": location, "status": "lead"})
    assert member.status_code == 201, member.text
    won = _first(sb, "opportunity-statuses", description="Won")
    opp = _call(sb, "POST", "opportunities", auth,
                json={"name": "Acme Two - office", "status": won["_id"], "company": co["_id"],
                      "member": member.json()["_id"], "dealSize": 1200.5,
                      "startDate": "2026-12-01", "properties": {"hubspot_deal_id": "9001"}})
    assert opp.status_code == 201, opp.text
    o = opp.json()
    assert o["probability"] == won["probability"]  # follows the status when not given
    assert o["startDate"] == "2026-12-01T00:00:00.000Z"
    got = _call(sb, "GET", f"opportunities/{o['_id']}", auth).json()
    assert got == o


def test_list_filter_on_a_custom_property_finds_the_created_opportunity(sb, auth):
    status = _first(sb, "opportunity-statuses", description="Open")["_id"]
    company = _first(sb, "companies")["_id"]
    made = _call(sb, "POST", "opportunities", auth,
                 json={"name": "From a deal", "status": status, "company": company,
                       "properties": {"hubspot_deal_id": "555001"}}).json()
    r = _call(sb, "GET", "opportunities", auth,
              params={"properties[hubspot_deal_id]": "555001"})
    assert [o["_id"] for o in r.json()["results"]] == [made["_id"]]
    r = _call(sb, "GET", "opportunities", auth, params={"properties[hubspot_deal_id]": "1"})
    assert r.json()["results"] == []
    r = _call(sb, "GET", "opportunities", auth,
              params={"properties[hubspot_deal_id][$in]": "1,555001"})
    assert [o["_id"] for o in r.json()["results"]] == [made["_id"]]
    # custom fields merge on update; null removes one
    r = _call(sb, "PUT", f"opportunities/{made['_id']}", auth,
              json={"properties": {"note": "x"}})
    assert r.json()["properties"] == {"hubspot_deal_id": "555001", "note": "x"}
    r = _call(sb, "PUT", f"opportunities/{made['_id']}", auth,
              json={"properties": {"note": None}})
    assert r.json()["properties"] == {"hubspot_deal_id": "555001"}


def test_status_change_moves_probability(sb, auth):
    opp = _first(sb, "opportunities")
    lost = _first(sb, "opportunity-statuses", description="Lost")
    r = _call(sb, "PUT", f"opportunities/{opp['_id']}", auth, json={"status": lost["_id"]})
    assert r.status_code == 200 and r.json()["probability"] == 0


@pytest.mark.parametrize(("path", "method", "body", "named"), [
    ("members", "POST", {"email": "x@y.io"}, "name should not be empty"),
    ("members", "POST", {"name": "A", "status": "vip"}, "status must be one of"),
    ("members", "POST", {"name": "A", "phone": 123}, "phone must be a string"),
    ("members", "POST", {"name": "A", "company": "0" * 24}, "company must be the id"),
    ("members", "POST", {"name": "A", "nickname": "x"}, "property nickname should not exist"),
    ("members", "POST", {"name": "A", "_id": "a" * 24}, "property _id should not exist"),
    ("companies", "POST", {"name": "A", "address": {"road": "x"}}, "address has unknown keys"),
    ("companies", "POST", {"name": "A", "startDate": "soon"}, "startDate must be a valid"),
    ("opportunities", "POST", {"name": "A"}, "status should not be empty"),
    ("opportunities", "POST", {"name": "A", "status": "0" * 24, "member": None},
     "status must be the id of an existing opportunity status"),
])
def test_validation_errors_name_the_field(sb, auth, path, method, body, named):
    before = sb.state.record_counts()
    r = _call(sb, method, path, auth, json=body)
    assert r.status_code == 400
    err = r.json()
    assert err["statusCode"] == 400 and err["error"] == "Bad Request"
    assert named in err["message"], err
    assert sb.state.record_counts() == before


def test_opportunity_needs_a_company_or_member(sb, auth):
    status = _first(sb, "opportunity-statuses", description="Open")["_id"]
    r = _call(sb, "POST", "opportunities", auth, json={"name": "Orphan", "status": status})
    assert r.status_code == 400 and "company or member is required" in r.json()["message"]
    opp = _first(sb, "opportunities", member=None)
    r = _call(sb, "PUT", f"opportunities/{opp['_id']}", auth, json={"company": None})
    assert r.status_code == 400 and "company or member is required" in r.json()["message"]


def test_update_errors(sb, auth):
    member = _first(sb, "members")
    r = _call(sb, "PUT", f"members/{'f' * 24}", auth, json={"phone": "1"})
    assert r.status_code == 404 and r.json()["statusCode"] == 404
    r = _call(sb, "PUT", f"members/{member['_id']}", auth, json={"name": " "})
    assert r.status_code == 400 and "name should not be empty" in r.json()["message"]
    r = _call(sb, "PUT", f"members/{member['_id']}", auth, data="[1]")
    assert r.status_code == 400
    assert sb.state.coll("members").by_id[member["_id"]] == member
    # resources without write endpoints
    r = _call(sb, "POST", "plans", auth, json={"name": "x"})
    assert r.status_code == 404


def test_write_scopes(sb):
    member = _first(sb, "members")
    read_only = {"Authorization": f"Bearer {_token(sb, READ)}"}
    r = _call(sb, "PUT", f"members/{member['_id']}", read_only, json={"phone": "1"})
    assert r.status_code == 403
    assert r.json() == {"statusCode": 403, "error": "Forbidden", "message":
                        "Insufficient scope: flex.community.members.update required"}
    update_only = {"Authorization": f"Bearer {_token(sb, 'flex.community.members.update')}"}
    r = _call(sb, "POST", "members", update_only, json={"name": "X"})
    assert r.status_code == 403 and "flex.community.members.create" in r.json()["message"]
    assert _call(sb, "PUT", f"members/{member['_id']}", update_only,
                 json={"phone": "2"}).status_code == 200
    assert _call(sb, "PUT", f"members/{member['_id']}", {}, json={}).status_code == 401


def test_read_only_application_gets_no_write_scope():
    with OfficeRnDSandbox(port=0, seed=3, scale=20, anchor=ANCHOR,
                          write_access=False) as ro:
        r = requests.post(f"{ro.url}/oauth/token", timeout=5,
                          data={**CREDS, "scope": "flex.community.members.update"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_writes_counted_in_stats(sb, auth):
    requests.post(f"{sb.url}/_sandbox/stats/reset", timeout=5)
    member = _first(sb, "members")
    _call(sb, "PUT", f"members/{member['_id']}", auth, json={"phone": "3"})
    _call(sb, "PUT", f"members/{member['_id']}", auth, json={"phone": 3})
    stats = requests.get(f"{sb.url}/_sandbox/stats", timeout=5).json()
    assert stats["writes"] == {"members": {"updated": 1, "refused": 1}}
    routes = {(x["method"], x["route"], x["status"]): x["count"] for x in stats["requests"]}
    assert routes[("PUT", "/api/v2/organizations/{slug}/{resource}/{rid}", 200)] == 1
    assert sb.write_counts() == stats["writes"]


def test_person_edit_stamps_modified_at(sb):
    member = _first(sb, "members")
    sb.advance_clock(5)
    before = sb.state.now_str()
    r = requests.patch(f"{sb.url}/_sandbox/records/members/{member['_id']}",
                       json={"phone": "+1 555 0100"}, timeout=5)
    assert r.status_code == 200 and before <= r.json()["modifiedAt"] <= sb.state.now_str()
    sb.advance_clock(5)
    edited = sb.user_edit("members", member["_id"], {"phone": "+1 555 0101"})
    assert r.json()["modifiedAt"] < edited["modifiedAt"] <= sb.state.now_str()

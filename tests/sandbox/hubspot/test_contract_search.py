"""Contract: CRM search through the official client."""

from __future__ import annotations

import pytest
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest


def search(client, **body):
    return client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(**body))


@pytest.fixture
def people(hs):
    hs.state.seed("contacts", [
        {"email": "ann@acme.com", "firstname": "Ann", "lifecyclestage": "lead", "city": "Oslo"},
        {"email": "bob@acme.com", "firstname": "Bob", "lifecyclestage": "customer"},
        {"email": "cy@globex.com", "firstname": "Cy", "lifecyclestage": "lead"},
    ])


def test_filters_sort_and_properties(client, people):
    res = search(client, filter_groups=[{"filters": [
        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]}],
        sorts=[{"propertyName": "firstname", "direction": "DESCENDING"}],
        properties=["firstname", "city"], limit=10)
    assert res.total == 2
    assert [r.properties["firstname"] for r in res.results] == ["Cy", "Ann"]
    assert "email" not in res.results[0].properties
    assert res.paging is None


def test_or_across_groups_and_token_match(client, people):
    res = search(client, filter_groups=[
        {"filters": [{"propertyName": "email", "operator": "CONTAINS_TOKEN",
                      "value": "*@globex.com"}]},
        {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "bob"}]}])
    assert sorted(r.properties["email"] for r in res.results) == ["bob@acme.com",
                                                                  "cy@globex.com"]


def test_default_properties(client, people):
    res = search(client)
    assert set(res.results[0].properties) == {"email", "firstname", "createdate",
                                              "lastmodifieddate", "hs_object_id"}


def test_paging_and_10k_cap(client, hs):
    hs.state.seed("contacts", ({"email": f"c{i}@x.com"} for i in range(10_050)))
    page = search(client, limit=200, sorts=["hs_object_id"])
    assert page.total == 10_050 and page.paging.next.after == "200"
    nxt = search(client, limit=200, after=page.paging.next.after, sorts=["hs_object_id"])
    assert int(nxt.results[0].id) == int(page.results[-1].id) + 1
    edge = search(client, limit=5, after="9995")
    assert len(edge.results) == 5 and edge.total == 10_050
    with pytest.raises(ApiException) as exc:
        search(client, limit=5, after=edge.paging.next.after)
    assert exc.value.status == 400
    assert '"category":"VALIDATION_ERROR"' in exc.value.body.replace(" ", "")


def test_limit_above_200_rejected(client, people):
    with pytest.raises(ApiException) as exc:
        search(client, limit=201)
    assert exc.value.status == 400


def test_too_many_filter_groups(client, people):
    group = {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}
    with pytest.raises(ApiException) as exc:
        search(client, filter_groups=[group] * 6)
    assert exc.value.status == 400 and "max allowed: 5" in exc.value.body

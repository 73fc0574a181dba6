"""Property history (``propertiesWithHistory``), last-modified stamping and search by it,
and a person's edits (``/_sandbox/user-edit``, ``/_sandbox/user-create``): through the
official hubspot-api-client where it has the parameter, and raw HTTP."""

from __future__ import annotations

import time

from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectInput

from sandbox.hubspot.models.history import MAX_VERSIONS


def _create(http, hs, otype: str, props: dict) -> dict:
    r = http.post(f"{hs.url}/crm/v3/objects/{otype}", json={"properties": props})
    assert r.status_code == 201, r.text
    return r.json()


def _patch(http, hs, otype: str, rid: str, props: dict) -> dict:
    r = http.patch(f"{hs.url}/crm/v3/objects/{otype}/{rid}", json={"properties": props})
    assert r.status_code == 200, r.text
    return r.json()


def test_history_through_the_official_client(hs, client):
    made = client.crm.contacts.basic_api.create(SimplePublicObjectInput(
        properties={"email": "ada@example.com", "phone": "+1 555 0100"}))
    time.sleep(0.005)
    client.crm.contacts.basic_api.update(made.id, SimplePublicObjectInput(
        properties={"phone": "+1 555 0101"}))
    time.sleep(0.005)
    hs.user_edit("contacts", made.id, {"phone": "+1 555 0102"})

    got = client.crm.contacts.basic_api.get_by_id(
        made.id, properties=["phone"], properties_with_history=["phone", "email", "city"])
    phone = got.properties_with_history["phone"]
    assert [v.value for v in phone] == ["+1 555 0102", "+1 555 0101", "+1 555 0100"]
    assert [v.source_type for v in phone] == ["CRM_UI", "INTEGRATION", "INTEGRATION"]
    assert phone[0].timestamp > phone[1].timestamp > phone[2].timestamp
    assert [v.value for v in got.properties_with_history["email"]] == ["ada@example.com"]
    assert got.properties_with_history["city"] == []
    assert got.properties["lastmodifieddate"] == phone[0].timestamp.isoformat(
        timespec="milliseconds").replace("+00:00", "Z")

    batch = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": made.id}], properties=["phone"], properties_with_history=["phone"]))
    assert [v.value for v in batch.results[0].properties_with_history["phone"]] == \
        ["+1 555 0102", "+1 555 0101", "+1 555 0100"]
    page = client.crm.contacts.basic_api.get_page(properties_with_history=["phone"])
    assert page.results[0].properties_with_history["phone"][0].source_type == "CRM_UI"


def test_history_over_raw_http(hs, http):
    deal = _create(http, hs, "deals", {"dealname": "D", "dealstage": "appointmentscheduled",
                                       "amount": "100"})
    _patch(http, hs, "deals", deal["id"], {"amount": "100"})  # unchanged: no new version
    _patch(http, hs, "deals", deal["id"], {"amount": "250"})
    _patch(http, hs, "deals", deal["id"], {"amount": ""})      # cleared: a version ""
    r = http.get(f"{hs.url}/crm/v3/objects/deals/{deal['id']}",
                 params={"propertiesWithHistory": "amount,dealstage"})
    hist = r.json()["propertiesWithHistory"]
    assert [e["value"] for e in hist["amount"]] == ["", "250", "100"]
    assert set(hist["amount"][0]) == {"value", "timestamp", "sourceType", "sourceId"}
    assert hist["amount"][0]["sourceType"] == "INTEGRATION"
    assert hist["dealstage"] == [{**hist["dealstage"][0], "value": "appointmentscheduled"}]
    assert hist["dealstage"][0]["timestamp"] == deal["createdAt"]


def test_versions_are_capped_per_property(hs, http):
    c = _create(http, hs, "companies", {"name": "v0"})
    for n in range(1, MAX_VERSIONS + 5):
        _patch(http, hs, "companies", c["id"], {"name": f"v{n}"})
    r = http.post(f"{hs.url}/crm/v3/objects/companies/batch/read",
                  json={"inputs": [{"id": c["id"]}], "propertiesWithHistory": ["name"]})
    versions = [e["value"] for e in r.json()["results"][0]["propertiesWithHistory"]["name"]]
    assert len(versions) == MAX_VERSIONS and versions[0] == f"v{MAX_VERSIONS + 4}"


def test_batch_read_with_history_takes_50_inputs(hs, http):
    url = f"{hs.url}/crm/v3/objects/contacts/batch/read"
    inputs = [{"id": str(1000 + n)} for n in range(51)]
    r = http.post(url, json={"inputs": inputs, "propertiesWithHistory": ["email"]})
    assert r.status_code == 400
    body = r.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("The maximum number of inputs supported in a batch "
                                      "request for property histories is 50")
    assert http.post(url, json={"inputs": inputs}).status_code in (200, 207)
    assert http.post(url, json={"inputs": inputs[:50],
                                "propertiesWithHistory": ["email"]}).status_code in (200, 207)


def test_last_modified_moves_only_on_a_change_and_is_searchable(hs, http):
    a = _create(http, hs, "contacts", {"email": "a@example.com"})
    b = _create(http, hs, "contacts", {"email": "b@example.com"})
    time.sleep(0.01)
    start = int(time.time() * 1000)
    time.sleep(0.01)
    same = _patch(http, hs, "contacts", a["id"], {"email": "a@example.com"})
    assert same["properties"]["lastmodifieddate"] == a["properties"]["lastmodifieddate"]
    assert same["updatedAt"] == a["updatedAt"]
    edited = hs.user_edit("contacts", b["id"], {"firstname": "Bea"})
    assert edited["properties"]["lastmodifieddate"] > b["properties"]["lastmodifieddate"]
    end = int(time.time() * 1000) + 1

    def search(filters: list[dict], otype: str = "contacts") -> list[str]:
        r = http.post(f"{hs.url}/crm/v3/objects/{otype}/search", json={
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["results"]]

    window = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(start)},
              {"propertyName": "lastmodifieddate", "operator": "LT", "value": str(end)}]
    assert search(window) == [b["id"]]
    assert search([{"propertyName": "lastmodifieddate", "operator": "BETWEEN",
                    "value": str(start), "highValue": str(end)}]) == [b["id"]]
    assert search([{"propertyName": "lastmodifieddate", "operator": "LTE",
                    "value": str(start)}]) == [a["id"]]
    assert search([{"propertyName": "lastmodifieddate", "operator": "GT",
                    "value": edited["properties"]["lastmodifieddate"]}]) == []
    # keyset within the window, as the reverse extract pages it
    assert search(window + [{"propertyName": "hs_object_id", "operator": "GT",
                             "value": b["id"]}]) == []
    deal = _create(http, hs, "deals", {"dealname": "D", "dealstage": "appointmentscheduled"})
    time.sleep(0.01)
    mark = deal["properties"]["hs_lastmodifieddate"]
    hs.user_edit("deals", deal["id"], {"dealstage": "qualifiedtobuy"})
    assert search([{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": mark}],
                  "deals") == [deal["id"]]


def test_user_create_over_http(hs, http):
    company = _create(http, hs, "companies", {"name": "Acme"})
    r = http.post(f"{hs.url}/_sandbox/user-create/deals", json={
        "properties": {"dealname": "Walk-in", "dealstage": "appointmentscheduled"},
        "associations": [{"to": {"id": company["id"]}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]})
    assert r.status_code == 201, r.text
    deal = r.json()
    hist = http.get(f"{hs.url}/crm/v3/objects/deals/{deal['id']}", params={
        "propertiesWithHistory": "dealstage", "associations": "companies"}).json()
    assert hist["propertiesWithHistory"]["dealstage"][0]["sourceType"] == "CRM_UI"
    assert hist["associations"]["companies"]["results"][0]["id"] == company["id"]
    r = http.post(f"{hs.url}/_sandbox/user-edit/deals/{deal['id']}",
                  json={"properties": {"dealstage": "qualifiedtobuy"}})
    assert r.status_code == 200 and r.json()["properties"]["dealstage"] == "qualifiedtobuy"
    r = http.post(f"{hs.url}/_sandbox/user-edit/deals/{deal['id']}",
                  json={"properties": {"dealstage": "no-such-stage"}})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    r = http.post(f"{hs.url}/_sandbox/user-edit/deals/999999", json={"properties": {}})
    assert r.status_code == 404
    # a later API write of the same property is an INTEGRATION version on top
    _patch(http, hs, "deals", deal["id"], {"dealstage": "closedwon"})
    hist = http.get(f"{hs.url}/crm/v3/objects/deals/{deal['id']}",
                    params={"propertiesWithHistory": "dealstage"}).json()
    assert [(e["value"], e["sourceType"]) for e in hist["propertiesWithHistory"]["dealstage"]] \
        == [("closedwon", "INTEGRATION"), ("qualifiedtobuy", "CRM_UI"),
            ("appointmentscheduled", "CRM_UI")]

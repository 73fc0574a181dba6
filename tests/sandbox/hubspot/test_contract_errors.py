"""Contract: HubSpot's error answers as the official client sees them."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import PropertyCreate

from sandbox.hubspot import HubSpotSandbox


def body(exc: pytest.ExceptionInfo) -> dict:
    return json.loads(exc.value.body)


def property_errors(exc: pytest.ExceptionInfo) -> list[dict]:
    message = body(exc)["message"]
    assert message.startswith("Property values were not valid: ")
    return json.loads(message[len("Property values were not valid: "):])


def create(client, **props):
    return client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties=props))


def test_409_contact_conflict_names_existing_id(client):
    first = create(client, email="dup@x.com")
    with pytest.raises(ApiException) as exc:
        create(client, email="DUP@x.com")
    assert exc.value.status == 409
    b = body(exc)
    assert b["category"] == "CONFLICT" and b["status"] == "error" and b["correlationId"]
    assert b["message"] == f"Contact already exists. Existing ID: {first.id}"


def test_401_bad_token(hs):
    bad = hubspot.HubSpot(access_token="pat-na1-wrong", host=hs.url)
    with pytest.raises(ApiException) as exc:
        bad.crm.contacts.basic_api.get_page()
    assert exc.value.status == 401
    assert exc.value.headers["X-HubSpot-Auth-Failure"] == "401 Unauthorized"
    b = body(exc)
    assert b["category"] == "INVALID_AUTHENTICATION"
    assert b["message"].startswith("Authentication credentials not found.")


def test_429_burst_policy():
    with HubSpotSandbox(port=0, burst_limit=3) as sb:
        client = hubspot.HubSpot(access_token="sandbox-token", host=sb.url)
        api = client.crm.contacts.basic_api
        for _ in range(3):
            api.get_page()
        with pytest.raises(ApiException) as exc:
            api.get_page()
        assert exc.value.status == 429
        b = body(exc)
        assert b["policyName"] == "TEN_SECONDLY_ROLLING" and b["errorType"] == "RATE_LIMIT"
        assert b["message"] == "You have reached your ten_secondly_rolling limit."
        assert exc.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert exc.value.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        statuses = {r["status"]: r["count"] for r in sb.stats()["requests"]}
        assert statuses == {200: 3, 429: 1}


def test_invalid_option(client):
    with pytest.raises(ApiException) as exc:
        create(client, email="o@x.com", lifecyclestage="vip")
    assert exc.value.status == 400 and body(exc)["category"] == "VALIDATION_ERROR"
    (p,) = property_errors(exc)
    assert p["error"] == "INVALID_OPTION" and p["name"] == "lifecyclestage"
    assert "was not one of the allowed options" in p["message"]


def test_invalid_date(client):
    client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="joined_on", label="Joined", type="date", field_type="date",
        group_name="contactinformation"))
    with pytest.raises(ApiException) as exc:
        create(client, email="d@x.com", joined_on="2024-03-01T12:00:00Z")
    (p,) = property_errors(exc)
    assert p["error"] == "INVALID_DATE" and "not midnight" in p["message"]
    ok = create(client, email="d@x.com", joined_on="2024-03-01")
    assert ok.properties["joined_on"] == "2024-03-01"


def test_property_doesnt_exist(client):
    with pytest.raises(ApiException) as exc:
        create(client, email="p@x.com", favourite_colour="teal")
    (p,) = property_errors(exc)
    assert p["error"] == "PROPERTY_DOESNT_EXIST" and p["name"] == "favourite_colour"


def test_batch_create_all_or_nothing_vs_trace_ids(client, hs):
    batch = client.crm.contacts.batch_api
    create(client, email="taken@x.com")
    with pytest.raises(ApiException) as exc:
        batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
            {"properties": {"email": "n1@x.com"}},
            {"properties": {"email": "taken@x.com"}}]))
    assert exc.value.status == 409
    assert hs.state.counts()["contacts"] == 1
    res = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"properties": {"email": "n1@x.com"}, "objectWriteTraceId": "1"},
        {"properties": {"email": "taken@x.com"}, "objectWriteTraceId": "2"}]))
    assert res.num_errors == 1 and len(res.results) == 1
    assert hs.state.counts()["contacts"] == 2


def test_batch_create_over_100_inputs(client):
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": {"email": f"x{i}@x.com"}} for i in range(101)]))
    assert exc.value.status == 400 and body(exc)["category"] == "VALIDATION_ERROR"


def test_batch_update_refuses_email_id_property(client):
    create(client, email="u@x.com")
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
            {"id": "u@x.com", "idProperty": "email", "properties": {"firstname": "U"}}]))
    assert exc.value.status == 400
    assert "Unable to perform update/upsert by non-unique 0-1 property email" in \
        body(exc)["message"]


def test_batch_update_207_with_trace_context(client):
    c = create(client, email="v@x.com")
    res = client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": c.id, "properties": {"firstname": "V"}, "objectWriteTraceId": "ok"},
        {"id": "888888", "properties": {"firstname": "W"}, "objectWriteTraceId": "missing"}]))
    assert res.num_errors == 1
    assert res.errors[0].context == {"ids": ["888888"], "objectWriteTraceId": ["missing"]}
    assert res.results[0].properties["firstname"] == "V"


def test_404_not_found(client):
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_by_id("123456")
    assert exc.value.status == 404 and body(exc)["category"] == "OBJECT_NOT_FOUND"

"""Contract: the official hubspot-api-client (v12) against the sandbox."""

from __future__ import annotations

from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInputUpsert as CompanyUpsert
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import PropertyCreate


def test_client_uses_sandbox_host(client, hs):
    api = client.crm.contacts.basic_api
    assert api.api_client.configuration.host == hs.url


def test_create_read_update_archive(client):
    api = client.crm.contacts.basic_api
    created = api.create(SimplePublicObjectInputForCreate(
        properties={"email": "Ada@Example.com", "firstname": "Ada"}, associations=[]))
    assert created.properties["email"] == "ada@example.com"
    assert created.created_at is not None and created.properties["hs_object_id"] == created.id
    got = api.get_by_id("ada@example.com", id_property="email", properties=["firstname"])
    assert got.id == created.id and got.properties["firstname"] == "Ada"
    updated = api.update(created.id, SimplePublicObjectInput(properties={"lastname": "L"}))
    assert updated.properties["lastname"] == "L"
    api.archive(created.id)
    page = api.get_page(archived=True)
    assert [r.id for r in page.results] == [created.id]


def test_get_all_pages_through_everything(client, hs):
    hs.state.seed("contacts", ({"email": f"p{i}@x.com", "firstname": f"P{i}"}
                               for i in range(250)))
    everyone = client.crm.contacts.get_all(properties=["firstname"])
    assert len(everyone) == 250
    assert len({c.id for c in everyone}) == 250
    assert everyone[0].properties["firstname"] == "P0"
    # 3 pages of 100
    calls = [r for r in hs.stats()["requests"] if r["route"] == "/crm/v3/objects/{objectType}"]
    assert sum(r["count"] for r in calls) == 3


def test_object_type_ids_work_in_paths(client, hs, http):
    deal = client.crm.deals.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"dealname": "D", "dealstage": "appointmentscheduled", "amount": "10"}))
    r = http.get(f"{hs.url}/crm/v3/objects/0-3/{deal.id}")
    assert r.status_code == 200 and r.json()["properties"]["dealname"] == "D"


def test_batch_upsert_by_unique_custom_property(client):
    client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="officernd_id", label="OfficeRnD id", type="string", field_type="text",
        group_name="contactinformation", has_unique_value=True))
    batch = client.crm.contacts.batch_api
    first = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        {"id": "m1", "idProperty": "officernd_id",
         "properties": {"email": "m1@x.com", "firstname": "One"}},
        {"id": "m2", "idProperty": "officernd_id",
         "properties": {"email": "m2@x.com", "firstname": "Two"}}]))
    assert [r.new for r in first.results] == [True, True]
    second = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        {"id": "m1", "idProperty": "officernd_id", "properties": {"firstname": "Uno"}},
        {"id": "m3", "idProperty": "officernd_id", "properties": {"email": "m3@x.com"}}]))
    assert [r.new for r in second.results] == [False, True]
    assert second.results[0].id == first.results[0].id
    assert second.results[0].properties["firstname"] == "Uno"
    read = batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "m1"}, {"id": "m3"}], id_property="officernd_id",
        properties=["officernd_id", "firstname"], properties_with_history=[]))
    assert sorted(r.properties["officernd_id"] for r in read.results) == ["m1", "m3"]


def test_batch_upsert_companies_by_domain(client):
    batch = client.crm.companies.batch_api
    res = batch.upsert(CompanyUpsert(inputs=[
        {"id": "acme.com", "idProperty": "domain", "properties": {"name": "Acme"}}]))
    again = batch.upsert(CompanyUpsert(inputs=[
        {"id": "acme.com", "idProperty": "domain", "properties": {"city": "Lyon"}}]))
    assert res.results[0].new is True and again.results[0].new is False
    assert again.results[0].id == res.results[0].id


def test_batch_read_207_lists_found_and_errors(client):
    batch = client.crm.contacts.batch_api
    created = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"properties": {"email": "r1@x.com"}, "associations": []}]))
    res = batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": created.results[0].id}, {"id": "31337"}], properties=["email"],
        properties_with_history=[]))
    assert res.num_errors == 1 and res.errors[0].category == "OBJECT_NOT_FOUND"
    assert res.errors[0].context["ids"] == ["31337"]
    assert [r.id for r in res.results] == [created.results[0].id]


def test_batch_create_trace_ids_multi_status(client):
    batch = client.crm.contacts.batch_api
    client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "taken@x.com"}))
    res = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"properties": {"email": "fresh@x.com"}, "objectWriteTraceId": "a"},
        {"properties": {"email": "taken@x.com"}, "objectWriteTraceId": "b"}]))
    assert res.num_errors == 1
    assert res.errors[0].context["objectWriteTraceId"] == ["b"]
    assert res.errors[0].category == "CONFLICT"
    assert [r.properties["email"] for r in res.results] == ["fresh@x.com"]


def test_merge_through_client(client):
    from hubspot.crm.contacts import PublicMergeInput

    api = client.crm.contacts.basic_api
    a = api.create(SimplePublicObjectInputForCreate(properties={"email": "a@m.com"}))
    b = api.create(SimplePublicObjectInputForCreate(properties={"email": "b@m.com",
                                                                "city": "Turin"}))
    merged = api.merge(PublicMergeInput(primary_object_id=a.id, object_id_to_merge=b.id))
    assert merged.id == a.id and merged.properties["city"] == "Turin"


def test_line_items_and_products(client):
    product = client.crm.products.basic_api.create(
        {"properties": {"name": "Hot desk", "price": "199.00", "hs_recurring_billing_period":
                        "P12M", "recurringbillingfrequency": "monthly"}})
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "Contract 7"}})
    li = client.crm.line_items.basic_api.create({
        "properties": {"hs_product_id": product.id, "quantity": "2"},
        "associations": [{"to": {"id": deal.id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}]}]})
    assert li.properties["name"] == "Hot desk" and li.properties["amount"] == "398"
    page = client.crm.associations.v4.basic_api.get_page("deals", deal.id, "line_items")
    assert [r.to_object_id for r in page.results] == [li.id]
    assert page.results[0].association_types[0].type_id == 19

"""Contract: associations v4 through the official client."""

from __future__ import annotations

from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)


def make(client):
    contact = client.crm.contacts.basic_api.create({"properties": {"email": "a@x.com"}})
    company = client.crm.companies.basic_api.create({"properties": {"name": "Co"}})
    return contact.id, company.id


def test_batch_create_then_read_from_both_sides(client):
    contact, company = make(client)
    v4 = client.crm.associations.v4
    created = v4.batch_api.create("contacts", "companies", BatchInputPublicAssociationMultiPost(
        inputs=[{"from": {"id": contact}, "to": {"id": company},
                 "types": [{"associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 1}]}]))
    assert created.results[0].from_object_id == contact
    assert created.results[0].labels == ["Primary"]
    fwd = v4.batch_api.get_page("contacts", "companies",
                                BatchInputPublicFetchAssociationsBatchRequest(
                                    inputs=[{"id": contact}]))
    assert fwd.results[0].to[0].to_object_id == company
    assert {t.type_id for t in fwd.results[0].to[0].association_types} == {1, 279}
    back = v4.batch_api.get_page("companies", "contacts",
                                 BatchInputPublicFetchAssociationsBatchRequest(
                                     inputs=[{"id": company}]))
    assert back.results[0].to[0].to_object_id == contact
    assert {t.type_id for t in back.results[0].to[0].association_types} == {2, 280}
    labels = {t.label for t in back.results[0].to[0].association_types}
    assert labels == {"Primary", None}


def test_default_and_labelled_single(client):
    contact, company = make(client)
    v4 = client.crm.associations.v4
    res = v4.basic_api.create_default("contacts", contact, "companies", company)
    assert res.results[0].association_spec.association_type_id == 279
    pair = v4.basic_api.create("deals", client.crm.deals.basic_api.create(
        {"properties": {"dealname": "d"}}).id, "companies", company,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=5)])
    assert pair.labels == ["Primary"]
    page = v4.basic_api.get_page("companies", company, "deals")
    assert {t.type_id for t in page.results[0].association_types} == {6, 342}
    v4.basic_api.archive("contacts", contact, "companies", company)
    assert v4.basic_api.get_page("companies", company, "contacts").results == []


def test_batch_default_and_missing_target(client):
    contact, company = make(client)
    v4 = client.crm.associations.v4
    res = v4.batch_api.create_default("contacts", "companies",
                                      BatchInputPublicDefaultAssociationMultiPost(inputs=[
                                          {"from": {"id": contact}, "to": {"id": company}},
                                          {"from": {"id": contact}, "to": {"id": "999999"}}]))
    assert len(res.results) == 1
    assert res.results[0].association_spec.association_type_id == 279


def test_batch_default_reports_failed_inputs(hs, http, client):
    contact, company = make(client)
    r = http.post(f"{hs.url}/crm/v4/associations/contacts/companies/batch/associate/default",
                  json={"inputs": [{"from": {"id": contact}, "to": {"id": "999999"}}]})
    assert r.status_code == 200
    assert r.json()["numErrors"] == 1 and r.json()["results"] == []


def test_v3_associations_param(client):
    contact, company = make(client)
    client.crm.associations.v4.basic_api.create_default("contacts", contact, "companies",
                                                        company)
    got = client.crm.contacts.basic_api.get_by_id(contact, associations=["companies"])
    results = got.associations["companies"].results
    assert [(r.id, r.type) for r in results] == [(company, "contact_to_company_unlabeled")]

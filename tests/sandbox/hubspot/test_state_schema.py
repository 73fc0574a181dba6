"""Properties, groups, pipelines and associations on the pure-Python state."""

from __future__ import annotations

import pytest

from sandbox.hubspot.state import HubSpotError, HubSpotState

REQUIRED_DEFAULTS = {
    "contacts": ["email", "firstname", "lastname", "phone", "mobilephone", "company", "website",
                 "address", "city", "state", "zip", "country", "jobtitle", "lifecyclestage",
                 "hs_object_id", "createdate", "lastmodifieddate"],
    "companies": ["name", "domain", "website", "phone", "address", "city", "state", "zip",
                  "country", "description", "industry", "numberofemployees", "hs_object_id",
                  "createdate", "hs_lastmodifieddate"],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "closedate", "dealtype",
              "description", "hs_object_id", "createdate", "hs_lastmodifieddate"],
    "products": ["name", "description", "price", "hs_sku", "hs_cost_of_goods_sold",
                 "hs_recurring_billing_period", "recurringbillingfrequency", "hs_product_type",
                 "hs_object_id", "createdate", "hs_lastmodifieddate"],
    "line_items": ["name", "quantity", "price", "amount", "hs_product_id", "hs_sku",
                   "hs_recurring_billing_period", "recurringbillingfrequency", "hs_object_id",
                   "createdate", "hs_lastmodifieddate"],
}


@pytest.mark.parametrize("otype", sorted(REQUIRED_DEFAULTS))
def test_default_properties_exist(state: HubSpotState, otype):
    props = {p["name"]: p for p in state.list_properties(otype)["results"]}
    missing = set(REQUIRED_DEFAULTS[otype]) - set(props)
    assert not missing
    for p in props.values():
        assert p["hubspotDefined"] is True
        assert set(p["modificationMetadata"]) == {"archivable", "readOnlyDefinition",
                                                  "readOnlyValue"}
    assert props["hs_object_id"]["modificationMetadata"]["readOnlyValue"] is True
    assert props["createdate"]["modificationMetadata"]["readOnlyValue"] is True


def test_default_property_types(state):
    deals = {p["name"]: p for p in state.list_properties("deals")["results"]}
    assert deals["amount"]["type"] == "number"
    assert deals["closedate"]["type"] == "datetime"
    assert [o["value"] for o in deals["dealtype"]["options"]] == ["newbusiness",
                                                                  "existingbusiness"]
    contacts = {p["name"]: p for p in state.list_properties("contacts")["results"]}
    assert [o["value"] for o in contacts["lifecyclestage"]["options"]][:3] == [
        "subscriber", "lead", "marketingqualifiedlead"]
    items = {p["name"]: p for p in state.list_properties("line_items")["results"]}
    assert items["amount"]["modificationMetadata"]["readOnlyValue"] is True
    products = {p["name"]: p for p in state.list_properties("products")["results"]}
    freq = [o["value"] for o in products["recurringbillingfrequency"]["options"]]
    assert {"weekly", "biweekly", "monthly", "quarterly", "per_six_months", "annually",
            "per_two_years"} <= set(freq)
    assert [o["value"] for o in products["hs_product_type"]["options"]] == [
        "inventory", "non_inventory", "service"]


def test_property_crud(state):
    body = {"name": "member_tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
            "groupName": "contactinformation",
            "options": [{"label": "Gold", "value": "gold"}, {"label": "Silver", "value": "silver"}]}
    created = state.create_property("contacts", body)
    assert created["name"] == "member_tier" and "hubspotDefined" not in created
    assert created["modificationMetadata"]["archivable"] is True
    with pytest.raises(HubSpotError) as exc:
        state.create_property("contacts", body)
    assert exc.value.status == 409
    updated = state.update_property("contacts", "member_tier", {
        "label": "Member tier", "options": body["options"] + [{"label": "Bronze",
                                                               "value": "bronze"}]})
    assert updated["label"] == "Member tier" and len(updated["options"]) == 3
    state.create_object("contacts", {"email": "t@x.com", "member_tier": "bronze"})
    state.archive_property("contacts", "member_tier")
    with pytest.raises(HubSpotError) as exc:
        state.get_property("contacts", "member_tier")
    assert exc.value.status == 404
    assert state.get_property("contacts", "member_tier", archived=True)["archived"] is True
    with pytest.raises(HubSpotError):
        state.create_object("contacts", {"email": "u@x.com", "member_tier": "gold"})
    with pytest.raises(HubSpotError):
        state.archive_property("contacts", "email")
    with pytest.raises(HubSpotError):
        state.update_property("contacts", "email", {"label": "E-mail"})


def test_property_create_validation(state):
    with pytest.raises(HubSpotError):
        state.create_property("contacts", {"name": "x", "label": "X"})
    with pytest.raises(HubSpotError):
        state.create_property("contacts", {"name": "x", "label": "X", "type": "string",
                                           "fieldType": "text", "groupName": "nogroup"})


def test_property_batch(state):
    status, body = state.batch_create_properties("companies", {"inputs": [
        {"name": "a1", "label": "A1", "type": "string", "fieldType": "text",
         "groupName": "companyinformation"},
        {"name": "name", "label": "dup", "type": "string", "fieldType": "text",
         "groupName": "companyinformation"}]})
    assert status == 207 and len(body["results"]) == 1 and body["numErrors"] == 1
    status, body = state.batch_read_properties("companies", {"inputs": [{"name": "a1"},
                                                                        {"name": "zz"}],
                                                             "archived": False})
    assert status == 207 and body["results"][0]["name"] == "a1"
    state.batch_archive_properties("companies", {"inputs": [{"name": "a1"}, {"name": "zz"}]})
    with pytest.raises(HubSpotError):
        state.get_property("companies", "a1")


def test_groups(state):
    assert [g["name"] for g in state.list_groups("contacts")["results"]] == [
        "contactinformation"]
    state.create_group("contacts", {"name": "sync", "label": "Sync", "displayOrder": 1})
    with pytest.raises(HubSpotError):
        state.create_group("contacts", {"name": "sync", "label": "Sync"})
    assert state.update_group("contacts", "sync", {"label": "Sync fields"})["label"] == \
        "Sync fields"
    state.create_property("contacts", {"name": "s1", "label": "S1", "type": "string",
                                       "fieldType": "text", "groupName": "sync"})
    state.archive_group("contacts", "sync")
    with pytest.raises(HubSpotError):
        state.get_group("contacts", "sync")


def test_pipelines(state):
    (pipe,) = state.list_pipelines("deals")["results"]
    assert pipe["id"] == "default"
    stages = [s["id"] for s in pipe["stages"]]
    assert stages == ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                      "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"]
    won = pipe["stages"][5]
    assert won["metadata"] == {"isClosed": "true", "probability": "1.0"}
    assert won["label"] == "Closed Won" and won["displayOrder"] == 5
    assert state.get_pipeline("deals", "default")["label"] == "Sales Pipeline"
    with pytest.raises(HubSpotError):
        state.get_pipeline("deals", "nope")


# ---------------------------------------------------------------- associations


@pytest.fixture
def pair(state):
    contact = state.create_object("contacts", {"email": "c@x.com"})["id"]
    company = state.create_object("companies", {"name": "Co"})["id"]
    return contact, company


def test_association_visible_from_both_sides(state, pair):
    contact, company = pair
    status, body = state.assoc_batch_create("contacts", "companies", {"inputs": [
        {"from": {"id": contact}, "to": {"id": company},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]})
    assert status == 201
    assert body["results"][0] == {"fromObjectTypeId": "0-1", "fromObjectId": int(contact),
                                  "toObjectTypeId": "0-2", "toObjectId": int(company),
                                  "labels": []}
    back = state.assoc_list("companies", company, "contacts")["results"]
    assert back == [{"toObjectId": int(contact), "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None}]}]


def test_primary_also_yields_unlabeled(state, pair):
    contact, company = pair
    pair_json = state.assoc_put_labels("contacts", contact, "companies", company, [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}])
    assert pair_json["labels"] == ["Primary"]
    types = state.assoc_list("contacts", contact, "companies")["results"][0]["associationTypes"]
    assert {t["typeId"] for t in types} == {1, 279}
    back = state.assoc_list("companies", company, "contacts")["results"][0]["associationTypes"]
    assert {t["typeId"] for t in back} == {2, 280}
    v3 = state.get_object("contacts", contact, associations=["companies"])["associations"]
    assert v3 == {"companies": {"results": [
        {"id": company, "type": "contact_to_company"},
        {"id": company, "type": "contact_to_company_unlabeled"}]}}


def test_association_type_ids(state):
    deal = state.create_object("deals", {"dealname": "d"})["id"]
    li = state.create_object("line_items", {"name": "l", "price": "1"})["id"]
    contact = state.create_object("contacts", {"email": "c@x.com"})["id"]
    company = state.create_object("companies", {"name": "Co"})["id"]
    state.assoc_batch_default("line_items", "deals", {"inputs": [
        {"from": {"id": li}, "to": {"id": deal}}]})
    state.assoc_batch_default("deals", "contacts", {"inputs": [
        {"from": {"id": deal}, "to": {"id": contact}}]})
    state.assoc_batch_default("deals", "companies", {"inputs": [
        {"from": {"id": deal}, "to": {"id": company}}]})

    def type_ids(f, fid, t):
        return {x["typeId"] for r in state.assoc_list(f, fid, t)["results"]
                for x in r["associationTypes"]}

    assert type_ids("line_items", li, "deals") == {20}
    assert type_ids("deals", deal, "line_items") == {19}
    assert type_ids("deals", deal, "contacts") == {3}
    assert type_ids("contacts", contact, "deals") == {4}
    assert type_ids("deals", deal, "companies") == {341}
    assert type_ids("companies", company, "deals") == {342}
    labels = state.assoc_labels("deals", "companies")["results"]
    assert {(x["typeId"], x["label"]) for x in labels} == {(341, None), (5, "Primary")}


def test_association_with_missing_record_is_per_input_error(state, pair):
    contact, company = pair
    status, body = state.assoc_batch_create("contacts", "companies", {"inputs": [
        {"from": {"id": contact}, "to": {"id": company},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]},
        {"from": {"id": contact}, "to": {"id": "987654"},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]})
    assert status == 207 and len(body["results"]) == 1 and body["numErrors"] == 1
    with pytest.raises(HubSpotError):
        state.assoc_put_default("contacts", contact, "companies", "987654")
    status, body = state.assoc_batch_create("contacts", "companies", {"inputs": [
        {"from": {"id": contact}, "to": {"id": company},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]})
    assert status == 207  # wrong type id for the pair


def test_association_read_and_archive(state, pair):
    contact, company = pair
    other = state.create_object("contacts", {"email": "o@x.com"})["id"]
    state.assoc_put_default("contacts", contact, "companies", company)
    status, body = state.assoc_batch_read("contacts", "companies", {"inputs": [
        {"id": contact}, {"id": other}]})
    assert status == 207
    assert body["results"][0]["from"] == {"id": contact}
    assert body["results"][0]["to"][0]["toObjectId"] == int(company)
    state.assoc_batch_archive("contacts", "companies", {"inputs": [
        {"from": {"id": contact}, "to": [{"id": company}]}]})
    assert state.assoc_list("companies", company, "contacts")["results"] == []
    state.assoc_put_labels("contacts", contact, "companies", company, [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}])
    state.assoc_batch_labels_archive("contacts", "companies", {"inputs": [
        {"from": {"id": contact}, "to": {"id": company},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]})
    types = state.assoc_list("contacts", contact, "companies")["results"][0]["associationTypes"]
    assert [t["typeId"] for t in types] == [279]
    state.assoc_delete("companies", company, "contacts", contact)
    assert state.assoc_list("contacts", contact, "companies")["results"] == []


def test_labels_archive_of_the_unlabeled_type_removes_the_whole_pair(state, pair):
    """HubSpot's v4 batch/labels/archive: "Deleting an unlabeled association will also
    delete all labeled associations between those two objects"; a label alone goes alone."""
    contact, company = pair
    primary = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]
    state.assoc_put_labels("contacts", contact, "companies", company, primary)
    state.assoc_batch_labels_archive("companies", "contacts", {"inputs": [
        {"from": {"id": company}, "to": {"id": contact},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 280}]}]})
    assert state.assoc_list("contacts", contact, "companies")["results"] == []
    assert state.assoc_list("companies", company, "contacts")["results"] == []


def test_create_with_associations_and_v3_list(state, pair):
    contact, company = pair
    deal = state.create_object("deals", {"dealname": "d"}, [
        {"to": {"id": company},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}]}])
    page = state.list_objects("companies", associations=["deals"])
    assoc = page["results"][0]["associations"]["deals"]["results"]
    assert {a["type"] for a in assoc} == {"company_to_deal", "company_to_deal_unlabeled"}
    assert {a["id"] for a in assoc} == {deal["id"]}
    with pytest.raises(HubSpotError):
        state.create_object("deals", {"dealname": "x"}, [
            {"to": {"id": "999999"},
             "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}]}])
    assert state.counts()["deals"] == 1


def test_archived_record_leaves_association_listings(state) -> None:
    deal = state.create_object("deals", {"dealname": "D"})
    kept = state.create_object("line_items", {"name": "kept", "price": "1", "quantity": "1"})
    gone = state.create_object("line_items", {"name": "gone", "price": "1", "quantity": "1"})
    for item in (kept, gone):
        state.assoc_put_default("line_items", item["id"], "deals", deal["id"])
    state.archive_object("line_items", gone["id"])
    listed = [r["toObjectId"]
              for r in state.assoc_list("deals", deal["id"], "line_items")["results"]]
    assert [str(t) for t in listed] == [kept["id"]]

"""Record rules, tested on the pure-Python state (no HTTP)."""

from __future__ import annotations

import json
import re

import pytest

from sandbox.hubspot.state import HubSpotError, HubSpotState, PropertyValuesError


def problems(err: PropertyValuesError) -> list[dict]:
    assert err.message.startswith("Property values were not valid: ")
    return json.loads(err.message[len("Property values were not valid: "):])


def test_create_shape_and_system_properties(state: HubSpotState):
    rec = state.create_object("contacts", {"email": "Ann@Example.COM", "firstname": "Ann"})
    assert set(rec) >= {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert rec["id"].isdigit() and rec["archived"] is False
    props = rec["properties"]
    assert props["email"] == "ann@example.com"
    assert props["hs_object_id"] == rec["id"]
    assert props["createdate"] == rec["createdAt"] == props["lastmodifieddate"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["createdAt"])
    other = state.create_object("companies", {"name": "Acme"})
    assert int(other["id"]) > int(rec["id"])
    assert "hs_lastmodifieddate" in other["properties"]
    assert "lastmodifieddate" not in other["properties"]


def test_contact_email_unique_case_insensitive(state):
    first = state.create_object("contacts", {"email": "dup@example.com"})
    with pytest.raises(HubSpotError) as exc:
        state.create_object("contacts", {"email": "DUP@example.com"})
    assert exc.value.status == 409 and exc.value.category == "CONFLICT"
    assert exc.value.message == f"Contact already exists. Existing ID: {first['id']}"
    # updating another contact to that email conflicts too
    second = state.create_object("contacts", {"email": "other@example.com"})
    with pytest.raises(HubSpotError) as exc:
        state.update_object("contacts", second["id"], {"email": "dup@EXAMPLE.com"})
    assert exc.value.status == 409


def test_companies_not_deduplicated_by_domain(state):
    a = state.create_object("companies", {"name": "A", "domain": "acme.com"})
    b = state.create_object("companies", {"name": "B", "domain": "acme.com"})
    assert a["id"] != b["id"]
    assert state.counts()["companies"] == 2


def test_invalid_email(state):
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("contacts", {"email": "not-an-email"})
    assert problems(exc.value)[0]["error"] == "INVALID_EMAIL"
    assert exc.value.status == 400 and exc.value.category == "VALIDATION_ERROR"


def test_invalid_option_message(state):
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("contacts", {"email": "a@b.com", "lifecyclestage": "vip"})
    (p,) = problems(exc.value)
    assert p["error"] == "INVALID_OPTION" and p["name"] == "lifecyclestage"
    assert p["isValid"] is False
    assert p["message"].startswith("vip was not one of the allowed options: [subscriber, lead,")
    body = exc.value.body()
    assert body["category"] == "VALIDATION_ERROR" and body["status"] == "error"


def test_all_problems_reported_together(state):
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("contacts", {"nope": "x", "createdate": "2020-01-01",
                                         "lifecyclestage": "bad"})
    codes = {p["name"]: p["error"] for p in problems(exc.value)}
    assert codes == {"nope": "PROPERTY_DOESNT_EXIST", "createdate": "READ_ONLY_VALUE",
                     "lifecyclestage": "INVALID_OPTION"}
    assert state.counts()["contacts"] == 0


def test_read_only_line_item_amount(state):
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("line_items", {"name": "x", "amount": "5"})
    assert problems(exc.value)[0]["error"] == "READ_ONLY_VALUE"


def test_numbers_canonical_and_invalid(state):
    deal = state.create_object("deals", {"dealname": "D", "amount": "1500.50"})
    assert deal["properties"]["amount"] == "1500.5"
    deal = state.create_object("deals", {"dealname": "D", "amount": 6000.00})
    assert deal["properties"]["amount"] == "6000"
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("deals", {"dealname": "D", "amount": "1,000"})
    assert problems(exc.value)[0]["name"] == "amount"


@pytest.mark.parametrize("value, stored", [
    ("2024-03-01", "2024-03-01"),
    ("1709251200000", "2024-03-01"),
    (1709251200000, "2024-03-01"),
])
def test_date_midnight_accepted(state, value, stored):
    state.create_property("contacts", {"name": "start_date", "label": "Start", "type": "date",
                                       "fieldType": "date", "groupName": "contactinformation"})
    rec = state.create_object("contacts", {"email": "d@x.com", "start_date": value})
    assert rec["properties"]["start_date"] == stored


@pytest.mark.parametrize("value", ["1709253000000", "2024-03-01T10:00:00Z", "tomorrow",
                                   "2024-02-30"])
def test_date_not_midnight_rejected(state, value):
    state.create_property("contacts", {"name": "start_date", "label": "Start", "type": "date",
                                       "fieldType": "date", "groupName": "contactinformation"})
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("contacts", {"email": "d@x.com", "start_date": value})
    assert problems(exc.value)[0]["error"] == "INVALID_DATE"


def test_not_midnight_message(state):
    state.create_property("contacts", {"name": "start_date", "label": "Start", "type": "date",
                                       "fieldType": "date", "groupName": "contactinformation"})
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("contacts", {"email": "d@x.com", "start_date": "1709253000000"})
    assert problems(exc.value)[0]["message"] == (
        "1709253000000 is at 00:30:00.000 UTC, not midnight!")


def test_datetime_iso_and_epoch(state):
    a = state.create_object("deals", {"dealname": "a", "closedate": "2024-03-01T10:20:30Z"})
    b = state.create_object("deals", {"dealname": "b", "closedate": "1709288430000"})
    assert a["properties"]["closedate"] == "2024-03-01T10:20:30.000Z"
    assert b["properties"]["closedate"] == "2024-03-01T10:20:30.000Z"
    with pytest.raises(PropertyValuesError):
        state.create_object("deals", {"dealname": "c", "closedate": "soon"})


def test_bool_property(state):
    state.create_property("contacts", {"name": "vip", "label": "VIP", "type": "bool",
                                       "fieldType": "booleancheckbox",
                                       "groupName": "contactinformation"})
    rec = state.create_object("contacts", {"email": "b@x.com", "vip": True})
    assert rec["properties"]["vip"] == "true"
    with pytest.raises(PropertyValuesError):
        state.create_object("contacts", {"email": "c@x.com", "vip": "maybe"})


def test_empty_string_clears_and_missing_omitted(state):
    rec = state.create_object("contacts", {"email": "e@x.com", "firstname": "E", "phone": ""})
    assert "phone" not in rec["properties"]
    upd = state.update_object("contacts", rec["id"], {"firstname": ""})
    assert "firstname" not in upd["properties"]
    assert upd["updatedAt"] >= rec["updatedAt"]
    assert upd["properties"]["lastmodifieddate"] == upd["updatedAt"]


def test_deal_stage_must_belong_to_pipeline(state):
    ok = state.create_object("deals", {"dealname": "x", "pipeline": "default",
                                       "dealstage": "closedwon"})
    assert ok["properties"]["dealstage"] == "closedwon"
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("deals", {"dealname": "x", "dealstage": "won-ish"})
    assert problems(exc.value)[0]["error"] == "INVALID_OPTION"
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("deals", {"dealname": "x", "pipeline": "other"})
    assert problems(exc.value)[0]["name"] == "pipeline"


def test_deal_type_options(state):
    rec = state.create_object("deals", {"dealname": "x", "dealtype": "newbusiness"})
    assert rec["properties"]["dealtype"] == "newbusiness"
    with pytest.raises(PropertyValuesError):
        state.create_object("deals", {"dealname": "x", "dealtype": "renewal"})


def test_line_item_inherits_from_product_and_computes_amount(state):
    product = state.create_object("products", {"name": "Desk", "price": "250.00",
                                               "hs_sku": "DSK", "recurringbillingfrequency":
                                               "monthly", "hs_recurring_billing_period": "P12M"})
    li = state.create_object("line_items", {"hs_product_id": product["id"], "quantity": "3"})
    props = li["properties"]
    assert props["name"] == "Desk" and props["price"] == "250" and props["hs_sku"] == "DSK"
    assert props["amount"] == "750"
    li2 = state.create_object("line_items", {"hs_product_id": product["id"], "quantity": "2",
                                             "price": "100", "name": "Discounted desk"})
    assert li2["properties"]["amount"] == "200"
    assert li2["properties"]["name"] == "Discounted desk"
    upd = state.update_object("line_items", li2["id"], {"quantity": "5"})
    assert upd["properties"]["amount"] == "500"


def test_line_item_price_not_negative_and_product_must_exist(state):
    with pytest.raises(PropertyValuesError) as exc:
        state.create_object("line_items", {"name": "x", "price": "-1"})
    assert problems(exc.value)[0]["name"] == "price"
    with pytest.raises(PropertyValuesError):
        state.create_object("line_items", {"name": "x", "hs_product_id": "999999"})


def test_product_enumerations(state):
    rec = state.create_object("products", {"name": "p", "hs_product_type": "service",
                                           "recurringbillingfrequency": "per_six_months"})
    assert rec["properties"]["hs_product_type"] == "service"
    with pytest.raises(PropertyValuesError):
        state.create_object("products", {"name": "p", "recurringbillingfrequency": "daily"})


def test_unique_custom_property_enforced_on_every_write(state):
    state.create_property("companies", {"name": "officernd_id", "label": "OfficeRnD id",
                                        "type": "string", "fieldType": "text",
                                        "groupName": "companyinformation",
                                        "hasUniqueValue": True})
    a = state.create_object("companies", {"name": "A", "officernd_id": "c1"})
    with pytest.raises(HubSpotError) as exc:
        state.create_object("companies", {"name": "B", "officernd_id": "c1"})
    assert exc.value.status == 409 and f"Existing ID: {a['id']}" in exc.value.message
    b = state.create_object("companies", {"name": "B", "officernd_id": "c2"})
    with pytest.raises(HubSpotError):
        state.update_object("companies", b["id"], {"officernd_id": "c1"})
    # the same record may keep its own value
    state.update_object("companies", a["id"], {"officernd_id": "c1", "name": "A2"})
    # archived records free their value
    state.archive_object("companies", a["id"])
    state.update_object("companies", b["id"], {"officernd_id": "c1"})


def test_read_by_id_property_and_not_found(state):
    rec = state.create_object("contacts", {"email": "jon@website.com"})
    got = state.get_object("contacts", "JON@website.com", id_property="email")
    assert got["id"] == rec["id"]
    with pytest.raises(HubSpotError) as exc:
        state.get_object("contacts", "nobody@website.com", id_property="email")
    assert exc.value.status == 404 and exc.value.category == "OBJECT_NOT_FOUND"
    with pytest.raises(HubSpotError) as exc:
        state.get_object("contacts", "424242")
    assert exc.value.body()["message"] == "Object not found.  objectId are usually numeric."


def test_type_ids_and_names_are_interchangeable(state):
    rec = state.create_object("0-1", {"email": "t@x.com"})
    assert state.get_object("contacts", rec["id"])["id"] == rec["id"]
    assert state.resolve_type("0-8") == "line_items"
    assert state.resolve_type("company") == "companies"
    with pytest.raises(HubSpotError):
        state.resolve_type("tickets")


def test_list_paging_properties_and_archived(state):
    ids = [state.create_object("contacts", {"email": f"p{i}@x.com", "city": "Paris"})["id"]
           for i in range(25)]
    state.archive_object("contacts", ids[3])
    page = state.list_objects("contacts", limit=10)
    assert len(page["results"]) == 10 and page["paging"]["next"]["after"]
    assert "city" not in page["results"][0]["properties"]
    seen = []
    after = None
    while True:
        page = state.list_objects("contacts", limit=10, after=after, properties=["city"])
        seen += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert seen == [i for i in ids if i != ids[3]]
    assert page["results"][0]["properties"]["city"] == "Paris"
    archived = state.list_objects("contacts", archived=True)
    assert [r["id"] for r in archived["results"]] == [ids[3]]
    assert archived["results"][0]["archived"] is True
    assert len(state.list_objects("contacts", limit=500)["results"]) == 24


def test_merge_contacts(state):
    a = state.create_object("contacts", {"email": "a@m.com", "firstname": "A"})
    b = state.create_object("contacts", {"email": "b@m.com", "lastname": "B"})
    comp = state.create_object("companies", {"name": "C"})
    state.assoc_put_default("contacts", b["id"], "companies", comp["id"])
    merged = state.merge("contacts", a["id"], b["id"])
    assert merged["id"] == a["id"]
    assert merged["properties"]["lastname"] == "B"
    assert merged["properties"]["email"] == "a@m.com"
    assert merged["properties"]["hs_merged_object_ids"] == b["id"]
    assert state.get_object("contacts", b["id"])["id"] == a["id"]
    assert state.get_object("contacts", "b@m.com", id_property="email")["id"] == a["id"]
    links = state.assoc_list("contacts", a["id"], "companies")["results"]
    assert [r["toObjectId"] for r in links] == [int(comp["id"])]
    with pytest.raises(HubSpotError):
        state.merge("products", a["id"], b["id"])


def test_archive_is_idempotent_and_hides_record(state):
    rec = state.create_object("deals", {"dealname": "gone"})
    state.archive_object("deals", rec["id"])
    state.archive_object("deals", rec["id"])
    with pytest.raises(HubSpotError):
        state.get_object("deals", rec["id"])
    assert state.get_object("deals", rec["id"], archived=True)["archived"] is True
    assert state.counts()["deals"] == 0


def test_seed_is_fast_and_indexed(state):
    n = state.seed("contacts", ({"email": f"s{i}@x.com"} for i in range(5000)))
    assert n == 5000 and state.counts()["contacts"] == 5000
    assert state.get_object("contacts", "s4999@x.com", id_property="email")

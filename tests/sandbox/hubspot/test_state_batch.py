"""Batch endpoints' rules on the pure-Python state."""

from __future__ import annotations

import pytest

from sandbox.hubspot.state import HubSpotError, HubSpotState


def unique_prop(state: HubSpotState, otype: str = "contacts", name: str = "ext_id") -> None:
    group = {"contacts": "contactinformation", "companies": "companyinformation",
             "deals": "dealinformation"}[otype]
    state.create_property(otype, {"name": name, "label": name, "type": "string",
                                  "fieldType": "text", "groupName": group,
                                  "hasUniqueValue": True})


def test_batch_limit_100(state):
    inputs = [{"properties": {"email": f"x{i}@x.com"}} for i in range(101)]
    with pytest.raises(HubSpotError) as exc:
        state.batch_create("contacts", {"inputs": inputs})
    assert exc.value.status == 400 and exc.value.category == "VALIDATION_ERROR"
    status, body = state.batch_create("contacts", {"inputs": inputs[:100]})
    assert status == 201 and len(body["results"]) == 100
    assert body["status"] == "COMPLETE" and body["startedAt"] and body["completedAt"]


def test_batch_create_all_or_nothing(state):
    existing = state.create_object("contacts", {"email": "taken@x.com"})
    inputs = [{"properties": {"email": "new1@x.com"}},
              {"properties": {"email": "taken@x.com"}},
              {"properties": {"email": "new2@x.com"}}]
    with pytest.raises(HubSpotError) as exc:
        state.batch_create("contacts", {"inputs": inputs})
    assert exc.value.status == 409
    assert exc.value.message == f"Contact already exists. Existing ID: {existing['id']}"
    assert state.counts()["contacts"] == 1
    # a validation problem in one input also fails the whole call
    with pytest.raises(HubSpotError) as exc:
        state.batch_create("contacts", {"inputs": [{"properties": {"email": "ok@x.com"}},
                                                   {"properties": {"lifecyclestage": "x"}}]})
    assert exc.value.status == 400
    assert state.counts()["contacts"] == 1


def test_batch_create_duplicate_within_call_all_or_nothing(state):
    with pytest.raises(HubSpotError):
        state.batch_create("contacts", {"inputs": [{"properties": {"email": "d@x.com"}},
                                                   {"properties": {"email": "D@x.com"}}]})
    assert state.counts()["contacts"] == 0


def test_batch_create_with_trace_ids_is_multi_status(state):
    existing = state.create_object("contacts", {"email": "taken@x.com"})
    inputs = [{"properties": {"email": "new1@x.com"}, "objectWriteTraceId": "t1"},
              {"properties": {"email": "taken@x.com"}, "objectWriteTraceId": "t2"},
              {"properties": {"email": "bad"}, "objectWriteTraceId": "t3"}]
    status, body = state.batch_create("contacts", {"inputs": inputs})
    assert status == 207 and body["numErrors"] == 2
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["t1"]
    by_trace = {e["context"]["objectWriteTraceId"][0]: e for e in body["errors"]}
    assert by_trace["t2"]["category"] == "CONFLICT"
    assert f"Existing ID: {existing['id']}" in by_trace["t2"]["message"]
    assert by_trace["t3"]["category"] == "VALIDATION_ERROR"
    assert state.counts()["contacts"] == 2


def test_batch_update_partial_and_context(state):
    a = state.create_object("contacts", {"email": "a@x.com"})
    inputs = [{"id": a["id"], "properties": {"firstname": "A"}, "objectWriteTraceId": "ta"},
              {"id": "999999", "properties": {"firstname": "B"}, "objectWriteTraceId": "tb"},
              {"id": a["id"] + "0", "properties": {"firstname": "C"}}]
    status, body = state.batch_update("contacts", {"inputs": inputs[:2]})
    assert status == 207
    assert body["results"][0]["properties"]["firstname"] == "A"
    (err,) = body["errors"]
    assert err["category"] == "OBJECT_NOT_FOUND"
    assert err["context"]["ids"] == ["999999"] and err["context"]["objectWriteTraceId"] == ["tb"]
    status, body = state.batch_update("contacts", {"inputs": inputs[:1]})
    assert status == 200 and "errors" not in body


def test_batch_update_validation_error_per_input(state):
    a = state.create_object("contacts", {"email": "a@x.com"})
    b = state.create_object("contacts", {"email": "b@x.com"})
    status, body = state.batch_update("contacts", {"inputs": [
        {"id": a["id"], "properties": {"lifecyclestage": "nope"}},
        {"id": b["id"], "properties": {"lifecyclestage": "lead"}}]})
    assert status == 207
    assert body["errors"][0]["context"]["ids"] == [a["id"]]
    assert "Property values were not valid" in body["errors"][0]["message"]
    assert state.get_object("contacts", b["id"], properties=["lifecyclestage"])[
        "properties"]["lifecyclestage"] == "lead"


def test_batch_update_refuses_email_id_property(state):
    state.create_object("contacts", {"email": "a@x.com"})
    with pytest.raises(HubSpotError) as exc:
        state.batch_update("contacts", {"inputs": [
            {"id": "a@x.com", "idProperty": "email", "properties": {"firstname": "A"}}]})
    assert exc.value.status == 400
    assert "Unable to perform update/upsert by non-unique 0-1 property email" in exc.value.message


def test_batch_update_by_unique_property_and_duplicates(state):
    unique_prop(state)
    a = state.create_object("contacts", {"email": "a@x.com", "ext_id": "e1"})
    status, body = state.batch_update("contacts", {"inputs": [
        {"id": "e1", "idProperty": "ext_id", "properties": {"firstname": "A"}}]})
    assert status == 200 and body["results"][0]["id"] == a["id"]
    with pytest.raises(HubSpotError) as exc:
        state.batch_update("contacts", {"inputs": [{"id": a["id"], "properties": {}},
                                                   {"id": a["id"], "properties": {}}]})
    assert "Duplicate IDs" in exc.value.message


def test_upsert_by_email(state):
    a = state.create_object("contacts", {"email": "a@x.com", "firstname": "Old"})
    status, body = state.batch_upsert("contacts", {"inputs": [
        {"id": "A@x.com", "idProperty": "email", "properties": {"firstname": "New"}},
        {"id": "b@x.com", "idProperty": "email", "properties": {"firstname": "B"}}]})
    assert status == 200
    new = {r["properties"]["email"]: r["new"] for r in body["results"]}
    assert new == {"a@x.com": False, "b@x.com": True}
    assert body["results"][0]["id"] == a["id"]
    assert body["results"][0]["properties"]["firstname"] == "New"


def test_upsert_by_custom_unique_property(state):
    unique_prop(state, "companies", "officernd_id")
    status, body = state.batch_upsert("companies", {"inputs": [
        {"id": "c1", "idProperty": "officernd_id", "properties": {"name": "One"}}]})
    assert status == 200 and body["results"][0]["new"] is True
    assert body["results"][0]["properties"]["officernd_id"] == "c1"
    first = body["results"][0]["id"]
    status, body = state.batch_upsert("companies", {"inputs": [
        {"id": "c1", "idProperty": "officernd_id", "properties": {"name": "Uno"}},
        {"id": "c2", "idProperty": "officernd_id", "properties": {"name": "Two"}}]})
    assert [r["new"] for r in body["results"]] == [False, True]
    assert body["results"][0]["id"] == first


def test_upsert_by_domain_for_companies(state):
    a = state.create_object("companies", {"name": "Acme", "domain": "acme.com"})
    status, body = state.batch_upsert("companies", {"inputs": [
        {"id": "acme.com", "idProperty": "domain", "properties": {"city": "Paris"}},
        {"id": "new.io", "idProperty": "domain", "properties": {"name": "New"}}]})
    assert status == 200
    assert body["results"][0]["id"] == a["id"] and body["results"][0]["new"] is False
    assert body["results"][1]["properties"]["domain"] == "new.io"


def test_upsert_rejects_non_unique_and_hs_object_id(state):
    for prop in ("firstname", "hs_object_id"):
        with pytest.raises(HubSpotError) as exc:
            state.batch_upsert("contacts", {"inputs": [
                {"id": "1", "idProperty": prop, "properties": {}}]})
        assert exc.value.status == 400
        assert f"non-unique 0-1 property {prop}" in exc.value.message
    with pytest.raises(HubSpotError):
        state.batch_upsert("companies", {"inputs": [
            {"id": "x", "idProperty": "name", "properties": {}}]})


def test_upsert_two_inputs_same_record_rejected(state):
    unique_prop(state)
    state.create_object("contacts", {"email": "a@x.com", "ext_id": "e1"})
    with pytest.raises(HubSpotError) as exc:
        state.batch_upsert("contacts", {"inputs": [
            {"id": "a@x.com", "idProperty": "email", "properties": {}},
            {"id": "A@X.com", "idProperty": "email", "properties": {}}]})
    assert exc.value.status == 400
    with pytest.raises(HubSpotError):
        state.batch_upsert("contacts", {"inputs": [
            {"id": "a@x.com", "idProperty": "email", "properties": {}},
            {"id": "e1", "idProperty": "ext_id", "properties": {}}]})


def test_upsert_partial_failure(state):
    unique_prop(state)
    status, body = state.batch_upsert("contacts", {"inputs": [
        {"id": "e1", "idProperty": "ext_id", "properties": {"email": "ok@x.com"},
         "objectWriteTraceId": "t1"},
        {"id": "e2", "idProperty": "ext_id", "properties": {"email": "bad-email"},
         "objectWriteTraceId": "t2"}]})
    assert status == 207
    assert len(body["results"]) == 1 and body["results"][0]["new"] is True
    err = body["errors"][0]
    assert err["context"] == {"ids": ["e2"], "objectWriteTraceId": ["t2"]}


def test_upsert_conflict_on_other_unique_value(state):
    unique_prop(state)
    existing = state.create_object("contacts", {"email": "a@x.com"})
    status, body = state.batch_upsert("contacts", {"inputs": [
        {"id": "e9", "idProperty": "ext_id", "properties": {"email": "a@x.com"}}]})
    assert status == 207
    assert body["errors"][0]["category"] == "CONFLICT"
    assert f"Existing ID: {existing['id']}" in body["errors"][0]["message"]


def test_batch_read(state):
    a = state.create_object("contacts", {"email": "a@x.com", "city": "Oslo"})
    status, body = state.batch_read("contacts", {"inputs": [{"id": a["id"]}],
                                                 "properties": ["city"]})
    assert status == 200 and body["results"][0]["properties"]["city"] == "Oslo"
    status, body = state.batch_read("contacts", {"inputs": [{"id": a["id"]}, {"id": "77"},
                                                            {"id": "78"}]})
    assert status == 207
    (err,) = body["errors"]
    assert err["category"] == "OBJECT_NOT_FOUND" and err["context"]["ids"] == ["77", "78"]
    assert "Could not get some CONTACT objects" in err["message"]
    status, body = state.batch_read("contacts", {"inputs": [{"id": "A@x.com"}],
                                                 "idProperty": "email", "properties": []})
    assert status == 200 and body["results"][0]["id"] == a["id"]


def test_batch_archive(state):
    a = state.create_object("deals", {"dealname": "a"})
    state.batch_archive("deals", {"inputs": [{"id": a["id"]}, {"id": "12345"}]})
    assert state.counts()["deals"] == 0


def test_refuse_hook_fails_one_input(state):
    def refuse(props):
        return "refused" if props.get("email") == "bad@example.com" else None

    status, body = state.batch_upsert("contacts", {"inputs": [
        {"id": "good@example.com", "idProperty": "email", "properties": {}},
        {"id": "bad@example.com", "idProperty": "email",
         "properties": {"email": "bad@example.com"}}]}, refuse=refuse)
    assert status == 207 and len(body["results"]) == 1
    assert body["errors"][0]["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["context"]["ids"] == ["bad@example.com"]


def test_batch_calls_scale_with_batch_not_store(state):
    import time

    state.seed("contacts", ({"email": f"u{i}@x.com"} for i in range(50_000)))
    started = time.perf_counter()
    for k in range(10):
        status, _ = state.batch_upsert("contacts", {"inputs": [
            {"id": f"u{i}@x.com", "idProperty": "email", "properties": {"firstname": "Z"}}
            for i in range(k * 100, k * 100 + 100)]})
        assert status == 200
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("body", [{}, {"inputs": "x"}, {"inputs": [1, 2]}])
def test_malformed_batch_bodies_are_400(state, body):
    for call in (state.batch_create, state.batch_update, state.batch_upsert, state.batch_read):
        with pytest.raises(HubSpotError) as exc:
            call("contacts", body)
        assert exc.value.status == 400
    with pytest.raises(HubSpotError):
        state.assoc_batch_create("contacts", "companies", body)


def test_malformed_create_associations_are_400(state):
    with pytest.raises(HubSpotError) as exc:
        state.create_object("deals", {"dealname": "x"}, [{"to": "1", "types": ["x"]}])
    assert exc.value.status == 400

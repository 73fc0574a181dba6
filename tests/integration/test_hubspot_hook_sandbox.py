"""HubSpotHook against the HubSpot sandbox: call counts, partial failures, faults,
properties and associations."""

from __future__ import annotations

import json

import pytest

from hubspot_sync.hubspot_client import HubSpotError, HubSpotHook
from hubspot_sync.transport import Backoff

ID_PROP = {"name": "officernd_id", "label": "OfficeRnD id", "type": "string",
           "fieldType": "text", "groupName": "officernd", "hasUniqueValue": True}


def _hook(sandbox, **kwargs) -> HubSpotHook:
    kwargs.setdefault("backoff", Backoff(initial=0.02, maximum=0.5))
    return HubSpotHook.from_url(sandbox.url, "sandbox-token", **kwargs)


def _contacts(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"m{i:04d}", "properties": {"email": f"member{i}@example.com",
                                                "firstname": f"First{i}", "lastname": "Doe"}}
            for i in range(start, start + n)]


def _upsert_calls(sandbox) -> int:
    return sum(r["count"] for r in sandbox.stats()["requests"]
               if r["route"].endswith("/batch/upsert"))


@pytest.fixture
def portal(hs_sandbox):
    """The sandbox with the custom unique id property on contacts and companies."""
    setup = _hook(hs_sandbox)
    for object_type in ("contacts", "companies"):
        setup.ensure_properties(object_type, [ID_PROP])
    return hs_sandbox


def test_upsert_250_contacts_takes_3_write_calls(portal):
    hook = _hook(portal)
    outcome = hook.batch_upsert("contacts", _contacts(250), "officernd_id")
    assert outcome.errors == [] and len(outcome.results) == 250
    assert all(r["new"] for r in outcome.results)
    assert hook.write_call_count == 3 == hook.call_count == _upsert_calls(portal)
    assert {r["objectWriteTraceId"] for r in outcome.results} == {f"m{i:04d}" for i in range(250)}
    assert portal.stats()["objects"]["contacts"] == 250

    again = hook.batch_upsert("contacts", _contacts(250), "officernd_id")
    assert not any(r["new"] for r in again.results) and len(again.results) == 250
    assert portal.stats()["objects"]["contacts"] == 250


def test_batch_read_by_id_property_and_by_email(portal):
    hook = _hook(portal)
    hook.batch_upsert("contacts", _contacts(120), "officernd_id")
    before = hook.call_count
    by_id = hook.batch_read("contacts", [f"m{i:04d}" for i in range(120)] + ["nope"],
                            ["email"], id_property="officernd_id")
    assert len(by_id) == 120 and hook.call_count - before == 2
    assert {r["properties"]["officernd_id"] for r in by_id} == {f"m{i:04d}" for i in range(120)}
    by_email = hook.batch_read("contacts", ["member3@example.com", "ghost@example.com"],
                               ["firstname"], id_property="email")
    assert [r["properties"]["firstname"] for r in by_email] == ["First3"]
    by_hubspot_id = hook.batch_read("contacts", [by_email[0]["id"]], ["email"])
    assert by_hubspot_id[0]["properties"]["email"] == "member3@example.com"


def test_refused_input_is_one_row_error_and_the_rest_is_written(portal):
    portal.configure_faults(refuse=[{"property": "email", "equals": "member7@example.com"}])
    hook = _hook(portal)
    outcome = hook.batch_upsert("contacts", _contacts(30), "officernd_id")
    assert len(outcome.results) == 29
    (error,) = outcome.errors
    assert error.trace_id == "m0007" and error.input_id == "m0007"
    assert error.category == "VALIDATION_ERROR" and "refused" in error.message
    assert portal.stats()["objects"]["contacts"] == 29

    created = hook.batch_create("companies", [
        {"properties": {"name": "Acme", "officernd_id": "c1"}, "objectWriteTraceId": "c1"},
        {"properties": {"name": "Bad", "officernd_id": "c2"}, "objectWriteTraceId": "c2"}])
    assert len(created.results) == 2  # refuse rule is on email only


def test_unknown_property_on_one_input_is_that_inputs_error(portal):
    hook = _hook(portal)
    inputs = _contacts(10)
    inputs[4]["properties"]["no_such_property"] = "x"  # refused for this input only
    outcome = hook.batch_upsert("contacts", inputs, "officernd_id")
    assert len(outcome.results) + len(outcome.errors) == 10
    assert [e.trace_id for e in outcome.errors] == ["m0004"]
    assert portal.stats()["objects"]["contacts"] == 9
    assert hook.write_call_count == _upsert_calls(portal)


def test_upsert_by_a_non_unique_property_fails_fast_with_hubspots_reason(portal):
    hook = _hook(portal)
    with pytest.raises(HubSpotError) as info:
        hook.batch_upsert("contacts", _contacts(100), "firstname")
    assert info.value.status == 400 and "non-unique" in info.value.message
    assert hook.write_call_count == 1 == _upsert_calls(portal)  # not 199 bisection calls
    assert portal.stats()["objects"]["contacts"] == 0


def test_a_truncated_2xx_is_an_unknown_outcome_for_every_input(portal):
    """The write was applied but its answer cut short: every input is reported failed with
    INVALID_RESPONSE (not retried blindly); the next upsert heals it without duplicates."""
    portal.configure_faults(truncate_rate=1.0, seed=3)
    hook = _hook(portal)
    outcome = hook.batch_upsert("contacts", _contacts(40), "officernd_id")
    assert outcome.results == [] and len(outcome.errors) == 40
    assert {e.category for e in outcome.errors} == {"INVALID_RESPONSE"}
    assert hook.write_call_count == 1 == _upsert_calls(portal)
    portal.configure_faults(truncate_rate=0)
    assert portal.stats()["objects"]["contacts"] == 40  # applied after all
    again = hook.batch_upsert("contacts", _contacts(40), "officernd_id")
    assert again.errors == [] and not any(r["new"] for r in again.results)
    assert portal.stats()["objects"]["contacts"] == 40


def test_injected_faults_are_retried_until_everything_is_written(portal):
    portal.configure_faults(error_rate=0.3, statuses=[500, 502, 503, 504], drop_rate=0.05,
                            seed=7)
    hook = _hook(portal, max_attempts=10, timeout=5)
    outcome = hook.batch_upsert("contacts", _contacts(500), "officernd_id")
    assert outcome.errors == [] and len(outcome.results) == 500
    assert hook.write_call_count > 5  # retries are counted
    assert hook.write_call_count == _upsert_calls(portal)
    portal.configure_faults(error_rate=0, drop_rate=0)
    assert portal.stats()["objects"]["contacts"] == 500
    assert len(list(hook.list_objects("contacts", ["email"]))) == 500


def test_ensure_properties_is_idempotent_and_never_touches_hubspot_defined(portal):
    hook = _hook(portal)
    before = hook.get_properties("contacts")
    definitions = [
        {"name": "email", "label": "Not yours", "type": "number", "fieldType": "number",
         "groupName": "officernd"},
        {"name": "officernd_status", "label": "OfficeRnD status", "type": "enumeration",
         "fieldType": "select", "groupName": "officernd_extra",
         "options": [{"label": "Active", "value": "active", "displayOrder": 0}]},
        ID_PROP]
    assert hook.ensure_properties("contacts", definitions) == ["officernd_status"]
    assert hook.ensure_properties("contacts", definitions) == []
    after = hook.get_properties("contacts")
    assert after["email"] == before["email"]
    assert after["officernd_status"]["groupName"] == "officernd_extra"
    assert "officernd_extra" in hook.get_property_groups("contacts")
    methods = {r["method"] for r in portal.stats()["requests"]
               if r["route"].startswith("/crm/v3/properties")}
    assert methods <= {"GET", "POST"}


def test_associations_create_read_archive(portal):
    hook = _hook(portal)
    companies = hook.batch_upsert("companies", [
        {"id": f"c{i}", "properties": {"name": f"Company {i}"}} for i in range(3)], "officernd_id")
    contacts = hook.batch_upsert("contacts", _contacts(6), "officernd_id")
    company_ids = [r["id"] for r in sorted(companies.results,
                                           key=lambda r: r["objectWriteTraceId"])]
    contact_ids = [r["id"] for r in sorted(contacts.results, key=lambda r: r["objectWriteTraceId"])]
    pairs = [(contact_ids[i], company_ids[i % 3]) for i in range(6)]
    outcome = hook.associate("contacts", "companies", pairs + [(contact_ids[0], "999999")], 279)
    assert len(outcome.results) == 6
    assert [e.input_id for e in outcome.errors] == [f"{contact_ids[0]}:999999"]

    read = hook.read_associations("contacts", "companies", contact_ids)
    assert read == {cid: [company_ids[i % 3]] for i, cid in enumerate(contact_ids)}
    back = hook.read_associations("companies", "contacts", company_ids[:1])
    assert sorted(back[company_ids[0]]) == sorted([contact_ids[0], contact_ids[3]])

    hook.archive_associations("contacts", "companies", pairs[:2])
    read = hook.read_associations("contacts", "companies", contact_ids[:3])
    assert read == {contact_ids[0]: [], contact_ids[1]: [], contact_ids[2]: [company_ids[2]]}


def test_association_types_and_label_archive(portal):
    """Typed reads show a primary pair as {1, 279}; archiving the primary label keeps the
    pair, archiving 150 whole pairs takes two calls of 100 inputs."""
    hook = _hook(portal)
    company = hook.batch_upsert("companies", [{"id": "c0", "properties": {"name": "C"}}],
                                "officernd_id").results[0]["id"]
    contacts = hook.batch_upsert("contacts", _contacts(150), "officernd_id")
    contact_ids = sorted(r["id"] for r in contacts.results)
    hook.associate("contacts", "companies", [(c, company) for c in contact_ids], 1)
    typed = hook.read_association_types("contacts", "companies", contact_ids[:2])
    assert typed == {c: {company: [1, 279]} for c in contact_ids[:2]}

    assert hook.archive_association_labels("contacts", "companies",
                                           [(contact_ids[0], company, 1)]) == 1
    assert hook.read_association_types("contacts", "companies", contact_ids[:1]) == {
        contact_ids[0]: {company: [279]}}
    before = hook.call_count
    assert hook.archive_associations("contacts", "companies",
                                     [(c, company) for c in contact_ids]) == 2
    assert hook.call_count - before == 2
    assert hook.read_associations("companies", "contacts", [company]) == {company: []}


def test_search_and_pipelines(portal):
    hook = _hook(portal)
    hook.batch_upsert("contacts", _contacts(450), "officernd_id")
    found = list(hook.search("contacts", [{"filters": [
        {"propertyName": "lastname", "operator": "EQ", "value": "Doe"}]}], ["email"]))
    assert len(found) == 450 and len({r["id"] for r in found}) == 450
    pipelines = hook.get_pipelines("deals")
    assert pipelines and all("stages" in p for p in pipelines)


def test_airflow_connection_default_path(portal, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(
        {"conn_type": "http", "host": portal.url, "password": "sandbox-token"}))
    hook = HubSpotHook()
    assert "email" in hook.get_properties("contacts")


def test_paces_on_rate_limit_headers_instead_of_hitting_429(monkeypatch):
    hubspot = pytest.importorskip("sandbox.hubspot")
    limits = pytest.importorskip("sandbox.hubspot.limits")
    monkeypatch.setattr(limits, "BURST_WINDOW_S", 1.0)  # a 1 s window keeps the test quick
    sandbox = hubspot.HubSpotSandbox(port=0, burst_limit=8).start()
    try:
        hook = _hook(sandbox, min_remaining=2)
        for _ in range(24):
            hook.get_properties("contacts")
        statuses = {r["status"] for r in sandbox.stats()["requests"]}
        assert statuses == {200}, sandbox.stats()
        assert hook.call_count == 24 and hook.slept_for_rate_limit > 0
    finally:
        sandbox.stop()


def test_daily_limit_is_not_retried():
    hubspot = pytest.importorskip("sandbox.hubspot")
    sandbox = hubspot.HubSpotSandbox(port=0, daily_limit=2).start()
    try:
        hook = _hook(sandbox)
        hook.get_properties("contacts")
        hook.get_properties("companies")
        with pytest.raises(HubSpotError) as info:
            hook.batch_upsert("contacts", _contacts(3), "officernd_id")
        assert info.value.status == 429 and info.value.category == "DAILY_LIMIT"
        assert hook.call_count == 3
    finally:
        sandbox.stop()

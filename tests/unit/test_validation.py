"""validate_rows: the suite generated from the mapping, per-record rejects (no files written;
Data Docs are tested in tests/integration/test_validation_docs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hubspot_sync.mapping import DEFAULT_MAPPINGS_DIR, EntityMapping, load_mapping
from hubspot_sync.validation import (
    REJECT_COLUMNS,
    RULES,
    ValidationOutcome,
    plan_checks,
    safe_name,
    validate_rows,
)

MEMBERS = load_mapping(DEFAULT_MAPPINGS_DIR / "members.yaml")
COMPANIES = load_mapping(DEFAULT_MAPPINGS_DIR / "companies.yaml")
EMAIL_DEF = {"email": {"name": "email", "type": "string", "fieldType": "text",
                       "hubspotDefined": True}}


def synthetic(properties: list[dict[str, Any]], **extra: Any) -> EntityMapping:
    return EntityMapping.model_validate({
        "entity": "things",
        "source": {"system": "officernd", "resource": "things"},
        "hubspot": {"object": "deals", "id_property": "officernd_id",
                    "match_on": extra.pop("match_on", [])},
        "properties": properties,
        **extra,
    })


def frame(mapping: EntityMapping, records: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as compute_delta hands them over: every mapped property, None when not given."""
    rows = []
    for record in map(dict, records):
        sid = record.pop("source_id")
        row = {"source_id": sid, "action": record.pop("action", "create"),
               "id_value": record.pop("id_value", mapping.source_id_value(sid)),
               "problems": record.pop("problems", [])}
        row.update({p.to: None for p in mapping.properties})
        row.update(record)
        rows.append(row)
    return pd.DataFrame(rows)


def run(mapping: EntityMapping, records: list[dict[str, Any]], definitions: dict | None = None,
        **kwargs: Any) -> ValidationOutcome:
    return validate_rows(frame(mapping, records), mapping, definitions or {},
                         run_id=kwargs.pop("run_id", "test_run"), **kwargs)


def rejects_of(outcome: ValidationOutcome, rule: str) -> dict[str, str]:
    """source_id -> reason for one rule."""
    sub = outcome.rejects[outcome.rejects["rule"] == rule]
    return dict(zip(sub["source_id"], sub["reason"], strict=True))


def test_members_email_required_and_valid_rows_survive() -> None:
    outcome = run(MEMBERS, [
        {"source_id": "m1", "email": "jane@example.com", "firstname": "Jane"},
        {"source_id": "m2", "email": "jane at example.com", "firstname": "Jane"},
        {"source_id": "m3", "email": None},
        {"source_id": "m4", "email": "   "},
        {"source_id": "m5", "email": "bob@example.co.uk\n"},
        {"source_id": "m6", "email": "ann@example.org"},
    ], EMAIL_DEF)
    assert outcome.valid["source_id"].tolist() == ["m1", "m6"]
    assert list(outcome.valid.columns) == ["source_id", "action", "id_value", "problems",
                                           *(p.to for p in MEMBERS.properties)]
    assert rejects_of(outcome, "email") == {
        "m2": "email 'jane at example.com' is not a valid email address",
        "m5": "email 'bob@example.co.uk\n' is not a valid email address",
    }
    assert rejects_of(outcome, "required") == {"m3": "email is required but empty",
                                               "m4": "email is required but empty"}
    assert outcome.rule_counts == {"email": 2, "required": 2}
    assert list(outcome.rejects.columns) == REJECT_COLUMNS
    row = outcome.rejects.set_index("source_id").loc["m2"]
    assert (row["rule"], row["property"], row["value"]) == ("email", "email", "jane at example.com")
    assert outcome.checked == 6 and outcome.rejected == 4
    assert outcome.rejected_ratio == pytest.approx(4 / 6)


def test_duplicates_first_occurrence_wins_and_names_the_keeper() -> None:
    outcome = run(MEMBERS, [
        {"source_id": "a1", "email": "john@x.com"},
        {"source_id": "b2", "email": "ann@x.com"},
        {"source_id": "c3", "email": "John@X.com"},  # HubSpot matches emails case-insensitively
        {"source_id": "d4", "email": "john@x.com"},
        {"source_id": "e5", "email": "zoe@x.com", "id_value": "b2"},  # id used by b2 already
    ], EMAIL_DEF)
    assert outcome.valid["source_id"].tolist() == ["a1", "b2"]
    unique = outcome.rejects[outcome.rejects["rule"] == "unique"]
    assert set(zip(unique["source_id"], unique["property"], strict=True)) == {
        ("c3", "email"), ("d4", "email"), ("e5", "officernd_id")}
    reasons = rejects_of(outcome, "unique")
    assert reasons["d4"] == ("email john@x.com is also used by a1, which keeps it; "
                             "HubSpot allows one contact per email")
    assert "John@X.com is also used by a1" in reasons["c3"]
    assert reasons["e5"] == ("officernd_id b2 is also used by b2, which keeps it; officernd_id "
                             "is HubSpot's unique id property: one contact per value")


def test_duplicate_source_ids_are_told_apart_by_position() -> None:
    # The same record twice: the first row is sent, the later copy is rejected, and a failure
    # of the later copy never takes the first one down with it.
    outcome = run(MEMBERS, [
        {"source_id": "m1", "email": "old@x.com"},
        {"source_id": "m1", "email": "not an email"},
    ], EMAIL_DEF)
    assert len(outcome.valid) == 1
    assert outcome.valid["email"].tolist() == ["old@x.com"]
    assert sorted(outcome.rejects["rule"]) == ["email", "unique"]
    assert "the first row keeps it" in rejects_of(outcome, "unique")["m1"]


def test_companies_domain_and_mapping_max_length() -> None:
    outcome = run(COMPANIES, [
        {"source_id": "c1", "name": "Acme", "domain": "acme.com"},
        {"source_id": "c2", "name": "Bad", "domain": "not a domain"},
        {"source_id": "c3", "name": "N" * 256, "domain": "n.io"},
        {"source_id": "c4", "name": "Acme again", "domain": "ACME.com"},
        {"source_id": "c5", "name": None, "domain": "five.example"},
    ])
    assert outcome.valid["source_id"].tolist() == ["c1", "c4"]
    assert rejects_of(outcome, "domain") == {
        "c2": "domain 'not a domain' is not a valid domain name"}
    assert rejects_of(outcome, "length") == {
        "c3": "name is 256 characters long; the mapping allows at most 255"}
    assert set(rejects_of(outcome, "required")) == {"c5"}


def test_shared_company_domains_are_not_rejected() -> None:
    # HubSpot does not deduplicate companies by domain: a shared domain is valid data (the
    # load step decides which company adopts an existing HubSpot record).
    records = [{"source_id": f"c{i}", "name": f"Tenant {i}", "domain": "shared-office.com"}
               for i in range(5)]
    outcome = run(COMPANIES, records)
    assert outcome.rejects.empty and len(outcome.valid) == 5
    assert not any(c.rule == "unique" and c.property == "domain"
                   for c in plan_checks(COMPANIES, {}))
    # the id property stays unique: HubSpot refuses two records with one officernd_id
    twice = run(COMPANIES, [*records[:2], {**records[2], "id_value": "c0"}])
    assert rejects_of(twice, "unique") == {"c2": (
        "officernd_id c0 is also used by c0, which keeps it; officernd_id is HubSpot's "
        "unique id property: one company per value")}


def test_unique_only_where_hubspot_refuses_the_write() -> None:
    mapping = synthetic([{"from": "code", "to": "deal_code"}, {"from": "ref", "to": "ref"}],
                        match_on=["ref"])
    definitions = {"deal_code": {"name": "deal_code", "type": "string", "hasUniqueValue": True},
                   "ref": {"name": "ref", "type": "string"}}
    unique = {c.property for c in plan_checks(mapping, definitions) if c.rule == "unique"}
    assert unique == {"officernd_id", "deal_code"}  # a match key alone is not unique
    outcome = run(mapping, [{"source_id": "u1", "deal_code": "D-1", "ref": "R"},
                            {"source_id": "u2", "deal_code": "d-1", "ref": "R"},
                            {"source_id": "u3", "deal_code": "D-1", "ref": "R"}], definitions)
    # custom unique values are compared exactly (only emails case-insensitively)
    assert rejects_of(outcome, "unique") == {"u3": (
        "deal_code D-1 is also used by u1, which keeps it; deal_code is a unique-valued "
        "property in HubSpot: one deal per value")}


def test_url_expectation() -> None:
    mapping = synthetic([{"from": "url", "to": "website", "expect": "url"}])
    outcome = run(mapping, [
        {"source_id": "u1", "website": "https://www.acme.com/about?x=1"},
        {"source_id": "u2", "website": "acme.io"},
        {"source_id": "u3", "website": "http://"},
        {"source_id": "u4", "website": "acme dot com"},
    ])
    assert outcome.valid["source_id"].tolist() == ["u1", "u2"]
    assert rejects_of(outcome, "url") == {"u3": "website 'http://' is not a valid URL",
                                          "u4": "website 'acme dot com' is not a valid URL"}


def test_hubspot_length_limit_applies_to_every_property() -> None:
    outcome = run(MEMBERS, [
        {"source_id": "m1", "email": "a@x.com", "address": "x" * 65_536},
        {"source_id": "m2", "email": "b@x.com", "address": "x" * 65_537},
    ], EMAIL_DEF)
    assert outcome.valid["source_id"].tolist() == ["m1"]
    assert rejects_of(outcome, "length") == {
        "m2": "address is 65537 characters long; HubSpot allows at most 65536"}
    assert len(outcome.rejects.iloc[0]["value"]) == 1_000  # the stored value is shortened


NUMBERS = synthetic([
    {"from": "price", "to": "price", "type": "number", "min": 0, "max": 1000},
    {"from": "seats", "to": "seats"},  # a number only because HubSpot's definition says so
])


def test_numbers_and_ranges() -> None:
    outcome = run(NUMBERS, [
        {"source_id": "p1", "price": "149.5", "seats": "3"},
        {"source_id": "p2", "price": "-5"},
        {"source_id": "p3", "price": "1000.01"},
        {"source_id": "p4", "price": "abc"},
        {"source_id": "p5", "price": None, "seats": "two"},
        {"source_id": "p6", "price": "0", "seats": "-2"},
        {"source_id": "p7", "price": "inf"},
    ], {"seats": {"name": "seats", "type": "number", "fieldType": "number"}})
    assert outcome.valid["source_id"].tolist() == ["p1", "p6"]
    assert rejects_of(outcome, "range") == {"p2": "price -5 is below the minimum 0",
                                            "p3": "price 1000.01 is above the maximum 1000"}
    assert rejects_of(outcome, "number") == {"p4": "price 'abc' is not a number",
                                             "p5": "seats 'two' is not a number",
                                             "p7": "price 'inf' is not a number"}


DATES = synthetic([
    {"from": "start", "to": "start_date", "type": "date"},
    {"from": "at", "to": "signed_at", "type": "datetime"},
])


def test_dates_and_datetimes() -> None:
    outcome = run(DATES, [
        {"source_id": "d1", "start_date": "2024-02-29", "signed_at": "2024-01-01T10:00:00.000Z"},
        {"source_id": "d2", "start_date": "2023-02-29"},
        {"source_id": "d3", "start_date": "24-1-5"},
        {"source_id": "d4", "start_date": "1850-01-01"},
        {"source_id": "d5", "signed_at": "2024-01-01T25:00:00Z"},
        {"source_id": "d6", "signed_at": "yesterday"},
        {"source_id": "d7", "signed_at": "2200-01-01T00:00:00Z"},
        {"source_id": "d8", "start_date": "2100-12-31", "signed_at": "1900-01-01T00:00:00+01:00"},
    ])
    assert outcome.valid["source_id"].tolist() == ["d1", "d8"]
    dates = outcome.rejects[outcome.rejects["rule"] == "date"]
    assert set(dates["source_id"]) == {"d2", "d3", "d5", "d6"}
    assert "start_date '2023-02-29' is not a real calendar date" in set(dates["reason"])
    assert "start_date '24-1-5' is not a date in the form YYYY-MM-DD" in set(dates["reason"])
    assert rejects_of(outcome, "date_range") == {
        "d4": "start_date '1850-01-01' is outside the accepted range 1900-01-01 .. 2100-12-31",
        "d7": "signed_at '2200-01-01T00:00:00Z' is outside the accepted range "
              "1900-01-01 .. 2100-12-31"}


ENUMS = synthetic([
    {"from": "stage", "to": "dealstage"},
    {"from": "kind", "to": "contract_type", "type": "enumeration", "options": ["fixed", "flex"]},
    {"from": "tags", "to": "amenities"},
    {"from": "vip", "to": "is_vip", "type": "bool"},
])
STAGE_OPTIONS = ["appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost"]
ENUM_DEFS = {
    "dealstage": {"name": "dealstage", "type": "enumeration", "fieldType": "select",
                  "options": [{"label": o.title(), "value": o} for o in STAGE_OPTIONS]},
    "amenities": {"name": "amenities", "type": "enumeration", "fieldType": "checkbox",
                  "options": [{"label": "Desk", "value": "desk"},
                              {"label": "Parking", "value": "parking"}]},
}


def test_enumerations_use_hubspot_options_then_the_mapping() -> None:
    outcome = run(ENUMS, [
        {"source_id": "e1", "dealstage": "closedwon", "contract_type": "flex",
         "amenities": "desk;parking"},
        {"source_id": "e2", "dealstage": "onhold"},
        {"source_id": "e3", "dealstage": "Closedwon"},  # labels and other cases are not values
        {"source_id": "e4", "contract_type": "monthly"},
        {"source_id": "e5", "amenities": "desk;pool"},
        {"source_id": "e6", "is_vip": "yes"},
        {"source_id": "e7", "is_vip": "false"},
    ], ENUM_DEFS)
    assert outcome.valid["source_id"].tolist() == ["e1", "e7"]
    reasons = rejects_of(outcome, "enum")
    assert reasons["e2"] == ("dealstage 'onhold' is not an option of HubSpot's dealstage "
                             "(appointmentscheduled, qualifiedtobuy, closedwon, closedlost)")
    assert set(reasons) == {"e2", "e3", "e4", "e5", "e6"}
    assert reasons["e6"] == "is_vip 'yes' is not an option of HubSpot's is_vip (true, false)"
    assert reasons["e4"] == ("contract_type 'monthly' is not an option of HubSpot's "
                             "contract_type (fixed, flex)")
    assert "'pool'" in reasons["e5"] and "'desk'" not in reasons["e5"].split("(")[0]


def test_value_map_problems_become_rejects() -> None:
    mapping = synthetic([{"from": "status", "to": "dealstage",
                          "value_map": {"won": "closedwon", "lost": "closedlost"}}])
    outcome = run(mapping, [
        {"source_id": "v1", "dealstage": "closedwon"},
        {"source_id": "v2", "dealstage": "onhold",
         "problems": [("dealstage", "onhold",
                       "'onhold' has no entry in the value map of dealstage")]},
    ], {"dealstage": ENUM_DEFS["dealstage"]})
    assert outcome.valid["source_id"].tolist() == ["v1"]
    vm = outcome.rejects[outcome.rejects["rule"] == "value_map"].iloc[0]
    assert (vm["source_id"], vm["property"], vm["value"]) == ("v2", "dealstage", "onhold")
    assert vm["reason"] == ("'onhold' has no entry in the value map of dealstage "
                            "(known values: won, lost)")
    assert outcome.rule_counts == {"enum": 1, "value_map": 1}


def test_structured_value_problems_become_rejects() -> None:
    mapping = synthetic([{"from": "address", "to": "address"}, {"from": "city", "to": "city"}])
    reason = 'address is an object ({"city": "Oslo"}); map one of its fields, e.g. address.city'
    outcome = run(mapping, [
        {"source_id": "s1", "address": "Main St 1", "city": "Oslo"},
        {"source_id": "s2", "address": '{"city": "Oslo"}', "city": "Oslo",
         "problems": [("address", '{"city": "Oslo"}', reason, "structured_value")]},
    ])
    assert outcome.valid["source_id"].tolist() == ["s1"]
    row = outcome.rejects.iloc[0]
    assert (row["source_id"], row["rule"], row["property"], row["value"], row["reason"]) == (
        "s2", "structured_value", "address", '{"city": "Oslo"}', reason)
    assert outcome.rule_counts == {"structured_value": 1}


def test_custom_expectations_from_yaml() -> None:
    mapping = synthetic(
        [{"from": "phone", "to": "phone"}, {"from": "seats", "to": "seats", "type": "number"}],
        expectations=[
            {"expectation": "expect_column_values_to_match_regex", "column": "phone",
             "kwargs": {"regex": r"^\+?[0-9 ()-]+$"},
             "reason": "phone {value!r} is not a phone number"},
            {"expectation": "expect_column_values_to_not_match_regex", "column": "phone",
             "kwargs": {"regex": "^000"}},
        ])
    outcome = run(mapping, [
        {"source_id": "k1", "phone": "+44 20 7946 0000"},
        {"source_id": "k2", "phone": "call me"},
        {"source_id": "k3", "phone": "000 123"},
    ])
    assert outcome.valid["source_id"].tolist() == ["k1"]
    assert rejects_of(outcome, "expect_column_values_to_match_regex") == {
        "k2": "phone 'call me' is not a phone number"}
    assert rejects_of(outcome, "expect_column_values_to_not_match_regex") == {
        "k3": "phone '000 123' fails expect_column_values_to_not_match_regex(regex='^000')"}


def test_aggregate_custom_expectation_fails_the_batch() -> None:
    mapping = synthetic([{"from": "seats", "to": "seats", "type": "number"}], expectations=[
        {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 1}}])
    outcome = run(mapping, [{"source_id": "t1", "seats": "1"}, {"source_id": "t2", "seats": "2"}])
    assert outcome.rejects.empty and outcome.rejected_ratio == 0
    assert outcome.batch_failures
    assert "expect_table_row_count_to_be_between" in outcome.batch_failures[0]
    assert outcome.exceeds(1.0)
    assert "batch failure" in outcome.summary()


def test_unknown_custom_expectation_is_a_clear_error() -> None:
    mapping = synthetic([{"from": "phone", "to": "phone"}], expectations=[
        {"expectation": "expect_column_values_to_be_phone", "column": "phone"}])
    with pytest.raises(ValueError, match="expect_column_values_to_be_phone"):
        run(mapping, [{"source_id": "k1", "phone": "1"}])
    mapping = synthetic([{"from": "phone", "to": "phone"}], expectations=[
        {"expectation": "expect_column_values_to_match_regex", "column": "mobile",
         "kwargs": {"regex": "x"}}])
    with pytest.raises(ValueError, match="'mobile'"):
        run(mapping, [{"source_id": "k1", "phone": "1"}])


def test_threshold_and_summary() -> None:
    records = [{"source_id": f"m{i}", "email": f"u{i}@x.com"} for i in range(20)]
    for i in (3, 5, 7, 9):
        records[i]["email"] = f"user{i} at x"
    records[11]["email"] = None
    outcome = run(MEMBERS, records, EMAIL_DEF)
    assert outcome.rejected_ratio == pytest.approx(0.25)
    assert outcome.exceeds(MEMBERS.max_rejected_ratio)  # 0.1
    assert not outcome.exceeds(0.25) and outcome.exceeds(0.2499)
    lines = outcome.summary().splitlines()
    assert lines[0] == "validate members: 20 checked, 15 valid, 5 rejected (25.0%)"
    assert lines[1] == "  email: 4 rejects"
    assert lines[2:5] == [f"    - m{i}: email 'user{i} at x' is not a valid email address"
                          for i in (3, 5, 7)]  # at most three examples
    assert lines[5] == "  required: 1 reject"
    assert lines[6] == "    - m11: email is required but empty"


def test_empty_rows() -> None:
    never = Path("/nonexistent/data_docs")
    bare = validate_rows(pd.DataFrame(), MEMBERS, {}, run_id="r", docs_dir=never)
    assert bare.valid.empty and bare.checked == 0 and bare.data_docs_path is None
    assert not never.exists()  # no GX run, no Data Docs
    rows = frame(MEMBERS, [{"source_id": "m1"}]).iloc[0:0]
    outcome = validate_rows(rows, MEMBERS, {}, run_id="r")
    assert outcome.valid.empty and outcome.rejects.empty
    assert list(outcome.valid.columns) == list(rows.columns)
    assert list(outcome.rejects.columns) == REJECT_COLUMNS
    assert outcome.rule_counts == {} and outcome.rejected_ratio == 0.0 and outcome.checked == 0
    assert not outcome.exceeds(0.0)
    assert outcome.summary().startswith("validate members: 0 checked")


def test_missing_property_column_is_an_error() -> None:
    rows = frame(MEMBERS, [{"source_id": "m1", "email": "a@x.com"}]).drop(columns=["phone"])
    with pytest.raises(ValueError, match="phone"):
        validate_rows(rows, MEMBERS, EMAIL_DEF, run_id="r")


def test_plan_is_generated_from_the_mapping() -> None:
    checks = plan_checks(MEMBERS, EMAIL_DEF)
    by_rule = {(c.rule, c.property) for c in checks}
    assert ("required", "email") in by_rule and ("email", "email") in by_rule
    assert ("unique", "email") in by_rule and ("unique", "officernd_id") in by_rule
    assert ("date", "officernd_start_date") in by_rule  # a custom property typed in the mapping
    assert ("date_range", "officernd_start_date") in by_rule
    assert {(c.rule, c.property) for c in checks if c.rule == "length"} == {
        ("length", p.to) for p in MEMBERS.properties}
    assert ("required", "firstname") not in by_rule
    assert {c.rule for c in checks} <= set(RULES)
    # A HubSpot definition wins over the mapping's fallback type.
    typed = plan_checks(MEMBERS, {**EMAIL_DEF, "officernd_start_date": {
        "name": "officernd_start_date", "type": "string", "fieldType": "text"}})
    assert not any(c.rule == "date" for c in typed)


def test_safe_name() -> None:
    assert safe_name("manual__2024-01-01T00:00:00+00:00") == "manual__2024-01-01T00_00_00_00_00"
    assert safe_name("../../etc") == "etc"
    assert safe_name("///") == "run"
